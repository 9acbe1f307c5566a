"""Server-side rate limiting for the fake: per API key, a global rule and a "critical" rule.

The real API documents 5 requests per second per key and 15 per minute for the critical domain
operations (search, suggest, buy), but not its algorithm. The fake therefore offers three, so that
client code can be tested against more than one behaviour:

``sliding_window`` (default)
    A log of accepted request times; a request is accepted when fewer than ``limit`` accepted
    requests lie in the last ``window`` seconds. Strictest: never more than ``limit`` in *any*
    window.
``fixed_window``
    Counters reset on window boundaries (aligned to the limiter's creation). Allows up to
    ``2 * limit`` requests across a boundary, like many real gateways.
``token_bucket``
    ``burst`` tokens (default ``limit``), refilled at ``limit / window`` per second.

Rejected requests do not consume capacity. A request of the critical group must pass both rules;
it is accepted (and counted by both) only when both allow it.

These are hand-written rather than taken from a library because the fake must stay dependency-free
(aiohttp only), be driven by an injectable clock in tests, and report the exact wait it computed
(for ``Retry-After`` and the body's ``retryAfter``), which the limiter libraries do not expose.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "FakeRateLimiter",
    "FixedWindow",
    "RateLimitRule",
    "Rejection",
    "SlidingWindow",
    "TokenBucket",
    "limit_label",
    "parse_rate_limit",
]

Algorithm = Literal["sliding_window", "fixed_window", "token_bucket"]
ALGORITHMS: tuple[str, ...] = ("sliding_window", "fixed_window", "token_bucket")

GLOBAL_MESSAGE = "Too many requests, please try again later."
CRITICAL_MESSAGE = "Too many critical operations, please try again later."


def limit_label(limit: float, window: float) -> str:
    """The body's ``limit`` text: ``"5 requests per second"``, ``"15 requests per minute"``."""
    units = {1.0: "second", 60.0: "minute", 3600.0: "hour"}
    per = units.get(float(window), f"{window:g} seconds")
    return f"{limit:g} requests per {per}"


_PERIODS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
}
_PERIOD = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)?\s*(?P<unit>[a-z]+)$")


def parse_rate_limit(text: str, *, default_window: float) -> tuple[int, float] | None:
    """A rate limit written ``N`` (per ``default_window`` seconds) or ``N/PERIOD`` (``2/s``,
    ``15/min``, ``100/10s``, ``30/1.5m``, ``1000/h``): ``(limit, window seconds)``; ``off`` (or
    ``none``) gives ``None``. ``ValueError`` saying what is wrong otherwise."""
    value = text.strip().lower()
    if value in ("off", "none"):
        return None
    count, slash, period = value.partition("/")
    try:
        limit = int(count)
    except ValueError:
        raise ValueError(
            f"{text.strip()!r} is not a rate limit: write N or N/PERIOD (2/s, 15/min, 100/10s) "
            "or off"
        ) from None
    if limit < 1:
        raise ValueError(f"the limit of {text.strip()!r} must be at least 1 request")
    if not slash:
        return limit, default_window
    match = _PERIOD.match(period.strip())
    if match is None or match["unit"] not in _PERIODS:
        units = ", ".join(sorted(_PERIODS, key=_PERIODS.__getitem__))
        raise ValueError(f"unknown period {period.strip()!r} in {text.strip()!r}: use {units}")
    window = float(match["amount"] or 1) * _PERIODS[match["unit"]]
    if not 0 < window < math.inf:
        raise ValueError(f"the period of {text.strip()!r} must be more than 0 seconds")
    return limit, window


class _Bucket(Protocol):
    def wait(self, now: float) -> float:
        """Seconds until one more request would be accepted (0 when it would be now)."""

    def take(self, now: float) -> None:
        """Record one accepted request."""


class SlidingWindow:
    """Sliding window log: at most ``limit`` accepted requests in any ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def _prune(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()

    def wait(self, now: float) -> float:
        self._prune(now)
        if len(self._times) < self.limit:
            return 0.0
        oldest_blocking = self._times[len(self._times) - self.limit]
        return max(oldest_blocking + self.window - now, 0.0)

    def take(self, now: float) -> None:
        self._times.append(now)


class FixedWindow:
    """Fixed windows of ``window`` seconds starting at ``origin``; ``limit`` per window."""

    def __init__(self, limit: int, window: float, origin: float) -> None:
        self.limit = limit
        self.window = window
        self.origin = origin
        self._start = origin
        self._count = 0

    def _roll(self, now: float) -> None:
        start = self.origin + math.floor((now - self.origin) / self.window) * self.window
        if start != self._start:
            self._start = start
            self._count = 0

    def wait(self, now: float) -> float:
        self._roll(now)
        if self._count < self.limit:
            return 0.0
        return max(self._start + self.window - now, 0.0)

    def take(self, now: float) -> None:
        self._roll(now)
        self._count += 1


class TokenBucket:
    """Token bucket: ``capacity`` tokens, refilled at ``rate`` tokens per second."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def wait(self, now: float) -> float:
        self._refill(now)
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1.0


@dataclass(frozen=True)
class RateLimitRule:
    """One limit: ``limit`` requests per ``window`` seconds, answered with ``message``."""

    name: str
    limit: int
    window: float
    message: str

    @property
    def label(self) -> str:
        """The 429 body's ``limit`` string."""
        return limit_label(self.limit, self.window)


@dataclass(frozen=True)
class Rejection:
    """Why a request was refused and for how long."""

    rule: RateLimitRule
    wait: float


class FakeRateLimiter:
    """Per-key limiter applying the global rule to every request and the critical rule to the
    critical group. ``enabled = False`` switches it off at run time."""

    def __init__(
        self,
        *,
        global_rule: RateLimitRule | None,
        critical_rule: RateLimitRule | None,
        algorithm: Algorithm = "sliding_window",
        burst: int | None = None,
        clock: Callable[[], float],
        enabled: bool = True,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown rate limit algorithm {algorithm!r}; use one of {ALGORITHMS}")
        for rule in (global_rule, critical_rule):
            if rule is not None and (rule.limit < 1 or rule.window <= 0):
                raise ValueError(f"rate limit {rule.name!r} needs limit >= 1 and window > 0")
        if burst is not None and (
            isinstance(burst, bool) or not isinstance(burst, int) or burst < 1
        ):
            raise ValueError(f"burst must be an integer >= 1 (or None), got {burst!r}")
        self.global_rule = global_rule
        self.critical_rule = critical_rule
        self.algorithm: Algorithm = algorithm
        self.burst = burst
        self.enabled = enabled
        self._clock = clock
        self._origin = clock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, key: str, rule: RateLimitRule, now: float) -> _Bucket:
        bucket = self._buckets.get((key, rule.name))
        if bucket is None:
            if self.algorithm == "sliding_window":
                bucket = SlidingWindow(rule.limit, rule.window)
            elif self.algorithm == "fixed_window":
                bucket = FixedWindow(rule.limit, rule.window, self._origin)
            else:
                capacity = float(self.burst if self.burst is not None else rule.limit)
                bucket = TokenBucket(rule.limit / rule.window, capacity, now)
            self._buckets[(key, rule.name)] = bucket
        return bucket

    def acquire(self, key: str, *, critical: bool) -> Rejection | None:
        """Admit one request of ``key`` (a hash, never the raw API key) or say why not.

        When both rules refuse, the critical one is reported (its message is the documented one
        for those operations) with the longer of the two waits.
        """
        if not self.enabled:
            return None
        now = self._clock()
        rules = [r for r in (self.global_rule, self.critical_rule if critical else None) if r]
        waits = [(rule, self._bucket(key, rule, now).wait(now)) for rule in rules]
        refused = [(rule, wait) for rule, wait in waits if wait > 0]
        if refused:
            rule = refused[-1][0]
            return Rejection(rule=rule, wait=max(wait for _, wait in refused))
        for rule, _ in waits:
            self._bucket(key, rule, now).take(now)
        return None

    def reset(self) -> None:
        """Forget every key's history (full capacity again)."""
        self._buckets.clear()
        self._origin = self._clock()
