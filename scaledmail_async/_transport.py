"""Request execution over aiohttp: auth, timeouts, deadline, rate limiting, retries and errors.

Hand-written rather than using aiohttp-retry (https://github.com/inyutin/aiohttp_retry) because of
its traps (its ``aiohttp_retry/client.py``; issues #59, #57 and #95 there): it retries POSTs on 5xx,
does not release failed responses before retrying, ignores server wait hints under concurrency
and cannot tell a failure before sending from one after. The loop here
follows the Stainless retry loop (one request description, per-attempt logging, a server hint
over backoff) with three additions: the operation's safety class decides what may be retried,
the limiter is acquired *before* each attempt so its wait never counts against the per-attempt
timeout, and an overall deadline bounds limiter waits, attempts and sleeps (api-core's rule: no
sleep is started that would pass it).

Per-request cost (``bench/overhead.py``): everything fixed is built once per client (header
multidicts, the default ``ClientTimeout``; the client's own session carries the fixed headers as
session defaults), the ``trace_request_ctx`` dict is only built when the session has trace
hooks, and no task, ``asyncio.timeout`` context or extra clock read is added to an attempt:
aiohttp's own per-request timer enforces the attempt timeout.

What an odd response becomes (each check costs nothing on a normal response):

* An aiohttp or OS exception is never kept as it is when it holds the API key: aiohttp's
  ``ClientResponseError`` (a bad status line, a non-HTTP reply, headers over aiohttp's limits)
  keeps the request's ``request_info``, ``Authorization`` header included. The SDK error's
  ``__cause__`` (and ``OutcomeUnknownError.cause``) is a copy of the same type with that header
  redacted (:meth:`Transport.scrubbed`), raised outside the ``except`` block so that the raw
  original is not its ``__context__`` either.
* A body is read up to ``max_response_size`` bytes (default 16 MiB): a declared
  ``Content-Length`` over it is refused before reading, a chunked or compressed body is counted
  as it arrives. A 2xx over the cap raises :class:`ResponseTooLargeError` (saying that a
  spending call went through); an error status keeps its own error, with the body cut.
* An error body that is not JSON, or nested too deeply to parse (``RecursionError``), is kept as
  its raw text in :class:`APIStatusError`.
* ``aclose()`` interrupting a spending call after its request may have been written records a
  :class:`ClientClosedOutcomeUnknownError` for the client to raise
  (:meth:`Transport.take_interrupted`); interrupted while waiting for the limiter, a retry or a
  connection (a cancellation inside aiohttp's ``BaseConnector.connect``), it stays a plain
  :class:`ClientClosedError`.

Its size (about 900 lines): one send loop whose failure handling must keep the API key out of every
exception (``scrubbed``), cap and count response bodies, and tell a maybe-sent spend from a
provably unsent one; the retry *decision* is the pure ``_retry.after_status``/``after_failure``.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
import platform
import re
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from scaledmail_async._config import check_call_seconds
from scaledmail_async._lanes import Priority, current_priority
from scaledmail_async._limiter import (
    CRITICAL_GROUP,
    LimiterTimeout,
    PauseOnlyLimiter,
    RateLimiter,
)
from scaledmail_async._logging import logger
from scaledmail_async._metadata import LimiterState, limiter_state, request_id_from
from scaledmail_async._retry import (
    BackoffPolicy,
    after_failure,
    after_status,
    is_pre_send_failure,
    is_timeout,
    parse_retry_after,
)
from scaledmail_async._types import UNSET, Unset
from scaledmail_async._version import __version__
from scaledmail_async.errors import (
    REDACTED,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    ClientClosedOutcomeUnknownError,
    OutcomeUnknownError,
    PaymentPendingError,
    RateLimitError,
    RequestValidationError,
    ResponseTooLargeError,
    ScaledmailError,
    status_error_class,
)

if TYPE_CHECKING:  # OpenTelemetry (extra otel): imported only when a client enables it
    from scaledmail_async._otel import Instrumentation

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "RawResult",
    "Transport",
    "check_extra_headers",
    "default_user_agent",
]

#: The default cap on a response body, in bytes (16 MiB: the API's largest lists are far smaller).
DEFAULT_MAX_RESPONSE_SIZE: Final = 16 * 1024 * 1024

_PAYMENT_PENDING_TEXT: Final = "subscription created but unable to charge"
_MAX_DETAIL: Final = 300
_SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization"})
#: How deep an exception's ``__cause__``/``__context__`` chain is scrubbed (deeper links dropped).
_MAX_CHAIN: Final = 8
#: aiohttp's ``BaseConnector.connect``: a cancellation raised inside it came before any byte of
#: the request was written (waiting for a pooled connection, resolving, connecting).
_CONNECT_CODE: Any = getattr(getattr(aiohttp.BaseConnector, "connect", None), "__code__", None)
#: The switch of aiohttp's silent re-send, a private ``ClientSession`` attribute (aiohttp >= 3.11;
#: the re-send came with 3.10). Where a session has none, :func:`_refuse_resend` stops it.
_RESEND_SWITCH: Final = "_retry_connection"


async def _refuse_resend(session: aiohttp.ClientSession, ctx: Any, params: object) -> None:
    """A public trace hook run each time one request takes a connection (pooled or new).

    The SDK sends with ``allow_redirects=False``, so a second connection for the same request is
    aiohttp re-sending it after its connection dropped: refused before any byte is written, as
    the failure it follows. The SDK's loop decides then (a spend's outcome is unknown, a read is
    retried through the limiter and counted). A pooled connection the re-send had taken leaves
    the pool (aiohttp releases it unclosed; it ends when the server closes it).
    """
    if getattr(ctx, "connected", False):
        raise aiohttp.ServerDisconnectedError(
            "Server disconnected (aiohttp's own re-send refused: the SDK does all retrying)"
        )
    ctx.connected = True


def _stop_silent_resend(session: aiohttp.ClientSession) -> None:
    """Stop aiohttp re-sending a request by itself on the client's own session.

    aiohttp re-sends a GET, PUT, DELETE... once when its connection drops (never a POST: every
    spend of the spec is one): a hidden attempt the limiter never granted, that ``max_retries``
    does not count and no log shows, and a second write of a ``pre-send-only`` ``request()``.
    The private switch where it exists (free); else a trace hook (public API) that refuses it.
    """
    if hasattr(session, _RESEND_SWITCH):
        setattr(session, _RESEND_SWITCH, False)
        return
    guard = aiohttp.TraceConfig()
    guard.on_connection_reuseconn.append(_refuse_resend)
    guard.on_connection_create_start.append(_refuse_resend)
    guard.freeze()
    session.trace_configs.append(guard)  # read per request: the session is not used yet


def _cancelled_while_connecting(exc: BaseException) -> bool:
    """Whether the cancellation ``exc`` was raised inside aiohttp's ``BaseConnector.connect``.

    Read from the frames of its traceback, only when a call is cancelled. ``False`` when unsure
    (a connector that does not go through ``BaseConnector.connect``): the request may have been
    written.
    """
    if _CONNECT_CODE is None:
        return False  # pragma: no cover - another aiohttp
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is _CONNECT_CODE:
            return True
        tb = tb.tb_next
    return False


def default_user_agent(suffix: str | None = None) -> str:
    """``scaledmail-async/<version> python/<x.y.z> aiohttp/<version>`` plus ``suffix``."""
    ua = (
        f"scaledmail-async/{__version__} python/{platform.python_version()} "
        f"aiohttp/{aiohttp.__version__}"
    )
    return f"{ua} {suffix}" if suffix else ua


class RawResult:
    """What one successful call produced, before decoding."""

    __slots__ = ("_transport", "body", "elapsed", "headers", "limiter_wait", "retries", "status")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        retries: int,
        limiter_wait: float,
        elapsed: float,
        transport: Transport | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.retries = retries
        self.limiter_wait = limiter_wait
        self.elapsed = elapsed
        self._transport = transport

    def limiter_state(self) -> LimiterState | None:
        """The client's limiter now (read only when asked: ``with_raw_response`` answers)."""
        transport = self._transport
        if transport is None:
            return None
        return limiter_state(transport.limiter, transport._clock, transport._wall_clock)


class _CallStats:
    """What :meth:`Transport.send` reports on an error: attempts and limiter wait so far."""

    __slots__ = ("attempt", "limiter_wait")

    def __init__(self) -> None:
        self.attempt = 0
        self.limiter_wait = 0.0


#: An RFC 9110 token: what a header name may be.
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

#: Headers ``extra_headers=`` may not set: the client's credentials and what aiohttp computes.
_RESERVED_HEADERS: Final = frozenset(
    {"authorization", "host", "content-length", "transfer-encoding", "connection"}
)


def check_extra_headers(
    extra_headers: object, operation: str | None = None
) -> Mapping[str, str] | None:
    """``extra_headers=`` of a call, checked before anything is sent: a mapping of header names
    to string values, without CR/LF, not one of the headers the client owns (``Authorization``
    carries the API key and cannot be replaced this way)."""
    if extra_headers is None:
        return None
    if not isinstance(extra_headers, Mapping):
        raise RequestValidationError(
            f"must be a mapping of header names to strings, got {type(extra_headers).__name__}",
            field="extra_headers",
            operation=operation,
        )
    checked: dict[str, str] = {}
    for name, value in extra_headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise RequestValidationError(
                f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~)",
                field="extra_headers",
                operation=operation,
            )
        if name.lower() in _RESERVED_HEADERS:
            raise RequestValidationError(
                f"{name} cannot be set per call: the client sends its own "
                + ("API key" if name.lower() == "authorization" else "value"),
                field=f"extra_headers[{name!r}]",
                operation=operation,
            )
        if not isinstance(value, str) or any(ch in value for ch in "\r\n\x00"):
            raise RequestValidationError(
                "must be a string without CR, LF or NUL characters",
                field=f"extra_headers[{name!r}]",
                operation=operation,
            )
        checked[name] = value
    return checked


class Transport:
    """Sends requests for one client. Not public: use :class:`ScaledmailClient`."""

    def __init__(
        self,
        *,
        api_key: str,
        user_agent: str,
        timeout: float | None,
        connect_timeout: float,
        max_retries: int,
        backoff: BackoffPolicy,
        max_retry_after: float,
        limiter: RateLimiter | None,
        session: aiohttp.ClientSession | None,
        trace_configs: Iterable[aiohttp.TraceConfig] | None,
        sleep: Callable[[float], Awaitable[Any]],
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
        priority: Priority = "interactive",
    ) -> None:
        # The settings were checked by ScaledmailClient (``_check_settings``), the only maker.
        self._api_key = api_key
        self._headers: dict[str, str] = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": user_agent,
            "Accept": "application/json",
        }
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        # What each request passes as ``headers=``, built once. The client's own session carries
        # the fixed headers as its defaults (aiohttp then only copies them, instead of also
        # merging a per-request dict: about 1.5 us per request); a session passed in gets them
        # per request, as read-only multidicts (which aiohttp takes without converting them).
        self._passed_headers = CIMultiDictProxy(CIMultiDict(self._headers))
        self._passed_json_headers = CIMultiDictProxy(CIMultiDict(self._json_headers))
        self._owned_json_headers = CIMultiDictProxy(
            CIMultiDict({"Content-Type": "application/json"})
        )
        self._connect_timeout = connect_timeout
        self._default_timeout = self._client_timeout(timeout)
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {timeout: self._default_timeout}
        self.max_retries = max_retries
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self.limiter = limiter
        #: Whether the limiter serves priority lanes (its ``acquire`` takes ``priority=``).
        self._lanes = (
            limiter is not None and "priority" in inspect.signature(limiter.acquire).parameters
        )
        self._session = session
        self._owns_session = session is None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._trace_configs = list(trace_configs) if trace_configs else None
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        #: The largest response body read, in bytes (``None``: no limit).
        self.max_response_size = max_response_size
        #: The lane of calls made outside any ``with priority(...)`` block.
        self.priority: Priority = priority
        #: Spending calls that ``aclose()`` interrupted after their request may have been written,
        #: by task: the error the client raises instead of a plain ClientClosedError.
        self._interrupted: weakref.WeakKeyDictionary[
            asyncio.Task[Any], ClientClosedOutcomeUnknownError
        ] = weakref.WeakKeyDictionary()
        self.closed = False
        #: OpenTelemetry hooks (``scaledmail_async._otel``), ``None`` unless a client enables it.
        self.otel: Instrumentation | None = None

    @property
    def api_key(self) -> str:
        """The API key (for the purchase journal's key hash and fingerprints; never shown)."""
        return self._api_key

    async def sleep(self, seconds: float) -> None:
        """The injected ``asyncio.sleep``."""
        await self._sleep(seconds)

    # -- session --------------------------------------------------------------------------

    def _client_timeout(self, timeout: float | None) -> aiohttp.ClientTimeout:
        if timeout is None:
            return aiohttp.ClientTimeout(total=None, connect=self._connect_timeout)
        return aiohttp.ClientTimeout(total=timeout, connect=min(self._connect_timeout, timeout))

    def get_session(self) -> aiohttp.ClientSession:
        """The session to use now; an owned one is created on first use in the running loop."""
        session = self._session
        if self.closed:
            raise ClientClosedError("the ScaledmailClient is closed; create a new client")
        if session is None:
            loop = asyncio.get_running_loop()
            session = aiohttp.ClientSession(
                headers=self._headers, trace_configs=self._trace_configs
            )
            _stop_silent_resend(session)  # the SDK's own loop does all retrying
            self._session = session
            self._session_loop = loop
            return session
        if self._owns_session:
            if self._session_loop is not asyncio.get_running_loop():
                raise ScaledmailError(
                    "this ScaledmailClient's aiohttp session was created in another event loop; "
                    "create (and close) one client per event loop"
                )
        elif session.closed:
            raise ClientClosedError("the aiohttp session passed to ScaledmailClient is closed")
        return session

    def owned_session_open(self) -> bool:
        """Whether the client's own session was created and is not closed yet."""
        session = self._session
        return self._owns_session and session is not None and not session.closed

    async def aclose(self) -> None:
        """Close the owned session (a session passed in is left open)."""
        self.closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    # -- helpers --------------------------------------------------------------------------

    def redact(self, value: Any) -> Any:
        """``value`` with every occurrence of the API key replaced (strings, lists, dicts)."""
        key = self._api_key
        if isinstance(value, str):
            return value.replace(key, REDACTED) if key in value else value
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        if isinstance(value, dict):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        return value

    def _attempt_timeout(self, timeout: float | Unset | None) -> aiohttp.ClientTimeout:
        """The per-attempt timeout of a call: ``UNSET`` the client's, ``None`` none."""
        if timeout is UNSET:
            return self._default_timeout
        found = self._timeouts.get(timeout)
        if found is None:
            if timeout is not None:
                check_call_seconds("timeout", timeout, None)  # the client checked it already
            found = self._client_timeout(timeout)
            if len(self._timeouts) < 32:
                self._timeouts[timeout] = found
        return found

    def _decode_error_body(self, body: bytes, *, cut: bool = False) -> Any:
        """An error status's body: its JSON (redacted), else its raw text (redacted).

        JSON nested too deeply to parse or walk (``RecursionError``) stays raw text; a body cut
        at ``max_response_size`` (``cut``) is raw text with a note.
        """
        text = body.decode("utf-8", errors="replace")
        if cut:
            return self.redact(text) + (
                f" [cut: the body is larger than max_response_size={self.max_response_size} bytes]"
            )
        if not text.strip():
            return ""
        try:
            return self.redact(json.loads(text))
        except (ValueError, RecursionError):
            return self.redact(text)

    @staticmethod
    def _detail(body: Any) -> str:
        try:
            if isinstance(body, Mapping):
                parts = [str(body[k]) for k in ("error", "message") if body.get(k)]
                if parts:
                    return " / ".join(dict.fromkeys(parts))
            text = body if isinstance(body, str) else json.dumps(body, default=str)
        except (ValueError, TypeError, RecursionError):
            text = f"(a {type(body).__name__} body too deeply nested to show)"
        text = " ".join(text.split())
        return text[:_MAX_DETAIL] + ("..." if len(text) > _MAX_DETAIL else "")

    # -- what may be kept of an aiohttp exception -------------------------------------------

    def _safe_headers(self, headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
        safe: CIMultiDict[str] = CIMultiDict()
        for name, value in headers.items():
            if name.lower() in _SECRET_HEADERS:
                value = "Bearer " + REDACTED if value.startswith("Bearer ") else REDACTED
            else:
                value = self.redact(value)
            safe.add(name, value)
        return CIMultiDictProxy(safe)

    def _holds_key(self, exc: BaseException) -> bool:
        key = self._api_key
        try:
            return key in repr(exc.args) or key in repr(vars(exc))
        except Exception:  # an odd repr: do not trust it
            return True

    def _clone(self, exc: BaseException) -> BaseException:
        """A copy of ``exc`` without the key (chain and traceback are set by the caller)."""
        if isinstance(exc, aiohttp.ClientResponseError):
            info = exc.request_info
            safe_info = (
                None
                if info is None
                else aiohttp.RequestInfo(
                    info.url, info.method, self._safe_headers(info.headers), info.real_url
                )
            )
            headers = None if exc.headers is None else self._safe_headers(exc.headers)
            message = self.redact(exc.message)
            try:
                clone = copy.copy(exc)
            except Exception:
                clone = aiohttp.ClientResponseError(
                    safe_info, (), status=exc.status, message=message, headers=headers
                )
            # The SDK never follows redirects: ``history`` is empty; dropped all the same.
            clone.request_info = safe_info
            clone.history = ()
            clone.args = (safe_info, ())
            clone.message = message
            clone.headers = headers
            if not self._holds_key(clone):
                return clone
        else:
            try:
                other = copy.copy(exc)
                other.args = tuple(self.redact(a) for a in exc.args)
                for name, value in vars(exc).items():
                    setattr(other, name, self.redact(value))
            except Exception:
                pass
            else:
                if not self._holds_key(other):
                    return other
        try:
            text = str(exc)
        except Exception:
            text = ""
        return RuntimeError(self.redact(f"{type(exc).__name__}: {text}"))

    def scrubbed(self, exc: BaseException, _depth: int = 0) -> BaseException:
        """``exc`` made safe to keep in an SDK error: nothing reachable from it holds the API key.

        ``exc`` itself when neither it nor its chain (``__cause__``, ``__context__``) holds the
        key, else a copy of the same type: a ``ClientResponseError``'s ``request_info`` rebuilt
        with the ``Authorization`` header redacted (its ``args`` too, ``history`` dropped), any
        other exception's string arguments and attributes redacted; its chain scrubbed the same
        way, its traceback kept.
        """
        cause, context = exc.__cause__, exc.__context__
        deeper = _depth < _MAX_CHAIN
        new_cause = self.scrubbed(cause, _depth + 1) if cause is not None and deeper else None
        if context is cause:
            new_context = new_cause
        else:
            new_context = (
                self.scrubbed(context, _depth + 1) if context is not None and deeper else None
            )
        if (
            new_cause is cause
            and new_context is context
            and not isinstance(exc, aiohttp.ClientResponseError)
            and not self._holds_key(exc)
        ):
            return exc
        clone = self._clone(exc)
        clone.__cause__ = new_cause
        clone.__context__ = new_context
        clone.__suppress_context__ = exc.__suppress_context__
        return clone.with_traceback(exc.__traceback__)

    def take_interrupted(
        self, task: asyncio.Task[Any] | None
    ) -> ClientClosedOutcomeUnknownError | None:
        """The error of ``task``'s spending call if ``aclose()`` interrupted it after its request
        may have been written (once: it is forgotten), else ``None``."""
        if task is None:
            return None
        return self._interrupted.pop(task, None)

    # -- reading ----------------------------------------------------------------------------

    async def _read_body(
        self, resp: aiohttp.ClientResponse, success: bool
    ) -> tuple[bytes, int | None]:
        """The body, read up to ``max_response_size`` bytes: ``(body, None)`` when it fits.

        Over the cap it returns ``(b"", size)`` for a 2xx, ``(the first max_response_size bytes,
        size)`` for an error status (whose status still decides what happens), and closes the
        connection (the rest is never read). ``size`` is the declared ``Content-Length``, or the
        bytes received (after decompression) when reading stopped. A 2xx whose declared length
        is over the cap is refused before anything is read.
        """
        cap = self.max_response_size
        if cap is None or resp.method == "HEAD":  # a HEAD's Content-Length is of a body not sent
            return await resp.read(), None
        length = resp.content_length
        if length is not None and length <= cap and "Content-Encoding" not in resp.headers:
            return await resp.read(), None  # the common case: aiohttp reads exactly ``length``
        if length is not None and length > cap and success:
            resp.close()
            return b"", length
        buf = bytearray()
        content = resp.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return bytes(buf), None
                buf += chunk
                if len(buf) > cap:
                    resp.close()
                    size = length if length is not None and length > len(buf) else len(buf)
                    return (b"" if success else bytes(buf[:cap])), size
        except BaseException:
            resp.close()
            raise

    def _too_large(
        self, operation: str, method: str, shown_url: str, status: int, size: int, safe: bool
    ) -> ResponseTooLargeError:
        cap = self.max_response_size
        assert cap is not None
        message = (
            f"{operation}: HTTP {status} from {method} {shown_url}: the response body (at least "
            f"{size} bytes) is larger than max_response_size={cap} bytes, so it was not read "
            "(pass ScaledmailClient(max_response_size=...) if such bodies are expected)"
        )
        if not safe:
            message += (
                ". The server accepted the request (HTTP 2xx): it went through (a purchase was "
                "made). Do not retry it; find the order by its tag with get_orders / "
                "get_order_details"
            )
        return ResponseTooLargeError(
            message,
            method=method,
            url=shown_url,
            status_code=status,
            limit=cap,
            size=size,
            operation=operation,
        )

    def _status_error(
        self,
        operation: str,
        method: str,
        shown_url: str,
        status: int,
        reason: str | None,
        headers: Mapping[str, str],
        body: Any,
    ) -> APIStatusError:
        detail = self._detail(body)
        safe_headers = {k: self.redact(v) for k, v in headers.items()}
        cls = status_error_class(status)
        hint = ""
        if 300 <= status < 400:
            location = self.redact(headers.get("Location", "?"))
            hint = (
                f" (redirect to {location}: the SDK does not follow redirects so that the API "
                "key never leaves the API host)"
            )
        elif status == 400 and _PAYMENT_PENDING_TEXT in detail.lower():
            cls = PaymentPendingError
            hint = (
                ". The subscription WAS created but the card could not be charged: confirm the "
                "payment in the web app (Billing). Do not retry: that would create a second "
                "subscription."
            )
        elif status == 401:
            hint = ". Check the API key (get one at https://app.scaledmail.com/settings)."
        elif status == 404 and "/api/v1/" not in URL(shown_url).path + "/":
            hint = (
                ". The request did not go to the API's /api/v1 path: base_url should end with "
                "/api/v1 (e.g. https://server.scaledmail.com/api/v1)."
            )
        message = (
            f"{operation}: HTTP {status}{' ' + reason if reason else ''} from {method} {shown_url}"
        )
        if detail:
            message += f": {detail}"
        err = cls(
            message + hint,
            status_code=status,
            method=method,
            url=shown_url,
            body=body,
            headers=safe_headers,
            operation=operation,
        )
        err.request_id = request_id_from(headers)
        return err

    def _outcome_unknown(
        self,
        operation: str,
        method: str,
        shown_url: str,
        tag: str | None,
        what: str,
        cause: BaseException | None,
        cls: type[OutcomeUnknownError] = OutcomeUnknownError,
    ) -> OutcomeUnknownError:
        how = (
            f"find the order with tag {tag!r} via get_orders and get_order_details"
            if tag
            else "list orders with get_orders and inspect get_order_details (pass a unique "
            "tag= on spending calls to make this reliable)"
        )
        message = (
            f"{operation}: outcome unknown after {what}; the request may have been processed, "
            f"so it was NOT retried (it spends money). Reconcile before trying again: {how}."
        )
        return cls(message, operation=operation, method=method, url=shown_url, tag=tag, cause=cause)

    # -- the loop ---------------------------------------------------------------------------

    async def send(
        self,
        *,
        operation: str,
        method: str,
        url: URL,
        shown_url: str,
        data: bytes | None,
        retry: str,
        group: str | None,
        tag: str | None = None,
        timeout: float | Unset | None = UNSET,  # noqa: ASYNC109
        deadline: float | None = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> RawResult:
        """Send one call (with retries) and return the 2xx result; raise a typed error otherwise.

        ``retry`` is the safety class: ``"safe"`` retries transient failures; anything else is
        treated as ``"pre-send-only"``. ``deadline`` is an overall budget in seconds.
        ``before_send`` is awaited once, after the first limiter grant and right before the
        first byte of the request can be written (the purchase journal marks the spend sent
        there); if it raises, nothing is sent. ``max_retries`` overrides the client's for this
        call; ``extra_headers`` (checked by :func:`check_extra_headers`) are sent besides the
        client's own headers. An :class:`APIError` raised carries ``retries_taken``,
        ``limiter_wait``, ``limiter_state`` (and ``request_id`` for a status error).
        """
        stats = _CallStats()
        try:
            return await self._send(
                stats,
                operation=operation,
                method=method,
                url=url,
                shown_url=shown_url,
                data=data,
                retry=retry,
                group=group,
                tag=tag,
                timeout=timeout,
                deadline=deadline,
                before_send=before_send,
                max_retries=self.max_retries if max_retries is None else max_retries,
                extra_headers=extra_headers,
            )
        except APIError as exc:
            exc.retries_taken = stats.attempt
            exc.limiter_wait = stats.limiter_wait
            exc.limiter_state = limiter_state(self.limiter, self._clock, self._wall_clock)
            raise

    async def _send(
        self,
        stats: _CallStats,
        *,
        operation: str,
        method: str,
        url: URL,
        shown_url: str,
        data: bytes | None,
        retry: str,
        group: str | None,
        tag: str | None,
        timeout: float | Unset | None,  # noqa: ASYNC109
        deadline: float | None,
        before_send: Callable[[], Awaitable[None]] | None,
        max_retries: int,
        extra_headers: Mapping[str, str] | None,
    ) -> RawResult:
        """:meth:`send`'s loop; ``stats`` follows its attempt count and limiter wait."""
        clock = self._clock
        start = clock()
        deadline_at = None if deadline is None else start + deadline
        session = self.get_session()
        headers: CIMultiDictProxy[str] | None
        if self._owns_session:
            headers = None if data is None else self._owned_json_headers
        else:
            headers = self._passed_headers if data is None else self._passed_json_headers
        if extra_headers:
            merged = CIMultiDict(headers or {})
            merged.update(extra_headers)
            headers = CIMultiDictProxy(merged)
        limiter = self.limiter
        safe = retry == "safe"
        base_timeout = self._default_timeout if timeout is UNSET else self._attempt_timeout(timeout)
        # The per-attempt trace context is only built for a session that has trace hooks (no
        # one else can see it); ``trace_configs`` is public in aiohttp 3.x, read defensively.
        traced = bool(getattr(session, "trace_configs", True))
        attempt = 0
        limiter_wait = 0.0
        #: Why an earlier attempt may have been processed although it failed (for error hints).
        maybe_applied: str | None = None
        while True:
            if limiter is not None:
                budget = None
                if deadline_at is not None:
                    budget = deadline_at - clock()
                    if budget <= 0:
                        raise self._deadline_error(
                            operation,
                            method,
                            shown_url,
                            deadline,
                            "before the rate limiter granted a slot",
                        )
                try:
                    lane = current_priority() or self.priority
                    if lane != "interactive" and self._lanes:
                        lanes: Any = limiter  # RateLimiter.acquire has no lanes; this one has
                        limiter_wait += await lanes.acquire(group, timeout=budget, priority=lane)
                    else:
                        limiter_wait += await limiter.acquire(group, timeout=budget)
                    stats.limiter_wait = limiter_wait
                    if self.otel is not None:  # OpenTelemetry hook (scaledmail_async._otel)
                        self.otel.limiter_waited(limiter_wait, attempt, lane, group)
                except LimiterTimeout as exc:
                    raise self._deadline_error(
                        operation,
                        method,
                        shown_url,
                        deadline,
                        f"waiting for the rate limiter ({exc})",
                    ) from None
                if self.closed:
                    raise ClientClosedError(f"{operation}: the ScaledmailClient was closed")
            client_timeout = base_timeout
            cut_by_deadline = False
            if deadline_at is not None:
                remaining = deadline_at - clock()
                if remaining <= 0:
                    raise self._deadline_error(
                        operation, method, shown_url, deadline, "before the request was sent"
                    )
                if base_timeout.total is None or remaining < base_timeout.total:
                    client_timeout = self._client_timeout(remaining)
                    cut_by_deadline = True
            # The attempt's start is only needed for debug log lines.
            debug = logger.isEnabledFor(logging.DEBUG)
            sent_at = clock() if debug else 0.0
            failure: BaseException | None = None
            if before_send is not None:
                await before_send()
                before_send = None
            if self.otel is not None:  # OpenTelemetry hook: the attempt's CLIENT span
                self.otel.attempt_started(shown_url, tag)
            try:
                async with session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    timeout=client_timeout,
                    allow_redirects=False,
                    raise_for_status=False,
                    trace_request_ctx=(
                        {"attempt": attempt + 1, "operation": operation} if traced else None
                    ),
                ) as resp:
                    status = resp.status
                    body, oversize = await self._read_body(resp, 200 <= status < 300)
                    resp_headers = resp.headers
                    reason = resp.reason
            except asyncio.CancelledError as exc:
                if not safe and self.closed and not _cancelled_while_connecting(exc):
                    # aclose() cancelled a spend whose request may have been written.
                    task = asyncio.current_task()
                    if task is not None:
                        self._interrupted[task] = self._closed_outcome_unknown(
                            operation, method, shown_url, tag, None
                        )
                raise
            except (aiohttp.ClientError, TimeoutError, OSError, RuntimeError) as exc:
                # Handled below, outside this block: the raw exception (a ClientResponseError
                # keeps the request headers, API key included) must not become the
                # ``__context__`` of the error raised.
                failure = exc
            if self.otel is not None:  # OpenTelemetry hook: the attempt's answer or failure
                self.otel.attempt_ended(failure, None if failure is not None else status)
            if failure is not None:
                cause = self.scrubbed(failure)
                if self.closed or (isinstance(failure, RuntimeError) and session.closed):
                    if (
                        not safe
                        and not isinstance(failure, RuntimeError)
                        and not is_pre_send_failure(failure)
                    ):
                        raise self._closed_outcome_unknown(
                            operation, method, shown_url, tag, cause
                        ) from cause
                    raise ClientClosedError(
                        f"{operation}: the ScaledmailClient (or its session) was closed"
                    ) from cause
                if isinstance(failure, RuntimeError):
                    raise cause
                timed_out = is_timeout(failure)
                what = (
                    f"a timeout ({type(failure).__name__})"
                    if timed_out
                    else f"{type(failure).__name__}: {self.redact(str(failure))}"
                )
                pre_send = is_pre_send_failure(failure)
                decision = after_failure(
                    safe=safe,
                    pre_send=pre_send,
                    timed_out=timed_out,
                    cut_by_deadline=cut_by_deadline,
                )
                if decision == "outcome_unknown":
                    raise self._outcome_unknown(
                        operation, method, shown_url, tag, what, cause
                    ) from cause
                if decision == "deadline":
                    raise self._deadline_error(
                        operation, method, shown_url, deadline, "during the request"
                    ) from cause
                cls = APITimeoutError if timed_out else APIConnectionError
                error: APIError = cls(
                    f"{operation}: {method} {shown_url} failed: {what}",
                    method=method,
                    url=shown_url,
                    operation=operation,
                )
                if debug:
                    logger.debug(
                        "%s %s failed after %.3fs: %s (attempt %d, %s)",
                        method,
                        shown_url,
                        clock() - sent_at,
                        what,
                        attempt + 1,
                        operation,
                    )
                if attempt >= max_retries:
                    raise error from cause
                delay = self._backoff.delay(attempt)
                retry_reason = what
                if not pre_send:
                    maybe_applied = what
            else:
                now = clock()
                if debug:
                    logger.debug(
                        "%s %s -> %d in %.3fs (attempt %d, %s)",
                        method,
                        shown_url,
                        status,
                        now - sent_at,
                        attempt + 1,
                        operation,
                    )
                if 200 <= status < 300:
                    if oversize is not None:
                        raise self._too_large(operation, method, shown_url, status, oversize, safe)
                    return RawResult(
                        status, resp_headers, body, attempt, limiter_wait, now - start, self
                    )
                err_body = self._decode_error_body(body, cut=oversize is not None)
                err = self._status_error(
                    operation, method, shown_url, status, reason, resp_headers, err_body
                )
                action = after_status(
                    status, safe=safe, payment_pending=isinstance(err, PaymentPendingError)
                )
                if action == "rate_limited":
                    delay = self._on_rate_limited(
                        operation, group, attempt, err, resp_headers, err_body, max_retries
                    )
                    retry_reason = "HTTP 429"
                elif action == "outcome_unknown":
                    raise self._outcome_unknown(
                        operation, method, shown_url, tag, f"HTTP {status}", err
                    ) from err
                elif action == "retry":
                    hint = parse_retry_after(resp_headers, None, self._wall_clock())
                    if hint is not None and hint > self._max_retry_after:
                        err.message += (
                            f" (the server asks to wait {hint:.0f}s, more than max_retry_after="
                            f"{self._max_retry_after:g}s, so the SDK does not retry)"
                        )
                        err.args = (err.message,)
                        raise err
                    if attempt >= max_retries:
                        raise err
                    delay = hint if hint is not None else self._backoff.delay(attempt)
                    retry_reason = f"HTTP {status}"
                    maybe_applied = f"HTTP {status}"
                else:
                    if isinstance(err, PaymentPendingError):
                        raise err
                    if maybe_applied is not None and method != "GET" and status in (400, 409):
                        # A retried write rejected as a duplicate ("already in progress",
                        # "already in use") most likely conflicts with its own earlier attempt.
                        err.message += (
                            f" (an earlier attempt of this call failed after it was sent "
                            f"({maybe_applied}) and may have been applied: this rejection may be "
                            "caused by that attempt; check the current state before retrying)"
                        )
                        err.args = (err.message,)
                    raise err
                error = err
            # -- retry ----------------------------------------------------------------------
            if deadline_at is not None:
                pause_end = delay
                if limiter is not None and isinstance(error, RateLimitError):
                    pause_end = max(delay, error.retry_after or 0.0)
                if clock() + pause_end >= deadline_at:
                    raise self._deadline_error(
                        operation,
                        method,
                        shown_url,
                        deadline,
                        f"before retry {attempt + 1} (it would wait {pause_end:.2f}s "
                        f"after {retry_reason})",
                    ) from error
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "retrying %s (attempt %d of %d) after %s in %.2fs",
                    operation,
                    attempt + 2,
                    max_retries + 1,
                    retry_reason,
                    delay,
                )
            if self.otel is not None:  # OpenTelemetry hook: the retry event and counter
                self.otel.retrying(delay)
            if delay > 0:
                await self._sleep(delay)
            if self.closed:
                raise ClientClosedError(f"{operation}: the ScaledmailClient was closed") from error
            attempt += 1
            stats.attempt = attempt

    def _on_rate_limited(
        self,
        operation: str,
        group: str | None,
        attempt: int,
        err: APIStatusError,
        headers: Mapping[str, str],
        body: Any,
        max_retries: int,
    ) -> float:
        """Handle a 429: feed the limiter, decide the wait (or raise ``err``)."""
        hint = parse_retry_after(headers, body, self._wall_clock())
        if isinstance(err, RateLimitError):
            err.retry_after = hint
        too_long = hint is not None and hint > self._max_retry_after
        limiter = self.limiter
        pause_group = None
        if group == CRITICAL_GROUP and "critical" in self._detail(body).lower():
            pause_group = CRITICAL_GROUP
        pause: float | None = None
        if isinstance(limiter, PauseOnlyLimiter):
            # rate_limit=None: the server's pause as hinted, else the SDK's own backoff (what
            # this call would have slept without a limiter). A hint beyond max_retry_after
            # raises below and pauses nothing: no call of the key waits that long.
            if not too_long:
                pause = limiter.report_rate_limited(
                    pause_group, hint if hint is not None else self._backoff.delay(attempt)
                )
        elif limiter is not None:
            pause = limiter.report_rate_limited(
                pause_group, min(hint, self._max_retry_after) if hint is not None else None
            )
        if pause is not None:
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "429 on %s (attempt %d): pausing %s for %.2fs",
                    operation,
                    attempt + 1,
                    "critical operations" if pause_group else "all requests of this key",
                    pause,
                )
            if self.otel is not None:  # OpenTelemetry hook: the pause event and counter
                self.otel.rate_limited(pause, hint, pause_group)
        if too_long:
            err.message = (
                f"{err.message} (the server asks to wait {hint:.0f}s, more than "
                f"max_retry_after={self._max_retry_after:g}s, so the SDK does not retry)"
            )
            err.args = (err.message,)
            raise err
        if attempt >= max_retries:
            raise err
        if limiter is not None:
            # The limiter holds every caller of the key until the pause ends, then spreads them.
            return 0.0
        return hint if hint is not None else self._backoff.delay(attempt)

    def _closed_outcome_unknown(
        self,
        operation: str,
        method: str,
        shown_url: str,
        tag: str | None,
        cause: BaseException | None,
    ) -> ClientClosedOutcomeUnknownError:
        error = self._outcome_unknown(
            operation,
            method,
            shown_url,
            tag,
            "the ScaledmailClient was closed while the request was in flight",
            cause,
            cls=ClientClosedOutcomeUnknownError,
        )
        assert isinstance(error, ClientClosedOutcomeUnknownError)
        return error

    @staticmethod
    def _deadline_error(
        operation: str, method: str, shown_url: str, deadline: float | None, when: str
    ) -> APITimeoutError:
        return APITimeoutError(
            f"{operation}: the call's deadline of {deadline:g}s was reached {when}",
            method=method,
            url=shown_url,
            operation=operation,
        )
