"""How the ``scaledmail`` CLI turns an exception into an exit code and a message: prose for a
person (:func:`describe_error`), or, when JSON output was asked for (``--json`` / ``--format
json``), one JSON object (:func:`error_json`, :func:`message_json`, :func:`dump_error`)::

    {"type": "NotFoundError", "status": 404, "message": "...", "request_id": "req_...",
     "exit_code": 4, "operation": "get_order_details", "hint": "...", ...}

``type`` is the exception class name, ``status`` the HTTP status (``null`` when no answer came),
``request_id`` the server's ``X-Request-Id`` (``null`` when it sent none); some errors add
``field`` (bad input), ``tag`` (outcome unknown), ``retry_after`` (rate limited), ``detail`` (the
server's own error text), ``method`` and ``url``.

Kept apart from the click/rich code so that it imports nothing optional and can be tested alone.
Every message names what failed and what to do next; none contains the API key (the SDK's
exceptions never carry it, and every function here also redacts it defensively).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from scaledmail_async.errors import (
    REDACTED,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    NotFoundError,
    OutcomeUnknownError,
    PaymentPendingError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ResponseDecodeError,
    ScaledmailError,
)

__all__ = [
    "EXIT_API_STATUS",
    "EXIT_AUTH",
    "EXIT_CODES_HELP",
    "EXIT_CONNECTION",
    "EXIT_FAILURE",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_OUTCOME_UNKNOWN",
    "EXIT_PAYMENT_PENDING",
    "EXIT_RATE_LIMITED",
    "EXIT_USAGE",
    "describe_error",
    "dump_error",
    "error_json",
    "exit_code_for",
    "message_json",
    "redact",
    "redact_json",
    "request_id_of",
]

EXIT_OK: Final = 0
#: Generic failure: the user declined a confirmation, or ``orders watch`` ended with orders that
#: are not active yet.
EXIT_FAILURE: Final = 1
#: Bad input: a usage error, malformed ``--body``, a rule of the API broken before sending.
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_NOT_FOUND: Final = 4
EXIT_RATE_LIMITED: Final = 5
EXIT_API_STATUS: Final = 6
EXIT_CONNECTION: Final = 7
EXIT_OUTCOME_UNKNOWN: Final = 8
EXIT_PAYMENT_PENDING: Final = 9

#: The exit codes as shown in ``scaledmail --help``.
EXIT_CODES_HELP: Final = (
    "Exit codes: 0 ok; 1 declined / not all orders active; 2 bad input; 3 authentication; "
    "4 not found; 5 rate limited; 6 other API error; 7 connection or timeout; "
    "8 outcome unknown (reconcile by tag); 9 payment pending (confirm it in the web app)."
)


def exit_code_for(exc: BaseException) -> int:
    """The CLI exit code for an exception raised by the SDK (or by the CLI's own input checks)."""
    # Order matters: subclasses before their bases.
    if isinstance(exc, RequestValidationError | ConfigurationError):
        return EXIT_USAGE
    if isinstance(exc, PaymentPendingError):
        return EXIT_PAYMENT_PENDING
    if isinstance(exc, OutcomeUnknownError):
        return EXIT_OUTCOME_UNKNOWN
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return EXIT_AUTH
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, RateLimitError):
        return EXIT_RATE_LIMITED
    if isinstance(exc, APIStatusError | ResponseDecodeError):
        return EXIT_API_STATUS
    if isinstance(exc, APIConnectionError | ClientClosedError | TimeoutError):
        return EXIT_CONNECTION
    if isinstance(exc, ScaledmailError):
        return EXIT_API_STATUS
    return EXIT_FAILURE


def _hint(exc: BaseException) -> str:
    if isinstance(exc, RequestValidationError):
        return "Fix the input and run the command again; nothing was sent."
    if isinstance(exc, ConfigurationError):
        return "Fix the setting (option or environment variable) and run again; nothing was sent."
    if isinstance(exc, PaymentPendingError):
        return (
            "The subscription WAS created but the card could not be charged: confirm the payment "
            "in the Scaledmail web app (Billing). Do not run the command again: that would "
            "create a second subscription."
        )
    if isinstance(exc, OutcomeUnknownError):
        tag = f" {exc.tag!r}" if exc.tag else ""
        return (
            "The purchase may or may not have happened. Do not repeat it blindly: reconcile first "
            f"by tag{tag} (`scaledmail orders get-orders`, then `scaledmail orders "
            "get-order-details ID` for each order, looking for the tag)."
        )
    if isinstance(exc, AuthenticationError):
        return (
            "Set SCALEDMAIL_API_KEY to a valid key (for a local fake server, also set "
            "SCALEDMAIL_BASE_URL to its URL)."
        )
    if isinstance(exc, PermissionDeniedError):
        return "The key may not do this: check --organization-id / SCALEDMAIL_ORGANIZATION_ID."
    if isinstance(exc, NotFoundError):
        return "Check the id and the organization (--organization-id)."
    if isinstance(exc, RateLimitError):
        wait = exc.retry_after
        when = f"in {wait:g} s" if wait is not None else "in a minute"
        return f"Rate limited even after retries: try again {when} (or raise --max-retries)."
    if isinstance(exc, APITimeoutError | TimeoutError):
        return "The request timed out: check the network, or raise --timeout."
    if isinstance(exc, APIConnectionError):
        return "Could not reach the API: check the network and --base-url / SCALEDMAIL_BASE_URL."
    if isinstance(exc, APIStatusError) and exc.status_code >= 500:
        return "The server failed; try again later."
    if isinstance(exc, ResponseDecodeError):
        return (
            "The API answered (HTTP 2xx) with a body the SDK could not read. If the command "
            "spends money, the purchase went through: do not run it again; find it with "
            "`scaledmail orders get-orders`."
        )
    return ""


def _what(exc: BaseException) -> str:
    if isinstance(exc, RequestValidationError):
        return "invalid input"
    if isinstance(exc, PaymentPendingError):
        return "payment pending"
    if isinstance(exc, OutcomeUnknownError):
        return "outcome unknown"
    if isinstance(exc, APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, APITimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, APIConnectionError):
        return "connection failed"
    if isinstance(exc, ResponseDecodeError):
        return "unreadable response"
    return type(exc).__name__


def _body_detail(exc: BaseException) -> str:
    if not isinstance(exc, APIStatusError):
        return ""
    body = exc.body
    if isinstance(body, dict):
        for key in ("error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value and value not in str(exc):
                return f" ({value})"
    return ""


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by the redaction marker."""
    if secret:
        return text.replace(secret, REDACTED)
    return text


def describe_error(
    exc: BaseException, *, operation: str | None = None, secret: str | None = None
) -> str:
    """A two-part message for stderr: what failed (with the operation), then what to do."""
    op = operation or getattr(exc, "operation", None)
    where = f"{op}: " if op else ""
    message = str(exc) or type(exc).__name__
    if op and message.startswith(f"{op}: "):
        message = message[len(op) + 2 :]
    what = _what(exc)
    if what.split()[0].lower() not in message.lower():
        message = f"{what}: {message}"
    text = f"error: {where}{message}{_body_detail(exc)}"
    hint = _hint(exc)
    if hint:
        text += f"\n{hint}"
    return redact(text, secret)


#: Response headers that carry the server's id of a request, most specific first.
_REQUEST_ID_HEADERS: Final = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")


def request_id_of(exc: BaseException) -> str | None:
    """The server's id of the request that failed (``X-Request-Id`` and the like), if it sent
    one."""
    headers = getattr(exc, "headers", None)
    if not isinstance(headers, Mapping):
        return None
    lowered = {str(name).lower(): value for name, value in headers.items()}
    for name in _REQUEST_ID_HEADERS:
        value = lowered.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def redact_json(value: Any, secret: str | None) -> Any:
    """``value`` (JSON data) with ``secret`` redacted in every string of it."""
    if isinstance(value, str):
        return redact(value, secret)
    if isinstance(value, Mapping):
        return {str(k): redact_json(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(v, secret) for v in value]
    return value


def _server_detail(exc: APIStatusError) -> str | None:
    body = exc.body
    if isinstance(body, Mapping):
        for key in ("error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def error_json(
    exc: BaseException,
    *,
    operation: str | None = None,
    exit_code: int | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """``exc`` as the JSON error object (see the module), ``secret`` redacted everywhere."""
    op = operation or getattr(exc, "operation", None)
    status: int | None = None
    if isinstance(exc, APIStatusError | ResponseDecodeError):
        status = exc.status_code
    data: dict[str, Any] = {
        "type": type(exc).__name__,
        "status": status,
        "message": str(exc) or type(exc).__name__,
        "request_id": request_id_of(exc),
        "exit_code": exit_code if exit_code is not None else exit_code_for(exc),
        "operation": op if isinstance(op, str) else None,
        "hint": _hint(exc) or None,
    }
    if isinstance(exc, RequestValidationError):
        data["field"] = exc.field
    if isinstance(exc, OutcomeUnknownError):
        data["tag"] = exc.tag
    if isinstance(exc, RateLimitError):
        data["retry_after"] = exc.retry_after
    if isinstance(exc, APIStatusError):
        data["detail"] = _server_detail(exc)
    if isinstance(exc, APIError):
        data["method"] = exc.method
        data["url"] = exc.url
    redacted: dict[str, Any] = redact_json(data, secret)
    return redacted


def message_json(
    message: str,
    *,
    kind: str,
    exit_code: int,
    operation: str | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """A failure the CLI found itself (no exception: a missing key, a missing journal...) as the
    JSON error object: ``kind`` is its ``type``; a prose ``message``'s ``error:`` prefix is
    dropped and its second paragraph becomes the ``hint``."""
    text = message.removeprefix("error: ").strip()
    first, _, rest = text.partition("\n")
    data: dict[str, Any] = {
        "type": kind,
        "status": None,
        "message": first.strip(),
        "request_id": None,
        "exit_code": exit_code,
        "operation": operation,
        "hint": rest.strip() or None,
    }
    redacted: dict[str, Any] = redact_json(data, secret)
    return redacted


def dump_error(data: Mapping[str, Any]) -> str:
    """A JSON error object on one line (one object per failure, easy to parse from stderr)."""
    return json.dumps(data, ensure_ascii=False, default=str)
