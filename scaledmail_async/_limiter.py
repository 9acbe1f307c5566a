"""Client-side rate limiting: the :class:`RateLimiter` interface and the in-process implementation.

Scaledmail allows 5 requests per second per API key (and 15 per minute for the "critical" domain
operations) and "temporarily blocks" keys that go over. Hand-written rather than using
aiolimiter (https://github.com/mjpieters/aiolimiter) because its ``AsyncLimiter`` is a leaky
bucket that bursts (9 requests in one sliding second for ``AsyncLimiter(5, 1)``), is bound to
one event loop, cannot change its rate at runtime and cannot be paused by a 429. This limiter:

* guarantees at most ``limit`` grants in **any** sliding window (a log of grant times), and paces
  the global group evenly (one grant every ``window * (1 + margin) / limit`` seconds), so there is
  no burst at start-up or after a pause;
* adds a safety ``margin`` (default 2 % of the window) because the server counts arrivals, which
  jitter by a few milliseconds after the grant;
* counts the pace from each grant's *due* time, not from when its waiter actually resumed (an
  asyncio timer fires up to ~1 ms late: counted from the actual time, that lateness would add up
  into a slower pace). The catch-up is bounded: a grant's anchor is never earlier than
  its actual time minus a quarter of the margin (and of the interval), so a late grant (a stalled
  event loop, an idle queue) moves the schedule instead of being followed by a burst, and at
  least three quarters of the margin stay for the jitter between grant and arrival;
* keeps in the log, for each grant, an upper bound of when its request went out: the caller
  writes its request in the event-loop step that receives the grant, so once that step is over
  (a ``call_soon`` callback) the entry moves by the step's real length. A stall there (a garbage
  collection) delays that request's arrival but not the grants after it; the grant one window
  later waits for the moved entry instead of reaching the server inside the window;
* serves two lanes, ``interactive`` before ``bulk`` (:mod:`scaledmail_async._lanes`), each
  FIFO-fair; only the queue head holds a timer; a cancelled waiter leaves the queue and wakes
  the next one, so no slot is ever leaked;
* on a 429 pauses **every** caller sharing the key until the hinted time (a shared
  "paused until T"), then releases them spread out at the pacing interval, and adapts the pace.
  The grants of the last window are the throughput the server just refused, so the pace drops to
  a *learned ceiling* ``min(backoff * pace, max(pace / 2, min(backoff * n, n - 1) / window))``
  (``n`` grants in the window, never below ``min_rate``; the ``pace / 2`` bound keeps one
  observation from cutting deeper than AIMD would, e.g. a 429 while the key was nearly idle).
  It holds there for ``probe_after`` (30 windows), then probes slowly above it (``probe`` = 1 %
  of the ceiling per second), so a transient 429 (another process using the key) does not leave
  the client slow forever. A 429 met while probing near the same ceiling confirms it: the next
  hold is twice as long and the next probe 4x slower. A client configured above the server's
  real limit thus converges after one or two 429s instead of oscillating between halving and
  re-tripping the limit (figures: docs/benchmarks.md). A 429 of the critical group only pauses
  that group;
* binds nothing to an event loop beyond a waiter's own future, so a process-wide instance keeps
  working across pytest's per-test loops (waiters of a closed loop are dropped) and serves one
  key from several threads, each with its own loop: its state is guarded by a lock, and a
  waiter of another loop is woken with ``call_soon_threadsafe`` (a future may only be resolved
  from its own loop's thread);
* wakes the critical group's next waiter whenever a critical slot is committed or returned (a
  waiter queued behind reserved slots holds no timer);
* bounds the recovery after 429s: the configured rate is back ``recovery`` seconds (120) after
  the last pause, however often the 429s confirmed a lower ceiling.

One limiter is shared per API key per process (:func:`shared_limiter`), keyed by a SHA-256 hash
of the key; the key itself is never stored.

``rate_limit=None`` turns the pacing off, not the server's pause: such a client gets a
:class:`PauseOnlyLimiter` (:func:`pause_only_limiter`), which lets every call through at once
until a 429, then pauses the key's callers until the hinted time and releases them spread out at
a pace learned from that overload, and paces nothing once they are released. It is a separate,
small state machine because it must wait with the client's injected ``sleep`` on the client's
``clock`` (the in-process limiter waits on event-loop timers and ``time.monotonic``): a test's
manual clock and instant ``sleep`` then cost no real time, as they did without a limiter.

Its size (about 950 lines): the sliding-window gates, pacing with bounded catch-up, lanes, the
cross-thread wake-ups and the learned ceiling after 429s are one state machine under one lock;
the pause-only limiter is the other (about 250 lines).
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import logging
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from scaledmail_async._config import shown
from scaledmail_async._lanes import Priority, check_priority
from scaledmail_async.errors import ConfigurationError

__all__ = [
    "CRITICAL_GROUP",
    "InProcessLimiter",
    "LimiterTimeout",
    "PauseOnlyLimiter",
    "PauseState",
    "RateLimiter",
    "pause_only_limiter",
    "shared_limiter",
]

logger = logging.getLogger("scaledmail_async")

#: A group limit that never binds (used when no open client asks for the critical limit).
_UNLIMITED = 1 << 30

#: The rate-limit group of the "critical" domain operations (search, suggest, buy).
CRITICAL_GROUP = "critical"


class LimiterTimeout(Exception):
    """Raised by :meth:`RateLimiter.acquire` when no slot can be granted within ``timeout``.

    ``earliest`` is the number of seconds (from the call) after which a slot could have been
    granted, when known.
    """

    def __init__(self, message: str, *, earliest: float | None = None) -> None:
        super().__init__(message)
        self.earliest = earliest


class RateLimiter(abc.ABC):
    """What the transport needs from a rate limiter.

    Implement this to share one key's budget between processes (e.g. a Redis-backed store) and
    pass it as ``ScaledmailClient(limiter=...)``.
    """

    @abc.abstractmethod
    async def acquire(
        self,
        group: str | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> float:
        """Wait for permission to send one request; return the seconds spent waiting.

        ``group`` is the operation's extra rate-limit group (``"critical"``) or ``None``. Raise
        :class:`LimiterTimeout` instead of waiting past ``timeout`` seconds (and fail at once when
        the wait is known to be longer). Cancelling the call must not consume a slot.
        """

    @abc.abstractmethod
    def report_rate_limited(self, group: str | None, retry_after: float | None) -> float:
        """Tell the limiter the server answered 429; return the pause applied, in seconds.

        ``group`` is the group the 429 is attributed to (``None`` = the key's global limit);
        ``retry_after`` is the server's hint in seconds, or ``None``.
        """


def _check_number(name: str, value: object, *, positive: bool = False) -> None:
    """Refuse a limiter setting that is not a finite real number (>= 0, or > 0): the message
    names it, what it takes and what was given (a number, else only its type)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        bound = "> 0" if positive else ">= 0"
        raise ConfigurationError(
            f"{name} must be a finite number {bound} (an int or float); got {shown(value)}"
        )


class _Waiter:
    __slots__ = ("fut", "loop", "queue")

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: deque[_Waiter]) -> None:
        self.loop = loop
        #: The gate's queue of this waiter's lane.
        self.queue = queue
        self.fut: asyncio.Future[None] | None = None


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running event loop
        return None


def _wake_waiter(w: _Waiter) -> None:
    """Wake ``w`` from any thread: directly on its own loop, else through
    ``call_soon_threadsafe`` (a future may only be resolved from its loop's thread)."""
    fut = w.fut
    if fut is None or fut.done():
        return
    if w.loop is _running_loop():
        fut.set_result(None)
        return
    try:
        w.loop.call_soon_threadsafe(_wake, fut)
    except RuntimeError:  # its loop closed meanwhile: head() drops the waiter
        pass


class _Gate:
    """One sliding-window gate: ``limit`` grants per ``window`` seconds, optional pacing.

    Two FIFO queues: ``waiters`` (the interactive lane) is always served before ``bulk``.
    """

    __slots__ = ("bulk", "limit", "log", "paused_until", "pending", "waiters", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.log: deque[float] = deque()
        #: Slots reserved but not yet committed (a critical slot waiting for its global slot).
        self.pending = 0
        self.paused_until = -math.inf
        self.waiters: deque[_Waiter] = deque()
        self.bulk: deque[_Waiter] = deque()

    def prune(self, now: float) -> None:
        """Drop the grants that left the window."""
        log = self.log
        horizon = now - self.window
        while log and log[0] <= horizon:
            log.popleft()

    def next_time(self, now: float, anchor: float, interval: float) -> float:
        """The earliest time a new grant can happen (``inf`` if only a release can free one).

        ``anchor`` is the due time of the previous paced grant and ``interval`` the pace. The
        result may lie before ``now`` (the time the grant became due, when it is already due).
        """
        self.prune(now)
        log = self.log
        t = -math.inf
        if self.paused_until > t:
            t = self.paused_until
        if interval > 0.0 and anchor + interval > t:
            t = anchor + interval
        over = len(log) + self.pending - self.limit + 1
        if over > 0:
            if over > len(log):
                return math.inf
            expiry = log[over - 1] + self.window
            if expiry > t:
                t = expiry
        return t

    def head(self) -> _Waiter | None:
        """The first waiter whose loop is alive, interactive lane first (waiters of closed loops
        are dropped)."""
        for waiters in (self.waiters, self.bulk):
            while waiters:
                w = waiters[0]
                if not w.loop.is_closed():
                    return w
                waiters.popleft()
        return None

    def queued(self, lane: Priority | None) -> bool:
        """Whether a waiter a new call of ``lane`` must queue behind is waiting."""
        return bool(self.waiters) or (lane == "bulk" and bool(self.bulk))

    def wake_head(self) -> None:
        w = self.head()
        if w is not None:
            _wake_waiter(w)


class InProcessLimiter(RateLimiter):
    """The default limiter: pacing + sliding windows + a shared 429 pause, in this process.

    Args:
        rate: requests per second for the key (the server allows 5).
        window: length of the global sliding window in seconds; at most
            ``max(1, floor(rate * window))`` grants fall in any window of that length.
        critical_limit: grants per ``critical_window`` for the ``"critical"`` group (15), or
            ``None`` for no group limit.
        critical_window: the critical window in seconds (60).
        margin: safety margin as a fraction of each window (0.02 = windows are 2 % longer than
            the server's) to absorb arrival jitter; a 429 that slips through anyway pauses
            every caller and lowers the pace to a learned ceiling.
        min_rate: the floor of the adaptive pace (default ``rate / 16``).
        backoff: after a 429 of the global group the pace drops to at most ``backoff`` times
            the pace it had and ``backoff`` times the throughput of the last window (default
            0.95), but not below half the pace it had (nor below ``min_rate``).
        probe: how fast the pace rises above that learned ceiling once it starts probing, as a
            fraction of the ceiling per second (default 0.01).
        probe_after: how long the pace holds at the learned ceiling after the 429's pause
            before probing above it, in seconds (default 30 windows). Each 429 that confirms
            about the same ceiling doubles this hold (up to 16x) and makes the next probe 4x
            slower (down to ``probe / 64``); reaching the configured rate resets both.
        recovery: the longest the pace stays below the configured rate after a 429's pause
            ended, in seconds (default 120). However often 429s confirmed a lower ceiling, the
            hold is at most half of it and the probe fast enough to reach the configured rate
            by its end: 429s caused by someone else on the key (another process, a burst)
            cost at most this long; a client configured above the server's real limit meets
            at most one 429 per ``recovery`` (each pauses every caller, none is lost).
        clock: a monotonic clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        rate: float = 5.0,
        *,
        window: float = 1.0,
        critical_limit: int | None = 15,
        critical_window: float = 60.0,
        margin: float = 0.02,
        min_rate: float | None = None,
        backoff: float = 0.95,
        probe: float = 0.01,
        probe_after: float | None = None,
        recovery: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_number("rate", rate, positive=True)
        _check_number("window", window, positive=True)
        if critical_limit is not None:
            if type(critical_limit) is not int or critical_limit < 1:
                raise ConfigurationError(
                    f"critical_limit must be an int >= 1, or None for no group limit; "
                    f"got {shown(critical_limit)}"
                )
            _check_number("critical_window", critical_window, positive=True)
        _check_number("margin", margin)
        _check_number("backoff", backoff, positive=True)
        if not backoff < 1.0:
            raise ConfigurationError(f"backoff must be > 0 and < 1, not {backoff!r}")
        _check_number("probe", probe, positive=True)
        if probe_after is not None:
            _check_number("probe_after", probe_after)
        if min_rate is not None:
            _check_number("min_rate", min_rate, positive=True)
        _check_number("recovery", recovery, positive=True)
        self._clock = clock
        self._margin = margin
        self._window = window
        self._critical_window = critical_window
        self._rate_max = float(rate)
        self._min_rate_cfg = float(min_rate) if min_rate is not None else None
        self._min_rate = self._min_rate_cfg if self._min_rate_cfg is not None else rate / 16.0
        self._backoff = backoff
        self._probe_cfg = probe
        self._recovery = float(recovery)
        hold = float(probe_after) if probe_after is not None else 30.0 * window
        self._hold_cfg = min(hold, 0.5 * self._recovery)
        #: Guards all state: one limiter serves every thread's event loop of the process.
        self._lock = threading.RLock()
        self._leases: dict[int, tuple[float, int | None]] = {}
        self._global = _Gate(max(1, math.floor(rate * window)), window * (1.0 + margin))
        self._critical: _Gate | None = None
        if critical_limit is not None:
            self._critical = _Gate(critical_limit, critical_window * (1.0 + margin))
        # Adaptive state. While adapting, the pace is
        # min(rate_max, ceiling * (1 + probe * (now - max(_since, paused_until) - hold))).
        self._ceiling = self._rate_max
        self._probe = probe
        self._hold = self._hold_cfg
        self._since = -math.inf
        self._adapting = False
        #: When the last global grant happened (a critical slot counts from it).
        self._last_grant = -math.inf
        #: The due time of the last global grant: the pace counts from here.
        self._anchor = -math.inf
        self._interval = (1.0 + margin) * max(window / self._global.limit, 1.0 / rate)

    def __repr__(self) -> str:
        crit = (
            f"{self._critical.limit}/{self._critical_window:g}s"
            if self._critical is not None
            else "off"
        )
        return (
            f"InProcessLimiter(rate={self._rate_max:g}/s, "
            f"current_rate={self.current_rate():.3g}/s, "
            f"window={self._window:g}s, critical={crit})"
        )

    # -- pace -----------------------------------------------------------------------------------

    def current_rate(self) -> float:
        """The adaptive pace in requests per second right now."""
        with self._lock:
            if not self._adapting:
                return self._rate_max
            now = self._clock()
            start = max(self._since, self._global.paused_until) + self._hold
            rate = self._ceiling * (1.0 + self._probe * max(0.0, now - start))
            if rate >= self._rate_max:
                self._adapting = False
                self._probe = self._probe_cfg
                self._hold = self._hold_cfg
                return self._rate_max
            return rate

    def _pace_interval(self) -> float:
        if not self._adapting:
            return self._interval
        rate = self.current_rate()
        return max(self._interval, (1.0 + self._margin) / rate)

    def _grant(self, allowed: float, now: float, interval: float) -> None:
        """Record a global grant at ``now`` that was allowed from ``allowed`` (<= ``now``)."""
        self._global.log.append(now)
        self._last_grant = now
        # The pace counts from the due time, catching up at most a quarter of the margin (and of
        # the interval): timer lateness does not add up into a slower pace, while a long delay
        # (a stalled loop, nobody waiting) moves the schedule instead of being caught up.
        catch_up = 0.25 * min(interval, self._margin * self._window)
        self._anchor = max(allowed, now - catch_up)
        # The caller writes its request in the same event-loop step as this grant; a stall in
        # that step (a full garbage collection, the process descheduled) delays the request's
        # arrival but not the next grants. Once the step is over, move this grant's log entry to
        # when it ended, so the grant one window later keeps its distance from the arrival.
        loop = asyncio.get_running_loop()
        loop.call_soon(self._step_done, now, loop.time())

    def _step_done(self, granted_at: float, loop_time: float) -> None:
        """Move the log entry of the grant at ``granted_at`` by the real length of its step."""
        delay = asyncio.get_running_loop().time() - loop_time
        if delay <= 0.0:
            return
        with self._lock:
            log = self._global.log
            # Usually the newest entry; keep the log sorted if later grants happened meanwhile.
            for i in range(len(log) - 1, max(-1, len(log) - 5), -1):
                if log[i] == granted_at:
                    moved = granted_at + delay
                    if i + 1 < len(log) and log[i + 1] < moved:
                        moved = log[i + 1]
                    log[i] = moved
                    return

    def seed(self, grants: Iterable[float]) -> None:
        """Count ``grants`` (times on this limiter's clock, oldest first) as already made.

        For a limiter that takes over from another one mid-window (the Redis limiter's local
        fallback during an outage): the window starts with what was already sent, and the pace
        counts from the last of them.
        """
        with self._lock:
            last = None
            for t in grants:
                self._global.log.append(t)
                last = t
            if last is not None:
                self._last_grant = self._anchor = max(self._anchor, last)

    def set_limits(self, rate: float, critical_limit: int | None) -> None:
        """Change the configured rate and critical limit, keeping the windows' history.

        ``critical_limit=None`` lifts the critical group's extra limit. Waiters re-check at once.
        """
        _check_number("rate", rate, positive=True)
        with self._lock:
            self._rate_max = float(rate)
            self._ceiling = min(self._ceiling, self._rate_max)
            self._min_rate = self._min_rate_cfg if self._min_rate_cfg is not None else rate / 16.0
            self._global.limit = max(1, math.floor(rate * self._window))
            self._interval = (1.0 + self._margin) * max(
                self._window / self._global.limit, 1.0 / rate
            )
            if self._critical is not None:
                self._critical.limit = critical_limit if critical_limit is not None else _UNLIMITED
                self._critical.wake_head()
            self._global.wake_head()

    def lease(self, rate: float, critical_limit: int | None) -> Callable[[], None]:
        """Register a client's configured limits; return the function that unregisters them.

        While several clients of one key are open, the strictest configuration applies (the
        server counts per key). When a client closes, the limits of the clients still open apply
        again; the windows' history is kept, so a new client never starts with a fresh budget.
        """
        token = object()
        with self._lock:
            self._leases[id(token)] = (float(rate), critical_limit)
            self._apply_leases()

        def release() -> None:
            with self._lock:
                if self._leases.pop(id(token), None) is not None and self._leases:
                    self._apply_leases()

        # Keep the token alive as long as the release function (ids must stay unique).
        release.token = token  # type: ignore[attr-defined]
        return release

    def _apply_leases(self) -> None:
        rates = [r for r, _ in self._leases.values()]
        crits = [c for _, c in self._leases.values() if c is not None]
        self.set_limits(min(rates), min(crits) if crits else None)

    @property
    def paused_until(self) -> float:
        """The limiter-clock time until which the global group is paused (``-inf`` if never)."""
        return self._global.paused_until

    # -- acquire ------------------------------------------------------------------------------

    async def acquire(
        self,
        group: str | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        priority: Priority | None = None,
    ) -> float:
        """Wait for a slot for one request of ``group``; return seconds waited.

        ``priority`` is the call's lane: ``"interactive"`` (the default) is served before every
        queued ``"bulk"`` call; within a lane the order is FIFO.
        """
        lane: Priority = "interactive" if priority is None else check_priority(priority)
        start = self._clock()
        deadline = None if timeout is None else start + timeout
        gate = self._global
        crit = self._critical if group == CRITICAL_GROUP else None
        if crit is None:
            # Fast path: nobody queued ahead of this lane and a slot free now.
            with self._lock:
                if not gate.queued(lane):
                    interval = self._pace_interval()
                    allowed = gate.next_time(start, self._anchor, interval)
                    if allowed <= start:
                        self._grant(allowed, start, interval)
                        return 0.0
            await self._wait(gate, deadline, start, lane, reserve=False)
            return self._clock() - start
        await self._wait(crit, deadline, start, lane, reserve=True)
        try:
            await self._wait(gate, deadline, start, lane, reserve=False)
        except BaseException:
            with self._lock:
                crit.pending -= 1
                crit.wake_head()
            raise
        with self._lock:
            # The critical slot counts from when the request actually goes out. Committing it
            # may make the group's next waiter due (one waiting on a reserved slot has no
            # timer): wake it to re-check.
            crit.pending -= 1
            crit.log.append(self._last_grant)
            crit.wake_head()
        return self._clock() - start

    async def _wait(
        self, gate: _Gate, deadline: float | None, start: float, lane: Priority, *, reserve: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        me = _Waiter(loop, gate.bulk if lane == "bulk" else gate.waiters)
        lock = self._lock
        with lock:
            me.queue.append(me)
        paced = gate is self._global
        try:
            while True:
                with lock:
                    now = self._clock()
                    is_head = gate.head() is me
                    if is_head:
                        interval = self._pace_interval() if paced else 0.0
                        anchor = self._anchor if paced else -math.inf
                        t = gate.next_time(now, anchor, interval)
                        if t <= now:
                            me.queue.popleft()
                            if reserve:
                                gate.pending += 1
                            elif paced:
                                self._grant(t, now, interval)
                            else:
                                gate.log.append(now)
                            gate.wake_head()
                            return
                        if deadline is not None and t > deadline:
                            raise LimiterTimeout(
                                f"no rate-limit slot before the deadline (next in {t - now:.2f}s)",
                                earliest=t - start,
                            )
                        wake_at = t
                    else:
                        if deadline is not None and gate.paused_until > deadline:
                            raise LimiterTimeout(
                                "the key's requests are paused past the deadline after a 429",
                                earliest=gate.paused_until - start,
                            )
                        wake_at = deadline if deadline is not None else math.inf
                    if deadline is not None and now >= deadline:
                        raise LimiterTimeout("no rate-limit slot before the deadline")
                    # Created under the lock, so a wake from another thread cannot slip between
                    # the check above and the wait below.
                    fut: asyncio.Future[None] = loop.create_future()
                    me.fut = fut
                handle = None
                if wake_at != math.inf:
                    handle = loop.call_later(max(0.0, wake_at - now), _wake, fut)
                try:
                    await fut
                finally:
                    if handle is not None:
                        handle.cancel()
        except BaseException:
            # Cancelled or timed out: leave the queue and hand the turn on, so no slot leaks.
            with lock:
                was_head = gate.head() is me
                try:
                    me.queue.remove(me)
                except ValueError:
                    was_head = False
                if was_head:
                    gate.wake_head()
            raise

    # -- 429 feedback --------------------------------------------------------------------------

    def report_rate_limited(self, group: str | None, retry_after: float | None) -> float:
        """Pause every caller of ``group`` (``None``: all callers) and adapt the pace."""
        with self._lock:
            now = self._clock()
            gate = self._critical if (group == CRITICAL_GROUP and self._critical) else self._global
            if retry_after is not None:
                pause = retry_after
            elif gate is self._global or not gate.log:
                pause = gate.window
            else:
                # No hint on a group limit: wait until the oldest grant we know of leaves the
                # window.
                pause = max(gate.log[0] + gate.window - now, self._global.window)
            if gate is self._global and now - self._since >= gate.window:
                # Decrease once per window (the 429s of requests already in flight belong to the
                # same overload).
                self._learn_ceiling(now)
            until = now + pause
            if until > gate.paused_until:
                gate.paused_until = until
            return pause

    def _learn_ceiling(self, now: float) -> None:
        """Lower the pace after a 429 of the global group to a ceiling learned from the log."""
        gate = self._global
        gate.prune(now)
        pace = self.current_rate()
        probing_from = self._ceiling if self._adapting else None
        # The server refused at this many of our grants per window (in configured-rate units: a
        # pace r puts r * window grants in the log's window); some may still have been in
        # flight, hence the ``n - 1`` and the backoff.
        n = len(gate.log)
        observed = min(self._backoff * n, n - 1.0) / self._window
        ceiling = min(self._backoff * pace, max(pace / 2.0, observed))
        ceiling = max(ceiling, min(self._min_rate, pace))
        if probing_from is not None and ceiling >= 0.9 * probing_from:
            # Found about the same ceiling again: it is likely the server's real limit, so probe
            # later and 4x more slowly next time.
            self._probe = max(self._probe / 4.0, self._probe_cfg / 64.0)
            self._hold = min(2.0 * self._hold, 16.0 * self._hold_cfg, 0.5 * self._recovery)
        else:
            self._probe = self._probe_cfg
            self._hold = self._hold_cfg
        # Whatever the hold and probe, the configured rate is back ``recovery`` seconds after
        # the pause: a probe slowed by confirmations (or a deep cut) otherwise took an hour.
        ramp = self._recovery - self._hold
        self._probe = max(self._probe, (self._rate_max / ceiling - 1.0) / ramp)
        self._ceiling = ceiling
        self._since = now
        self._adapting = True
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "rate limiter: 429 at %.3g/s with %d grants in the last window: pace now %.3g/s, "
                "probing +%.2g%%/s after %.3gs",
                pace,
                n,
                ceiling,
                100.0 * self._probe,
                self._hold,
            )


# Strong references on purpose: a limiter must outlive its clients, or a client created right
# after another one closed would start with an empty window and could exceed the server's limit.
# One small object per API key used in the process.
_registry: dict[str, InProcessLimiter] = {}
_registry_lock = threading.Lock()


def _key_id(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def shared_limiter(
    api_key: str,
    *,
    rate: float = 5.0,
    critical_limit: int | None = 15,
    window: float = 1.0,
    critical_window: float = 60.0,
) -> InProcessLimiter:
    """The process-wide :class:`InProcessLimiter` of ``api_key`` (created on first use).

    Every client with the same key gets the same limiter, because the server counts per key.
    Clients register their configured limits with :meth:`InProcessLimiter.lease` (the strictest
    of the open clients applies); ``rate``/``critical_limit`` here only configure a new limiter.
    """
    key_id = _key_id(api_key)
    with _registry_lock:
        limiter = _registry.get(key_id)
        if limiter is None:
            limiter = InProcessLimiter(
                rate,
                window=window,
                # Always create the critical gate so a later client can turn the group limit on.
                critical_limit=critical_limit if critical_limit is not None else _UNLIMITED,
                critical_window=critical_window,
            )
            _registry[key_id] = limiter
        return limiter


# -- rate_limit=None: the server's pause, and nothing else -------------------------------------


class _Ticket:
    """A caller held by a pause: its release time on the pause's clock (later 429s move it)."""

    __slots__ = ("time",)

    def __init__(self, at: float) -> None:
        self.time = at


class _PauseGate:
    """The pause of one group of one key and the release of the callers it holds."""

    __slots__ = (
        "cap",
        "granted",
        "last",
        "log",
        "paused_until",
        "rate",
        "refused",
        "sent",
        "tickets",
        "window",
    )

    def __init__(self, window: float) -> None:
        self.window = window
        #: Grant times of the last ``window`` seconds (what a 429 is measured against).
        self.log: deque[float] = deque()
        self.paused_until = -math.inf
        #: The callers held, in release order.
        self.tickets: deque[_Ticket] = deque()
        #: The release time of the newest ticket (the next one comes one interval later).
        self.last = -math.inf
        #: The newest grant.
        self.granted = -math.inf
        #: The release pace learned from the 429s, per second (``inf``: no pacing).
        self.rate = math.inf
        #: The overload being paused: grants in the window before its first 429, its 429s so far,
        #: and the release pace it interrupted (``inf``: none).
        self.sent = 0
        self.refused = 0
        self.cap = math.inf

    def prune(self, now: float) -> None:
        log = self.log
        horizon = now - self.window
        while log and log[0] <= horizon:
            log.popleft()


class PauseState:
    """The shared 429 pause of one API key on one clock (see :class:`PauseOnlyLimiter`).

    Times are on ``clock``. A waiter that slept until a release time has *served* it: the pause's
    time line is never earlier than the latest such time (:meth:`now`), so a pause ends for every
    caller once it was slept through, even with an injected ``sleep`` that does not advance the
    injected clock.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        window: float = 1.0,
        critical_window: float = 60.0,
        margin: float = 0.02,
        backoff: float = 0.95,
    ) -> None:
        _check_number("window", window, positive=True)
        _check_number("critical_window", critical_window, positive=True)
        _check_number("margin", margin)
        _check_number("backoff", backoff, positive=True)
        if not backoff < 1.0:
            raise ConfigurationError(f"backoff must be > 0 and < 1, not {backoff!r}")
        self.clock = clock
        self.lock = threading.Lock()
        self.margin = float(margin)
        self.backoff = float(backoff)
        self.global_gate = _PauseGate(float(window))
        self.critical_gate = _PauseGate(float(critical_window))
        self.served = -math.inf
        #: Tasks that met a 429 in the current event-loop step, with the time they met it: the
        #: call retries in the same step, and waits the hint from that time (as it slept the
        #: hint itself without a limiter), not the hint less the time spent on the response.
        self.reported: weakref.WeakKeyDictionary[asyncio.Task[Any], float] = (
            weakref.WeakKeyDictionary()
        )

    def forget(self, task: asyncio.Task[Any]) -> None:
        """End ``task``'s report (called once its event-loop step is over)."""
        with self.lock:
            self.reported.pop(task, None)

    def now(self) -> float:
        """The pause's time: the clock, or the latest release time slept through if later."""
        t = self.clock()
        return t if t >= self.served else self.served

    def interval(self, gate: _PauseGate) -> float:
        """The gap between two releases of ``gate`` (0 when it does not pace)."""
        return (1.0 + self.margin) / gate.rate if gate.rate != math.inf else 0.0

    def free(self, gate: _PauseGate, now: float) -> bool:
        """Whether a call of ``gate`` may go at ``now`` without queueing."""
        if gate.tickets or now < gate.paused_until:
            return False
        interval = self.interval(gate)
        return interval == 0.0 or now >= gate.last + interval

    def grant(self, gate: _PauseGate, now: float) -> None:
        gate.log.append(now)
        gate.prune(now)
        gate.granted = now
        if now > gate.last:
            gate.last = now
        if not gate.tickets and now >= gate.paused_until:
            # Every caller the pause held is released: no pacing any more (rate_limit=None).
            gate.rate = math.inf

    def reschedule(self, gate: _PauseGate) -> None:
        """Release the held callers after the (new) pause, one interval apart, in order."""
        interval = self.interval(gate)
        at = gate.paused_until
        for ticket in gate.tickets:
            ticket.time = at
            at += interval
        # With nobody held, the first caller goes when the pause ends.
        gate.last = gate.tickets[-1].time if gate.tickets else gate.paused_until - interval


class PauseOnlyLimiter(RateLimiter):
    """The limiter of ``ScaledmailClient(rate_limit=None)``: no pacing, but the server's pause.

    Nothing waits until the server answers 429. A 429 pauses every caller of the key (of the
    critical group for a critical 429) until the hinted time (``Retry-After`` or the body's
    ``retryAfter``; without one the client reports its own backoff delay, and
    ``retry_after=None`` pauses one window), then releases the callers it holds spread out,
    one every ``(1 + margin) / rate`` seconds, where ``rate`` is learned from the overload: the
    grants of the window before the first 429 minus the 429s of that overload are what the
    server accepted, and the release runs at ``backoff`` (0.95) times that (a 429 during a
    release slows it to ``backoff`` times its pace). Calls made while the release lasts queue
    behind it; once every held caller is released, calls go out unpaced again: the client never
    paces without a pause.

    The pause is shared per API key and clock (:func:`pause_only_limiter`): the clients of a key
    in a process pause together. Waits use the client's injected ``sleep`` and times its
    ``clock``, so tests with a manual clock and an instant ``sleep`` never wait for real.
    Without an event-loop-bound state, one pause serves every thread's loop.
    """

    def __init__(
        self,
        state: PauseState,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.state = state
        self._sleep = sleep

    def __repr__(self) -> str:
        gate = self.state.global_gate
        return f"PauseOnlyLimiter(paused_until={gate.paused_until:g}, held={len(gate.tickets)})"

    @property
    def paused_until(self) -> float:
        """The clock time until which the key's calls are paused (``-inf`` if never)."""
        return self.state.global_gate.paused_until

    async def acquire(
        self,
        group: str | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> float:
        """Return at once unless a 429 paused the key (or ``group``); else wait for the release.

        Returns the seconds slept (on the injected ``sleep``).
        """
        state = self.state
        gate = state.global_gate
        if group != CRITICAL_GROUP:
            with state.lock:  # the fast path: no pause, nobody held
                now = state.now()
                if state.free(gate, now):
                    state.grant(gate, now)
                    return 0.0
            return await self._wait(gate, timeout)
        gates = (state.critical_gate, gate)
        with state.lock:
            now = state.now()
            if state.free(gates[0], now) and state.free(gate, now):
                for g in gates:
                    state.grant(g, now)
                return 0.0
        waited = 0.0
        for gate in gates:
            waited += await self._wait(gate, None if timeout is None else timeout - waited)
        return waited

    async def _wait(self, gate: _PauseGate, timeout: float | None) -> float:  # noqa: ASYNC109
        state = self.state
        with state.lock:
            now = state.now()
            if state.free(gate, now):
                state.grant(gate, now)
                return 0.0
            at = max(now, gate.paused_until, gate.last + state.interval(gate))
            if timeout is not None and at - now > timeout:
                raise LimiterTimeout(
                    f"the key's requests are paused past the deadline after a 429 "
                    f"(next in {at - now:.2f}s)",
                    earliest=at - now,
                )
            ticket = _Ticket(at)
            gate.tickets.append(ticket)
            gate.last = at
            task = _current_task()
            met = state.reported.pop(task, None) if task is not None else None
            if met is not None and met < now:
                now = met  # this call met the 429 in this step: wait the hint from then
        waited = 0.0
        slept_until: float | None = None
        reached = now
        try:
            delay = at - now
            while delay > 0.0:
                await self._sleep(delay)
                waited += delay
                reached += delay
                with state.lock:
                    # A 429 meanwhile may have moved the release later (measured from the release
                    # time slept to, not from the clock: an injected clock may stand still).
                    delay = ticket.time - reached
                if timeout is not None and delay > 0.0 and waited + delay > timeout:
                    raise LimiterTimeout(
                        "the key's requests are paused past the deadline after a 429",
                        earliest=waited + delay,
                    )
            slept_until = reached
        finally:
            with state.lock:
                last = bool(gate.tickets) and gate.tickets[-1] is ticket
                try:
                    gate.tickets.remove(ticket)
                except ValueError:  # pragma: no cover - removed once, here
                    pass
                if slept_until is None:
                    # Cancelled or timed out: a later caller must not queue behind its slot.
                    if last:
                        gate.last = (
                            gate.tickets[-1].time
                            if gate.tickets
                            else max(gate.granted, gate.paused_until - state.interval(gate))
                        )
                else:
                    if slept_until > state.served:
                        state.served = slept_until
                    state.grant(gate, state.now())
        return waited

    def report_rate_limited(self, group: str | None, retry_after: float | None) -> float:
        """Pause the key's callers (a critical 429: the critical group's) until the hint."""
        state = self.state
        with state.lock:
            now = state.now()
            gate = state.critical_gate if group == CRITICAL_GROUP else state.global_gate
            gate.prune(now)
            if retry_after is not None:
                pause = max(0.0, float(retry_after))
            elif gate is state.critical_gate and gate.log:
                # No hint on the group limit: until the oldest grant known leaves its window.
                pause = max(gate.log[0] + gate.window - now, state.global_gate.window)
            else:
                pause = gate.window
            if now >= gate.paused_until:
                # The first 429 of an overload: what the server accepted is measured against the
                # grants of the window before it (the others of the overload are in flight).
                gate.cap = gate.rate
                gate.sent = len(gate.log)
                gate.refused = 0
            gate.refused += 1
            if gate.cap != math.inf:
                gate.rate = state.backoff * gate.cap
            else:
                accepted = max(1, gate.sent - gate.refused)
                gate.rate = state.backoff * accepted / gate.window
            until = now + pause
            if until > gate.paused_until:
                gate.paused_until = until
            state.reschedule(gate)
            task = _current_task()
            if task is not None:
                state.reported[task] = now
                task.get_loop().call_soon(state.forget, task)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "pause after a 429 (rate_limit=None): %.3gs, then %d held call(s) released "
                    "at %.3g/s",
                    pause,
                    len(gate.tickets),
                    gate.rate,
                )
            return pause


_pause_strong: dict[tuple[str, Any], PauseState] = {}
_pause_weak: weakref.WeakValueDictionary[tuple[str, Any], PauseState] = (
    weakref.WeakValueDictionary()
)


def pause_only_limiter(
    api_key: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> PauseOnlyLimiter:
    """A :class:`PauseOnlyLimiter` on the process-wide pause of ``api_key`` on ``clock``.

    Every client of the key with the same clock shares one pause (the server counts per key); a
    pause on another clock (a test's manual clock) is another time line, so it has its own. Each
    limiter waits with its own ``sleep``. The states of the default clock live as long as the
    process (as :func:`shared_limiter`'s), the others as long as a limiter uses them.
    """
    try:
        hash(clock)
        clock_key: Any = clock
    except TypeError:  # an unhashable callable: its id is unique while its state holds it
        clock_key = id(clock)
    key = (_key_id(api_key), clock_key)
    strong = clock is time.monotonic
    with _registry_lock:
        state = _pause_strong.get(key) if strong else _pause_weak.get(key)
        if state is None:
            state = PauseState(clock)
            if strong:
                _pause_strong[key] = state
            else:
                _pause_weak[key] = state
    return PauseOnlyLimiter(state, sleep)
