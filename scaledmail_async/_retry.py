"""Retry policy pieces: backoff, server wait hints and failure classification.

Hand-written rather than using tenacity (https://github.com/jd/tenacity) or aiohttp-retry
(https://github.com/inyutin/aiohttp_retry) because the decision depends on things those libraries
do not model: the operation's *safety class* from the spec (``x-retry``), whether a failure
happened provably *before* the request was sent (only then may a spending call be retried),
Scaledmail's 429 JSON ``retryAfter`` epoch, and a shared limiter that takes over 429 waits. The
functions here are pure so the transport loop stays small and the decisions are unit-testable.

**The unit of the 429 body's ``retryAfter``.** The API documents it on the Suggest Domains page
(https://api.scaledmail.com/suggest-domains-35740189e0, the only page that documents a 429) as
``"retryAfter": <epoch>``, with the example ``1767225600``: a Unix timestamp in *seconds* of when
to retry, not a delay. The spec (``openapi/scaledmail.yaml``, ``RateLimitErrorBody``) says the
same. The limits it documents have windows of one second (5 per second) and one minute (15 per
minute for the critical operations), so no wait it asks for is longer than 60 seconds. So:

* ``>= 1e9`` (September 2001 on): epoch seconds, as documented; the hint is ``value - now``
  (0 once passed).
* ``>= 1e11``: epoch *milliseconds* (as seconds it would be after the year 5000, so the
  magnitude is unambiguous; ``Date.now()`` servers send this form).
* ``0`` to ``60``: not an epoch (1970); read as a delay in seconds, the undocumented form some
  servers send. Whatever was meant, the wait is bounded by the API's longest window.
* anything else (above 60 and below ``1e9``: ``1500``, ``86400``...; negative) is neither a
  documented epoch nor a plausible delay in seconds, and seconds versus milliseconds would be a
  guess (``1500`` meant as milliseconds, read as seconds, waits 25 minutes): it is **no hint**,
  and the call falls back to the SDK's own backoff (and the limiter's own pause).

``max_retry_after`` still applies to the result: a hint past it raises :class:`RateLimitError`
instead of sleeping. The ``Retry-After`` header (RFC 9110: delay seconds or an HTTP date) and
``retry-after-ms`` keep their standard meanings; the docs mention no rate-limit header.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import aiohttp

from scaledmail_async._config import check_setting

__all__ = [
    "SAFE_RETRY_STATUSES",
    "BackoffPolicy",
    "FailureAction",
    "StatusAction",
    "after_failure",
    "after_status",
    "is_pre_send_failure",
    "parse_retry_after",
]

#: What the send loop does with an HTTP answer: ``return`` it (2xx), ``raise`` its error,
#: ``outcome_unknown`` (a spend that may have been processed), ``rate_limited`` (a 429: the
#: limiter and the server's hint decide the wait), ``retry`` (a transient status of a safe
#: operation, while attempts are left).
StatusAction = Literal["return", "raise", "outcome_unknown", "rate_limited", "retry"]
#: ... and with a failure without an answer (connection, timeout): ``outcome_unknown`` (a spend
#: whose request may have been written), ``deadline`` (the call's deadline cut the attempt),
#: ``retry`` (while attempts are left; else its connection/timeout error).
FailureAction = Literal["outcome_unknown", "deadline", "retry"]


def after_status(status: int, *, safe: bool, payment_pending: bool = False) -> StatusAction:
    """The retry decision for an HTTP answer (pure: table-tested in tests/test_retry_decision.py).

    ``safe`` is the operation's retry class (``x-retry: safe``); a spend (``pre-send-only``) is
    never re-sent once the server answered, except after a 429 (the API rejects a rate-limited
    request before processing it). 5xx and 408 on a spend are ``outcome_unknown``: the server
    may have processed it. "Subscription created but unable to charge" (``payment_pending``) is
    raised as it is, never retried.
    """
    if 200 <= status < 300:
        return "return"
    if payment_pending:
        return "raise"
    if status == 429:
        return "rate_limited"
    if not safe:
        return "outcome_unknown" if status >= 500 or status == 408 else "raise"
    if status in SAFE_RETRY_STATUSES:
        return "retry"
    return "raise"


def after_failure(
    *, safe: bool, pre_send: bool, timed_out: bool, cut_by_deadline: bool
) -> FailureAction:
    """The retry decision for a failure without an answer (pure, table-tested).

    ``pre_send``: provably before any byte was written (connection refused, DNS, connect
    timeout): even a spend may be retried. Otherwise a spend's outcome is unknown. A timeout
    caused by the call's own deadline (``cut_by_deadline``) ends the call.
    """
    if not safe and not pre_send:
        return "outcome_unknown"
    if cut_by_deadline and timed_out:
        return "deadline"
    return "retry"


#: Statuses a ``safe`` operation is retried on.
SAFE_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

#: Body ``retryAfter`` values from this on are Unix epoch seconds (2001-09-09); smaller ones cannot
#: be an epoch of now and are no hint (see the module docstring).
_EPOCH_THRESHOLD = 1_000_000_000.0
#: ... and from this on, epoch *milliseconds* (as seconds: the year 5138).
_EPOCH_MS_THRESHOLD = 100_000_000_000.0
#: A non-epoch ``retryAfter`` up to this is a delay in seconds (the API's longest window).
_MAX_DELAY_SECONDS = 60.0


class BackoffPolicy:
    """Exponential backoff with full jitter: ``uniform(0, min(cap, base * 2**retry_index))``.

    Full jitter (the AWS "exponential backoff and jitter" scheme, tenacity's
    ``wait_random_exponential``) spreads clients that failed together.
    """

    __slots__ = ("base", "cap", "random")

    def __init__(self, base: float, cap: float, random: Callable[[], float]) -> None:
        seconds = "a finite number of seconds >= 0"
        check_setting("backoff_base", base, what=seconds, zero_ok=True)
        check_setting("backoff_max", cap, what=seconds, zero_ok=True)
        self.base = base
        self.cap = cap
        self.random = random

    def delay(self, retry_index: int) -> float:
        """The wait before retry number ``retry_index + 1`` (``retry_index`` starts at 0)."""
        ceiling = min(self.cap, self.base * math.pow(2.0, retry_index))
        return self.random() * ceiling


def _to_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if math.isnan(result) or math.isinf(result):
        return None
    return result


def parse_retry_after(headers: Mapping[str, str], body: Any, now: float) -> float | None:
    """The server's wait hint in seconds (>= 0), or ``None`` when it gave none.

    Order: ``retry-after-ms`` header, ``Retry-After`` header (seconds or an HTTP date), then the
    JSON body's ``retryAfter``: a Unix epoch in seconds as the API documents it (epoch
    milliseconds when very large), or a delay in seconds up to 60; any other value gives no hint
    (see the module docstring). ``now`` is the wall-clock time (``time.time()``).
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        ms = _to_float(raw_ms)
        if ms is not None:
            return max(0.0, ms / 1000.0)
    raw = headers.get("retry-after")
    if raw is not None:
        seconds = _to_float(raw)
        if seconds is not None:
            return max(0.0, seconds)
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - now)
    if isinstance(body, Mapping):
        value = _to_float(body.get("retryAfter"))
        if value is not None:
            if value >= _EPOCH_MS_THRESHOLD:
                return max(0.0, value / 1000.0 - now)
            if value >= _EPOCH_THRESHOLD:
                return max(0.0, value - now)
            if 0.0 <= value <= _MAX_DELAY_SECONDS:
                return value
            # Neither an epoch nor a plausible delay in seconds: s or ms would be a guess.
    return None


def is_pre_send_failure(exc: BaseException) -> bool:
    """Whether ``exc`` proves the request never reached the server.

    True only for failures to open a connection: DNS errors, refused/unreachable connections,
    TLS handshake failures (all :class:`aiohttp.ClientConnectorError`), and a timeout while
    connecting or waiting for a pooled connection (:class:`aiohttp.ConnectionTimeoutError`).
    Everything else (server disconnected, reset after sending, read timeouts, payload errors, an
    overall timeout that may have fired after sending) may have reached the server.
    """
    return isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))


def is_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is a timeout (aiohttp's total, connect or read timeouts)."""
    return isinstance(exc, (asyncio.TimeoutError, TimeoutError))
