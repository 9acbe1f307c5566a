"""Retry policy pieces: backoff, server wait hints and failure classification.

Hand-written rather than using tenacity/aiohttp-retry because the decision depends on things those
libraries do not model (see ``/work/shared/sdk-anchors.md``): the operation's *safety class* from
the spec (``x-retry``), whether a failure happened provably *before* the request was sent (only then
may a spending call be retried), Scaledmail's 429 JSON ``retryAfter`` epoch, and a shared limiter
that takes over 429 waits. The functions here are pure so the transport loop stays small and the
decisions are unit-testable.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

__all__ = [
    "SAFE_RETRY_STATUSES",
    "BackoffPolicy",
    "is_pre_send_failure",
    "parse_retry_after",
]

#: Statuses a ``safe`` operation is retried on.
SAFE_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

#: Body ``retryAfter`` values above this are Unix epoch seconds; below it, a delay in seconds.
_EPOCH_THRESHOLD = 1_000_000_000.0
#: ... and above this, epoch *milliseconds*.
_EPOCH_MS_THRESHOLD = 100_000_000_000.0


class BackoffPolicy:
    """Exponential backoff with full jitter: ``uniform(0, min(cap, base * 2**retry_index))``.

    Full jitter (the AWS "exponential backoff and jitter" scheme, tenacity's
    ``wait_random_exponential``) spreads clients that failed together.
    """

    __slots__ = ("base", "cap", "random")

    def __init__(self, base: float, cap: float, random: Callable[[], float]) -> None:
        if base < 0 or cap < 0:
            raise ValueError("backoff_base and backoff_max must be >= 0")
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
    JSON body's ``retryAfter`` (Unix epoch seconds if large, epoch milliseconds if very large,
    else a delay in seconds). ``now`` is the wall-clock time (``time.time()``).
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
            return max(0.0, value)
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
