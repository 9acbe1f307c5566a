"""URL safety: the base URL check, path-parameter encoding and secret-free display URLs.

Hand-written rather than left to yarl/aiohttp because the rules are the SDK's, not HTTP's:

* a plain ``http://`` base URL is refused unless the host is ``localhost``, ``127.0.0.0/8`` or
  ``::1`` (the key would travel in clear text otherwise; ``*.localhost`` names are not trusted to
  resolve to loopback);
* every path parameter is percent-encoded with :func:`urllib.parse.quote` and ``safe=""`` so that
  ``/``, ``?``, ``#``, ``%``, spaces or unicode in an id can never change the path, and the dot
  segments ``.``/``..`` (which ``quote`` leaves alone and which URL normalisation would resolve)
  are rejected outright. The URL is then handed to aiohttp as ``yarl.URL(..., encoded=True)`` so
  nothing re-encodes or normalises it;
* URLs kept in exceptions and log lines redact sensitive query values (``password``...).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from yarl import URL

from scaledmail_async.errors import REDACTED, ConfigurationError, RequestValidationError

__all__ = [
    "LONE_SURROGATE",
    "SENSITIVE_QUERY_PARAMS",
    "build_query_string",
    "display_url",
    "encode_path_param",
    "validate_base_url",
]

#: Query parameters whose values never appear in logs or exceptions.
SENSITIVE_QUERY_PARAMS = frozenset({"password", "token", "api_key", "apikey", "key", "secret"})

#: The error of text UTF-8 cannot encode (path, query and body values alike).
LONE_SURROGATE = (
    "contains a lone surrogate (such as '\\ud800'), which is not valid Unicode text and cannot "
    "be sent as UTF-8: fix how the text was decoded"
)

#: Text that ``quote(text, safe="")`` returns unchanged (RFC 3986 unreserved characters): ids,
#: names and values like ``recPay0000000000A`` skip the quoting call (about 0.5 us each).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _is_loopback(host: str) -> bool:
    """Whether plain ``http://`` may go to ``host``: ``localhost`` itself, ``127.0.0.0/8`` or
    ``::1``. Not ``*.localhost``: RFC 6761 (section 6.3) says such names SHOULD resolve to
    loopback, but resolvers do not guarantee it (a hosts file, a DNS server or a search domain can
    send ``api.localhost`` anywhere), and the API key would then travel in clear text."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(base_url: str, *, name: str = "base_url") -> str:
    """Check ``base_url`` and return it without a trailing slash.

    ``name`` is where the value came from, for the messages (an argument, or an environment
    variable: ``"the SCALEDMAIL_BASE_URL environment variable"``).

    Raises :class:`~scaledmail_async.errors.ConfigurationError` (a ``ValueError``) for a
    non-HTTP(S) scheme, a plain ``http://`` URL to a host other than ``localhost``,
    ``127.0.0.0/8`` and ``::1``, credentials in the URL, or a query/fragment.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigurationError(
            f"{name} must be a non-empty string such as 'https://server.scaledmail.com/api/v1'"
        )
    try:
        url = URL(base_url.strip())
    except (TypeError, ValueError) as exc:  # yarl: a bad port, host or IDNA name
        raise ConfigurationError(f"{name} is not a valid URL ({exc})") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise ConfigurationError(f"{name} must be an absolute http(s) URL, got {base_url!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ConfigurationError(
            f"{name}: refusing plain http:// for non-loopback host {url.host!r}: the API key "
            "would be sent unencrypted. Use https:// (http:// is allowed only for localhost, "
            "127.0.0.0/8 and ::1, e.g. a local fake server; not for *.localhost names, which "
            "DNS or a hosts file may send elsewhere)."
        )
    if url.user is not None or url.password is not None:
        raise ConfigurationError(f"{name} must not contain credentials; pass api_key= instead")
    if url.query_string or url.fragment:
        raise ConfigurationError(f"{name} must not have a query string or fragment")
    return str(url).rstrip("/")


def encode_path_param(name: str, value: object, operation: str | None = None) -> str:
    """Validate one path parameter and percent-encode it as a single path segment.

    Raises :class:`RequestValidationError` (``field=name``) for a non-string, empty, blank,
    ``.`` or ``..`` value.
    """
    if type(value) is str and value not in ("", ".", "..") and _UNRESERVED.fullmatch(value):
        return value  # the common case: nothing to check further, nothing to encode
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RequestValidationError(
            f"must be a string, got {type(value).__name__}", field=name, operation=operation
        )
    text = str(value)
    if not text.strip():
        raise RequestValidationError("must not be empty or blank", field=name, operation=operation)
    if text in (".", ".."):
        raise RequestValidationError(
            f"{text!r} is not a valid id (it would be a path dot-segment)",
            field=name,
            operation=operation,
        )
    try:
        return quote(text, safe="")
    except UnicodeEncodeError:
        raise RequestValidationError(LONE_SURROGATE, field=name, operation=operation) from None


def build_query_string(query: Mapping[str, str], operation: str | None = None) -> str:
    """``a=1&b=x%20y`` (empty string for no parameters).

    Raises :class:`RequestValidationError` (``field`` = the parameter) for text UTF-8 cannot
    encode (a lone surrogate such as ``"\\ud800"``).
    """
    if not query:
        return ""
    parts = []
    for key, value in query.items():
        if type(key) is not str or type(value) is not str:
            try:
                return urlencode(query, quote_via=quote)
            except UnicodeEncodeError:
                raise RequestValidationError(
                    LONE_SURROGATE, field="params", operation=operation
                ) from None
        # Exactly what urlencode(query, quote_via=quote) makes of str keys and values.
        try:
            parts.append(_quote(key) + "=" + _quote(value))
        except UnicodeEncodeError:
            raise RequestValidationError(LONE_SURROGATE, field=key, operation=operation) from None
    return "&".join(parts)


def _quote(text: str) -> str:
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def display_url(base_url: str, path: str, query: Mapping[str, str] | None) -> str:
    """The request URL for logs and exceptions, with sensitive query values replaced by the
    redaction marker."""
    if not query:
        return base_url + path
    shown = {k: (REDACTED if k.lower() in SENSITIVE_QUERY_PARAMS else v) for k, v in query.items()}
    return base_url + path + "?" + urlencode(shown, quote_via=quote, safe="*")
