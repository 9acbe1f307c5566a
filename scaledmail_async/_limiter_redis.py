"""A rate limiter whose state lives in Redis: one limit per API key across processes and hosts.

Why our own and not a library: none of the Redis limiters for Python gives "at most N in any
sliding window, evenly paced, no burst, timed by one clock, plus a shared pause after a 429"
(``limits`` and PyrateLimiter time windows with each host's clock and let N through at once;
throttled-py's GCRA bursts to 2N-1 and polls; redis-cell answers in whole seconds). The decision
is one short Lua script (``_lua/reserve.lua``), which mirrors :class:`InProcessLimiter`:

* **Atomic, one clock.** Each reservation is one ``EVALSHA`` timed by Redis ``TIME``; Redis runs
  scripts one at a time, so reservations are granted in the order they reach it from every
  process. The caller learns *how long* to wait and sleeps: no polling.
* **Bounded booking.** A slot is booked only when it is at most ``horizon_intervals`` pacing
  intervals ahead (2 by default); a caller told to wait longer sleeps until then and asks again.
  So a process that crashes (SIGKILL) or is cancelled leaks at most 2 intervals of capacity, and a
  429 seen by one process stops the others after at most the one slot each had booked.
* **Per process, only the head asks.** Each event loop has one dispatcher task per group that
  books one slot at a time for its queue (interactive lane first) and hands it, when due, to the
  first waiter in priority order: about one script call per grant, within redis-py's pool.
* **Lanes across processes.** Interactive calls may book up to ``horizon_intervals`` ahead, bulk
  calls only ``bulk_horizon_intervals`` (1): while bulk work of any process keeps the schedule
  full, the slot just past its tail stays reachable by an interactive call of any process, so
  one waits at most about two intervals. Bulk still takes every slot interactive calls leave.
* **Keys.** ``{prefix}:{<sha256(api key)[:16]>}:log|clog|st|procs`` (a hash tag, so a cluster
  keeps them in one slot); every key expires; the API key itself is never written to Redis.
* **429.** :meth:`report_rate_limited` pauses this process at once and writes the pause (and the
  lowered, shared pace) to Redis (``_lua/pause.lua``), so every process of the key waits until
  the hinted time and is then released one interval apart.

**When Redis is unavailable or slow** (refused, reset, no answer within ``socket_timeout``):
with ``outage="degrade"`` (the default) the limiter logs one WARNING and falls back to an
in-process limit of ``rate / K`` (K = the processes of the key seen in Redis during the last 10 s,
at least 1), then tries Redis again every ``retry_interval`` seconds and logs when it is back;
with ``outage="fail"`` each acquire raises :class:`LimiterUnavailableError` after at most
``socket_timeout`` and nothing is sent. Neither ever hangs or sends a request twice.

redis-py's traps (its issues #2624, #2517, #3351) shape the client it creates: one client per event
loop, a ``BlockingConnectionPool`` of a few connections, no client-level retries of the
(non-idempotent) script, short socket timeouts. ``redis`` is imported only when a limiter is
created, so ``import scaledmail_async`` never imports it.

Its size (about 730 lines): the per-loop Redis clients, the per-group dispatcher with two lanes,
and the degraded local mode with its recovery window; the decisions themselves are the Lua scripts
in ``_lua/``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import threading
import time
import uuid
import weakref
from collections import deque
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from scaledmail_async._config import shown
from scaledmail_async._env import REDIS_URL_ENV, env_value
from scaledmail_async._lanes import LANES, Priority, check_priority
from scaledmail_async._limiter import (
    CRITICAL_GROUP,
    InProcessLimiter,
    LimiterTimeout,
    RateLimiter,
    _key_id,
)
from scaledmail_async.errors import ConfigurationError, ScaledmailError

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis

__all__ = ["LimiterUnavailableError", "RedisRateLimiter", "env_redis_limiter"]

logger = logging.getLogger("scaledmail_async")

Outage = Literal["degrade", "fail"]


class LimiterUnavailableError(ScaledmailError):
    """The Redis rate limiter could not be reached (``outage="fail"``); nothing was sent."""


def _script(name: str) -> str:
    return resources.files("scaledmail_async").joinpath("_lua", name).read_text("utf-8")


def _require_redis() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "RedisRateLimiter needs redis-py: pip install 'scaledmail-async[redis]'"
        ) from exc
    return redis_asyncio


#: A slot handed out this many milliseconds after its time has its log entry moved.
_LATE_MS = 2.0


class _Waiter:
    __slots__ = ("deadline", "fut", "lane")

    def __init__(self, fut: asyncio.Future[bool], lane: Priority, deadline: float | None) -> None:
        self.fut = fut
        self.lane = lane
        self.deadline = deadline


class _Dispatcher:
    """The queue of one group on one event loop, and the task that books its slots."""

    def __init__(self, owner: _Bound, loop_state: _LoopState, group: str | None) -> None:
        self.owner = owner
        self.loop_state = loop_state
        self.group = group
        self.lanes: dict[Priority, deque[_Waiter]] = {"interactive": deque(), "bulk": deque()}
        self.task: asyncio.Task[None] | None = None
        self.arrived = asyncio.Event()

    def add(self, waiter: _Waiter) -> None:
        self.lanes[waiter.lane].append(waiter)
        if waiter.lane == "interactive":
            self.arrived.set()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
            self.loop_state.tasks.add(self.task)
            self.task.add_done_callback(self.loop_state.tasks.discard)

    def _head(self) -> _Waiter | None:
        for lane in LANES:
            q = self.lanes[lane]
            while q and q[0].fut.done():
                q.popleft()
            if q:
                return q[0]
        return None

    def _pop(self) -> _Waiter | None:
        head = self._head()
        if head is not None:
            self.lanes[head.lane].popleft()
        return head

    async def _run(self) -> None:
        owner = self.owner
        loop = asyncio.get_running_loop()
        while True:
            head = self._head()
            if head is None:
                return
            lane = head.lane
            if owner.limiter._degraded(loop.time()):
                self._release_all(fallback=True)
                return
            try:
                granted, delay, interval, member = await owner._reserve(
                    self.loop_state, self.group, lane
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if owner.limiter._outage == "fail":
                    self._fail_all(exc)
                    return
                owner.limiter._mark_down(exc, loop.time())
                self._release_all(fallback=True)
                return
            now = loop.time()
            due = now + delay
            if not granted:
                # Told to wait: sleep until the slot comes within the booking horizon (early when
                # an interactive call arrives while this was a bulk request), then ask again.
                self._expire(due)
                horizon = owner.limiter._horizon_for(lane)
                sleep_for = max(0.001, delay - horizon * interval)
                self.arrived.clear()
                if lane == "bulk":
                    try:
                        await asyncio.wait_for(self.arrived.wait(), sleep_for)
                    except TimeoutError:
                        pass
                else:
                    await asyncio.sleep(sleep_for)
                continue
            # Booked: sleep until the slot is due, then hand it to the first waiter by priority.
            if delay > 0:
                await asyncio.sleep(delay)
            paused = owner._local_pause(self.group)
            if paused > loop.time():
                # A 429 was seen meanwhile: this slot must not go out; wait and book again.
                await asyncio.sleep(paused - loop.time())
                continue
            waiter = self._pop()
            if waiter is not None:
                waiter.fut.set_result(False)
                # After the waiter's step (it writes its request there): if the slot went out
                # late (a busy or descheduled process), move its log entry by the lateness, so
                # later bookings keep their distance from the real arrival.
                loop.call_soon(self._went_out, member, due)

    def _went_out(self, member: str, due: float) -> None:
        late = asyncio.get_running_loop().time() - due
        lim = self.owner.limiter
        if late * 1000.0 < _LATE_MS or lim._degraded(asyncio.get_running_loop().time()):
            return
        task = asyncio.get_running_loop().create_task(self._move(member, late))
        self.loop_state.tasks.add(task)
        task.add_done_callback(self.loop_state.tasks.discard)

    async def _move(self, member: str, late: float) -> None:
        client: Any = self.loop_state.client
        keys = self.owner.keys
        try:
            await asyncio.shield(
                asyncio.wait_for(
                    client.zadd(keys[0], {member: late * 1000.0}, xx=True, incr=True),
                    self.owner.limiter._socket_timeout * 2,
                )
            )
        except Exception:  # best effort: the window margin still covers most lateness
            pass

    def _expire(self, due: float) -> None:
        """Fail at once the waiters whose deadline comes before the next possible slot."""
        now = asyncio.get_running_loop().time()
        for q in self.lanes.values():
            for w in list(q):
                if w.deadline is not None and w.deadline < due and not w.fut.done():
                    w.fut.set_exception(
                        LimiterTimeout(
                            f"no rate-limit slot before the deadline (next in {due - now:.2f}s)",
                            earliest=due - now,
                        )
                    )

    def _release_all(self, *, fallback: bool) -> None:
        for q in self.lanes.values():
            while q:
                w = q.popleft()
                if not w.fut.done():
                    w.fut.set_result(fallback)

    def _fail_all(self, exc: BaseException) -> None:
        for q in self.lanes.values():
            while q:
                w = q.popleft()
                if not w.fut.done():
                    w.fut.set_exception(
                        LimiterUnavailableError(
                            f"the Redis rate limiter is unavailable ({type(exc).__name__}: "
                            f"{exc}); nothing was sent. Check SCALEDMAIL_REDIS_URL / the Redis "
                            "server, or use outage='degrade' to fall back to a local limit."
                        )
                    )


class _LoopState:
    """What one event loop owns: its Redis client, scripts and dispatchers."""

    def __init__(self, client: Redis, owned: bool) -> None:
        self.client = client
        self.owned = owned
        self.reserve = client.register_script(_RESERVE)
        self.pause = client.register_script(_PAUSE)
        self.dispatchers: dict[tuple[str, str | None], _Dispatcher] = {}
        self.tasks: set[asyncio.Task[Any]] = set()


_RESERVE = _script("reserve.lua")
_PAUSE = _script("pause.lua")


class RedisRateLimiter(RateLimiter):
    """A :class:`RateLimiter` shared by every process and host that uses the same Redis.

    ``RedisRateLimiter.from_url("redis://127.0.0.1:6379/0")`` (the limiter creates and closes its
    own Redis clients, one per event loop) or ``RedisRateLimiter(redis_client)`` (yours, used on
    its own event loop, never closed by the limiter). Pass it as ``ScaledmailClient(limiter=...)``
    (the client binds it to a hash of its API key and never closes it), or set
    ``SCALEDMAIL_REDIS_URL`` so every client of the process uses one.

    Args:
        rate: requests per second per key (the API allows 5).
        critical_limit: slots per ``critical_window`` for the ``"critical"`` group (15), ``None``
            for none.
        window, critical_window: the windows in seconds (1 and 60).
        margin: safety fraction added to each window and interval (arrival jitter; 0.02).
        horizon_intervals: how far ahead an interactive call may book, in pacing intervals (2).
        bulk_horizon_intervals: the same for bulk calls (1; below ``horizon_intervals`` so that
            interactive calls of every process pass bulk work).
        outage: ``"degrade"`` (fall back to a local ``rate / K`` limit, with a WARNING) or
            ``"fail"`` (raise :class:`LimiterUnavailableError`) while Redis is unavailable.
        retry_interval: seconds between attempts to reach Redis again while degraded.
        socket_timeout: the longest a Redis call may take before it counts as an outage.
        key_prefix: the prefix of the Redis keys.
        namespace: the key hash used when the limiter is not bound to a client's API key.
        backoff, min_rate, probe, probe_after, recovery: the shared adaptive pace after a 429,
            as in :class:`InProcessLimiter` (the configured rate is back at most ``recovery``
            seconds, default 120, after the pause).
    """

    def __init__(
        self,
        redis_client: Redis | None = None,
        *,
        rate: float = 5.0,
        critical_limit: int | None = 15,
        window: float = 1.0,
        critical_window: float = 60.0,
        margin: float = 0.02,
        horizon_intervals: float = 2.0,
        bulk_horizon_intervals: float = 1.0,
        outage: Outage = "degrade",
        retry_interval: float = 1.0,
        socket_timeout: float = 0.25,
        key_prefix: str = "scaledmail",
        namespace: str = "default",
        backoff: float = 0.95,
        min_rate: float | None = None,
        probe: float = 0.01,
        probe_after: float | None = None,
        recovery: float = 120.0,
        _url: str | None = None,
    ) -> None:
        for name, value in (
            ("rate", rate),
            ("window", window),
            ("critical_window", critical_window),
            ("horizon_intervals", horizon_intervals),
            ("bulk_horizon_intervals", bulk_horizon_intervals),
            ("retry_interval", retry_interval),
            ("socket_timeout", socket_timeout),
            ("probe", probe),
            ("recovery", recovery),
        ):
            if not (_is_number(value) and value > 0 and math.isfinite(value)):
                raise ConfigurationError(
                    f"{name} must be a finite number > 0 (an int or float); got {shown(value)}"
                )
        if critical_limit is not None and (
            isinstance(critical_limit, bool)
            or not isinstance(critical_limit, int)
            or critical_limit < 1
        ):
            raise ConfigurationError(
                f"critical_limit must be an int >= 1, or None for no group limit; "
                f"got {shown(critical_limit)}"
            )
        if not (_is_number(margin) and 0 <= margin < 1):
            raise ConfigurationError(
                f"margin must be a number >= 0 and < 1 (a fraction of the window); "
                f"got {shown(margin)}"
            )
        if not (_is_number(backoff) and 0.0 < backoff < 1.0):
            raise ConfigurationError(f"backoff must be a number > 0 and < 1; got {shown(backoff)}")
        for option, given in (("min_rate", min_rate), ("probe_after", probe_after)):
            if given is not None and not (
                _is_number(given) and given >= 0 and math.isfinite(given)
            ):
                raise ConfigurationError(
                    f"{option} must be a finite number >= 0, or None for the default; "
                    f"got {shown(given)}"
                )
        if outage not in ("degrade", "fail"):
            raise ConfigurationError(
                f"outage must be 'degrade' or 'fail'; got {shown(outage, word=True)}"
            )
        for option, text in (("key_prefix", key_prefix), ("namespace", namespace)):
            if not isinstance(text, str) or not text:
                raise ConfigurationError(f"{option} must be a non-empty str; got {shown(text)}")
        if redis_client is None and _url is None:
            raise ConfigurationError(
                "pass a redis.asyncio.Redis client, or use RedisRateLimiter.from_url(url)"
            )
        self._client = redis_client
        self._url = _url
        self.rate = float(rate)
        self.critical_limit = critical_limit
        self.window = float(window)
        self.critical_window = float(critical_window)
        self.margin = float(margin)
        self._horizon = float(horizon_intervals)
        self._bulk_horizon = min(float(bulk_horizon_intervals), self._horizon)
        self._outage: Outage = outage
        self._retry_interval = float(retry_interval)
        self._socket_timeout = float(socket_timeout)
        self._prefix = key_prefix
        self._namespace = namespace
        self._backoff = backoff
        self._min_rate = float(min_rate) if min_rate is not None else self.rate / 16.0
        self._probe = probe
        self._recovery = float(recovery)
        hold = float(probe_after) if probe_after is not None else 30.0 * window
        self._hold = min(hold, 0.5 * self._recovery)
        self._lock = threading.Lock()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._bound: dict[str, _Bound] = {}
        self._down_until = -math.inf
        self._down_logged = False
        self._closed = False
        self._proc_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._members = itertools.count()
        self.default = self.bind(namespace)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisRateLimiter:
        """A limiter that connects to ``url`` (``redis://host:port/db``, ``rediss://``, ``unix://``).

        It creates one small Redis client per event loop that uses it and closes them in
        :meth:`aclose`. ``options`` are those of the constructor.
        """
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            given = repr(_shown_url(url)) if isinstance(url, str) else shown(url)
            raise ConfigurationError(
                f"url: a Redis URL is a str like redis://127.0.0.1:6379/0; got {given}"
            )
        _require_redis()
        return cls(None, _url=url, **options)

    def __repr__(self) -> str:
        target = "<redis client>" if self._url is None else _shown_url(self._url)
        crit = f"{self.critical_limit}/{self.critical_window:g}s" if self.critical_limit else "off"
        return (
            f"RedisRateLimiter({target}, rate={self.rate:g}/s, critical={crit}, "
            f"outage={self._outage!r})"
        )

    # -- binding to an API key -------------------------------------------------------------------

    def bind(self, key_id: str) -> _Bound:
        """The view of this limiter for one API key (``key_id``: its SHA-256 hex digest)."""
        with self._lock:
            bound = self._bound.get(key_id)
            if bound is None:
                bound = _Bound(self, key_id)
                self._bound[key_id] = bound
            return bound

    def for_api_key(self, key_id: str) -> RateLimiter:
        return self.bind(key_id)

    # -- RateLimiter -------------------------------------------------------------------------------

    async def acquire(
        self,
        group: str | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        priority: Priority = "interactive",
    ) -> float:
        """Wait for a slot of the unbound namespace (see :meth:`bind`)."""
        return await self.default.acquire(group, timeout=timeout, priority=priority)

    def report_rate_limited(self, group: str | None, retry_after: float | None) -> float:
        return self.default.report_rate_limited(group, retry_after)

    # -- internals -----------------------------------------------------------------------------

    def _horizon_for(self, lane: Priority) -> float:
        return self._horizon if lane == "interactive" else self._bulk_horizon

    def _interval(self) -> float:
        limit = max(1, math.floor(self.rate * self.window))
        return (1.0 + self.margin) * max(self.window / limit, 1.0 / self.rate)

    def _degraded(self, now: float) -> bool:
        return self._outage == "degrade" and now < self._down_until

    def _mark_down(self, exc: BaseException, now: float) -> None:
        with self._lock:
            self._down_until = now + self._retry_interval
            first = not self._down_logged
            self._down_logged = True
        if first:
            logger.warning(
                "Redis rate limiter unavailable (%s: %s): using a local limit of %.3g/s per "
                "process until Redis answers again (retrying every %gs)",
                type(exc).__name__,
                exc,
                self.rate / max(1, max((b.procs for b in self._bound.values()), default=1)),
                self._retry_interval,
            )

    def _mark_up(self) -> bool:
        """Note that Redis answered; return True when this ends an outage."""
        if not self._down_logged:
            return False
        with self._lock:
            was = self._down_logged
            self._down_logged = False
            self._down_until = -math.inf
        if was:
            logger.warning("Redis rate limiter reachable again: the shared limit applies")
        return was

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.get(loop)
            if state is None:
                if self._closed:
                    raise ConfigurationError("this RedisRateLimiter was closed")
                if self._client is not None:
                    state = _LoopState(self._client, owned=False)
                else:
                    assert self._url is not None
                    state = _LoopState(self._new_client(self._url), owned=True)
                self._loops[loop] = state
            return state

    def _new_client(self, url: str) -> Redis:
        redis_asyncio = _require_redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        pool = redis_asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=4,
            timeout=self._socket_timeout,
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=self._socket_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
        # from_pool: the client owns the pool, so aclose() also closes its connections.
        client: Redis = redis_asyncio.Redis.from_pool(pool)
        return client

    async def aclose(self) -> None:
        """Close the Redis clients this limiter created for the running loop (not yours).

        Call it from the loop that used the limiter; clients of other, closed loops are dropped.
        """
        with self._lock:
            self._closed = True
            states = list(self._loops.items())
            self._loops.clear()
        current = asyncio.get_running_loop()
        for loop, state in states:
            for task in list(state.tasks):
                task.cancel()
            if loop is current and state.owned:
                await state.client.aclose()


class _Bound(RateLimiter):
    """A :class:`RedisRateLimiter` bound to one API key hash (what a client uses)."""

    def __init__(self, limiter: RedisRateLimiter, key_id: str) -> None:
        self.limiter = limiter
        h = key_id[:16]
        p = limiter._prefix
        self.keys = [
            f"{p}:{{{h}}}:log",
            f"{p}:{{{h}}}:clog",
            f"{p}:{{{h}}}:st",
            f"{p}:{{{h}}}:procs",
        ]
        self.procs = 1
        self._pause: dict[str | None, float] = {}
        self._fallback: InProcessLimiter | None = None
        self._fallback_procs = 0
        #: When this process's latest grants through Redis were (loop time), to seed a fallback.
        self._recent: deque[float] = deque(maxlen=max(2, math.ceil(limiter.rate * limiter.window)))
        #: Until when (loop time) a grant must also pass the fallback limit (after an outage).
        self._recovering_until = -math.inf
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{self.limiter!r} (bound to one API key)"

    def _local_pause(self, group: str | None) -> float:
        until = self._pause.get(None, -math.inf)
        if group == CRITICAL_GROUP:
            until = max(until, self._pause.get(CRITICAL_GROUP, -math.inf))
        return until

    async def _reserve(
        self, state: _LoopState, group: str | None, lane: Priority
    ) -> tuple[bool, float, float, str]:
        lim = self.limiter
        member = f"{lim._proc_id}:{next(lim._members)}"
        critical = group == CRITICAL_GROUP and lim.critical_limit is not None
        limit = max(1, math.floor(lim.rate * lim.window))
        args: list[str | int | float] = [
            limit,
            lim.window * (1.0 + lim.margin) * 1000.0,
            lim._interval() * 1000.0,
            lim._horizon_for(lane),
            member,
            1 if critical else 0,
            lim.critical_limit or 0,
            lim.critical_window * (1.0 + lim.margin) * 1000.0,
            lim._proc_id,
            lim.rate,
            lim.margin,
            lim._hold * 1000.0,
            lim._probe,
            lim._recovery * 1000.0,
        ]
        # Shielded: a cancelled caller must not leave the connection mid-reply (redis-py #2624).
        reply = await asyncio.shield(
            asyncio.wait_for(state.reserve(keys=self.keys, args=args), lim._socket_timeout * 2)
        )
        if lim._mark_up() or self._fallback is not None:
            # Back from an outage: Redis lost (or never saw) the grants of the local fallback,
            # so for one window every grant also passes the fallback limit, which knows them.
            self._recovering_until = asyncio.get_running_loop().time() + lim.window * (
                1.0 + lim.margin
            )
        granted, delay_ms, iv_ms, procs = (float(x) for x in reply)
        self.procs = max(1, int(procs))
        return granted == 1.0, max(0.0, delay_ms / 1000.0), iv_ms / 1000.0, member

    def _fallback_limiter(self) -> InProcessLimiter:
        lim = self.limiter
        with self._lock:
            k = max(1, self.procs)
            if self._fallback is None or self._fallback_procs != k:
                crit = lim.critical_limit
                fallback = InProcessLimiter(
                    lim.rate / k,
                    window=lim.window,
                    critical_limit=max(1, crit // k) if crit is not None else None,
                    critical_window=lim.critical_window,
                    margin=lim.margin,
                )
                # It starts from what this process was granted through Redis in the last
                # window, so the switch itself adds no burst.
                fallback.seed(self._recent)
                self._fallback = fallback
                self._fallback_procs = k
            return self._fallback

    async def acquire(
        self,
        group: str | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        priority: Priority = "interactive",
    ) -> float:
        lane = check_priority(priority)
        loop = asyncio.get_running_loop()
        start = loop.time()
        lim = self.limiter
        if lim._degraded(start):
            return await self._fallback_limiter().acquire(group, timeout=timeout)
        state = lim._loop_state()
        gkey = (self.keys[0], group if group == CRITICAL_GROUP else None)
        dispatcher = state.dispatchers.get(gkey)
        if dispatcher is None:
            dispatcher = _Dispatcher(self, state, gkey[1])
            state.dispatchers[gkey] = dispatcher
        fut: asyncio.Future[bool] = loop.create_future()
        waiter = _Waiter(fut, lane, None if timeout is None else start + timeout)
        dispatcher.add(waiter)
        try:
            if timeout is None:
                use_fallback = await fut
            else:
                try:
                    use_fallback = await asyncio.wait_for(asyncio.shield(fut), timeout)
                except TimeoutError:
                    raise LimiterTimeout("no rate-limit slot before the deadline") from None
        finally:
            if not fut.done():
                fut.cancel()
        if use_fallback or (self._fallback is not None and loop.time() < self._recovering_until):
            remaining = None if timeout is None else max(0.0, start + timeout - loop.time())
            await self._fallback_limiter().acquire(group, timeout=remaining)
        else:
            if self._fallback is not None:
                self._fallback = None  # recovered: the shared limit alone applies again
            self._recent.append(loop.time())
        return loop.time() - start

    def report_rate_limited(self, group: str | None, retry_after: float | None) -> float:
        lim = self.limiter
        critical = group == CRITICAL_GROUP and lim.critical_limit is not None
        pause = retry_after if retry_after is not None else lim.window
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        now = loop.time() if loop is not None else time.monotonic()
        key = CRITICAL_GROUP if critical else None
        if now + pause > self._pause.get(key, -math.inf):
            self._pause[key] = now + pause
        if self._fallback is not None:
            self._fallback.report_rate_limited(group, retry_after)
        if loop is not None and not lim._degraded(now) and not lim._closed:
            state = lim._loop_state()
            args: list[str | int | float] = [
                -1.0 if retry_after is None else retry_after * 1000.0,
                1 if critical else 0,
                lim.window * (1.0 + lim.margin) * 1000.0,
                lim.critical_window * (1.0 + lim.margin) * 1000.0,
                lim.rate,
                lim._backoff,
                lim._min_rate,
                lim._hold * 1000.0,
                lim._probe,
                lim.window,
                lim._recovery * 1000.0,
            ]
            task = loop.create_task(self._write_pause(state, args))
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)
        return pause

    async def _write_pause(self, state: _LoopState, args: list[str | int | float]) -> None:
        try:
            await asyncio.wait_for(
                state.pause(keys=self.keys[:3], args=args), self.limiter._socket_timeout * 2
            )
        except Exception as exc:  # the local pause still holds; other processes see their 429s
            logger.warning("could not share a 429 pause through Redis (%s)", type(exc).__name__)


def _is_number(value: object) -> TypeGuard[int | float]:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown_url(url: str) -> str:
    """``url`` without its password."""
    from yarl import URL

    try:
        u = URL(url)
    except ValueError:
        return "<redis url>"
    return str(u.with_password(None)) if u.password else str(u)


# -- SCALEDMAIL_REDIS_URL -----------------------------------------------------------------------

_env_limiters: dict[tuple[str, float, int | None], RedisRateLimiter] = {}
_env_lock = threading.Lock()


def env_redis_limiter(
    api_key: str, *, rate: float, critical_limit: int | None
) -> RateLimiter | None:
    """The process-wide Redis limiter of ``$SCALEDMAIL_REDIS_URL`` bound to ``api_key``, or None."""
    url = env_value(REDIS_URL_ENV)
    if url is None:
        return None
    with _env_lock:
        key = (url, float(rate), critical_limit)
        limiter = _env_limiters.get(key)
        if limiter is None:
            limiter = RedisRateLimiter.from_url(url, rate=rate, critical_limit=critical_limit)
            _env_limiters[key] = limiter
    return limiter.bind(_key_id(api_key))
