"""What a response or an error knows besides its body: the server's request id and the rate
limiter's state when the call ended.

``request_id`` comes from the first of the usual request-id headers the server sends (the
Scaledmail API documents none; proxies in front of it often add one). ``LimiterState`` is read
from the client's limiter without waiting: the in-process and pause-only limiters know their pace
and pause; a limiter that cannot say (Redis: that would cost a round trip) gives ``None``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Final

import attrs

__all__ = ["REQUEST_ID_HEADERS", "LimiterState", "limiter_state", "request_id_from"]

#: Response headers read for ``request_id``, in this order (case-insensitive).
REQUEST_ID_HEADERS: Final = (
    "x-request-id",
    "request-id",
    "x-correlation-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "cf-ray",
)


def request_id_from(headers: Mapping[str, str] | None) -> str | None:
    """The server's request id from ``headers`` (see :data:`REQUEST_ID_HEADERS`), or ``None``."""
    if not headers:
        return None
    # aiohttp's headers (and the errors' copies) are case-insensitive multidicts; a plain
    # mapping given by a caller is looked up by lower-cased name.
    lookup = headers if hasattr(headers, "getone") else {k.lower(): v for k, v in headers.items()}
    for name in REQUEST_ID_HEADERS:
        value = lookup.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return None


@attrs.frozen(slots=True)
class LimiterState:
    """The client-side rate limiter when the call ended."""

    #: The pace in requests per second the limiter allowed then (``None``: no pacing, as with
    #: ``rate_limit=None``, or not known).
    pace: float | None
    #: Seconds the key's calls were still paused for after a 429 (0.0: not paused).
    paused_for: float
    #: When that pause ends, as a Unix time (``time.time()`` seconds); ``None`` when not paused.
    paused_until: float | None = None

    @property
    def rate(self) -> float | None:
        """The same as :attr:`pace`."""
        return self.pace


def limiter_state(
    limiter: object, clock: Callable[[], float], wall_clock: Callable[[], float] = time.time
) -> LimiterState | None:
    """Read ``limiter``'s state without waiting, or ``None`` when it cannot say. ``clock`` is
    the limiter's clock (its ``paused_until`` is on it); ``wall_clock`` gives the Unix time."""
    if limiter is None:
        return None
    current_rate = getattr(limiter, "current_rate", None)
    try:
        paused_until = getattr(limiter, "paused_until", None)
        rate = float(current_rate()) if callable(current_rate) else None
    except Exception:  # a third-party limiter's accessor failed: say nothing
        return None
    if not isinstance(paused_until, (int, float)) and rate is None:
        return None
    paused_for = 0.0
    if isinstance(paused_until, (int, float)) and math.isfinite(paused_until):
        paused_for = max(0.0, float(paused_until) - clock())
    until = wall_clock() + paused_for if paused_for > 0 else None
    return LimiterState(pace=rate, paused_for=paused_for, paused_until=until)
