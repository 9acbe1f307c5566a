"""The rate limiter: unit behaviour, and a real local server recording arrival times.

The server-side tests print the maximum number of requests seen in any window (the lead reports
the figure). Scaled-down configurations (e.g. 5 per 0.25 s) keep them fast; one test runs the real
default of 5 per second.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import itertools
import math
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from operation_helpers import make_op

from scaledmail_async._client import ScaledmailClient
from scaledmail_async._limiter import (
    InProcessLimiter,
    LimiterTimeout,
    _registry,
    _Waiter,
    shared_limiter,
)
from scaledmail_async._operation import Operation
from scaledmail_async._types import UNSET
from scaledmail_async.errors import APITimeoutError

StartServer = Callable[[web.Application], Awaitable[str]]


def max_in_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` inside any half-open window ``[t, t + window)``."""
    ts = sorted(times)
    return max((bisect.bisect_left(ts, t + window) - i for i, t in enumerate(ts)), default=0)


class Recorder:
    """A tiny test app: records (arrival time, path); ``respond`` may answer instead of 200."""

    def __init__(self, respond: Callable[[int, web.Request], web.Response | None] | None = None):
        self.arrivals: list[tuple[float, str]] = []
        self.respond = respond

    async def handle(self, request: web.Request) -> web.Response:
        index = len(self.arrivals)
        self.arrivals.append((time.monotonic(), request.path))
        if self.respond is not None:
            answer = self.respond(index, request)
            if answer is not None:
                return answer
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/v1/{tail:.*}", self.handle)
        return app

    def times(self, path_prefix: str = "/") -> list[float]:
        return [t for t, p in self.arrivals if p.startswith("/api/v1" + path_prefix)]


def _op(group: str | None, path: str = "/crit") -> Operation:
    return make_op(
        operation_id="crit_op" if group else "plain_op",
        tag="t",
        method="POST",
        path=path,
        path_params=(),
        rate_limit_group=group,
        organization="none",
    )


async def _exec(client: ScaledmailClient, op: Operation, *, raw: bool = False) -> Any:
    return await client._execute(
        op,
        path_params={},
        query={},
        body=UNSET,
        organization_id=UNSET,
        timeout=UNSET,
        deadline=UNSET,
        raw=raw,
    )


# -- against a real local server ------------------------------------------------------------


async def test_real_default_five_per_second(serve: StartServer, api_key: str) -> None:
    rec = Recorder()
    base = await serve(rec.app())
    async with ScaledmailClient(api_key, base_url=base) as client:  # rate_limit=5.0 default
        await asyncio.gather(*(client.request("GET", f"/n{i}") for i in range(12)))
    times = rec.times()
    worst = max_in_window(times, 1.0)
    print(f"default 5/s limiter, 12 concurrent calls: max requests in any 1 s window = {worst}")
    assert len(times) == 12
    assert worst <= 5
    # no burst at start-up: the first 5 are spread over most of a second
    assert times[4] - times[0] >= 0.8


async def test_scaled_startup_and_steady_state(serve: StartServer, api_key: str) -> None:
    rec = Recorder()
    base = await serve(rec.app())
    limiter = InProcessLimiter(20.0, window=0.25)  # 5 per 0.25 s
    async with ScaledmailClient(api_key, base_url=base, limiter=limiter) as client:
        await asyncio.gather(*(client.request("GET", f"/n{i}") for i in range(40)))
    times = rec.times()
    worst = max_in_window(times, 0.25)
    first_second = [t for t in times if t < times[0] + 1.0]
    print(f"5 per 0.25 s limiter, 40 concurrent calls: max in any 0.25 s window = {worst}")
    assert len(times) == 40
    assert worst <= 5
    assert max_in_window(first_second, 0.25) <= 5


async def test_429_pauses_everyone_then_releases_spread_out(
    serve: StartServer, api_key: str
) -> None:
    pause = 0.5

    def respond(index: int, request: web.Request) -> web.Response | None:
        if index == 10:
            return web.json_response(
                {"message": "Too many requests", "retryAfter": pause, "limit": "5/s"}, status=429
            )
        return None

    rec = Recorder(respond)
    base = await serve(rec.app())
    limiter = InProcessLimiter(20.0, window=0.25)
    async with ScaledmailClient(api_key, base_url=base, limiter=limiter) as client:
        results = await asyncio.gather(*(client.request("GET", f"/n{i}") for i in range(30)))
    assert all(r == {"ok": True} for r in results)
    times = rec.times()
    t429 = times[10]
    during = [t for t in times if t429 < t < t429 + pause - 0.03]
    after = [t for t in times if t >= t429 + pause - 0.03]
    worst = max_in_window(times, 0.25)
    first_second = [t for t in after if t < after[0] + 1.0]
    worst_after = max_in_window(first_second, 0.25)
    min_gap_after = min(b - a for a, b in itertools.pairwise(first_second))
    print(
        f"429 pause: {len(during)} request(s) during the {pause}s pause; max in any 0.25 s "
        f"window overall = {worst}, in the second after the pause = {worst_after}; smallest gap "
        f"after the pause = {min_gap_after * 1000:.1f} ms"
    )
    assert len(times) == 31  # 30 calls + the one retried
    assert len(during) == 0
    assert worst <= 5
    assert worst_after <= 5
    # released spread out at the pace (one per ~54 ms), not as a herd of waiters at once
    assert min_gap_after >= 0.025
    # the pace went down (to the learned ceiling)
    assert limiter.current_rate() < 20.0


async def test_two_clients_of_one_key_pause_together(serve: StartServer, api_key: str) -> None:
    pause = 0.4

    def respond(index: int, request: web.Request) -> web.Response | None:
        if index == 4:
            return web.json_response({"message": "Too many", "retryAfter": pause}, status=429)
        return None

    rec = Recorder(respond)
    base = await serve(rec.app())
    a = ScaledmailClient(api_key, base_url=base, rate_limit=20.0)
    b = ScaledmailClient(api_key, base_url=base, rate_limit=20.0)
    assert a.limiter is b.limiter  # one limiter per key per process
    async with a, b:
        await asyncio.gather(
            *(a.request("GET", f"/a/{i}") for i in range(8)),
            *(b.request("GET", f"/b/{i}") for i in range(8)),
        )
    times = rec.times()
    t429 = times[4]
    during = [(t, p) for t, p in rec.arrivals if t429 < t < t429 + pause - 0.03]
    after_a = [t for t in rec.times("/a/") if t > t429]
    after_b = [t for t in rec.times("/b/") if t > t429]
    print(f"shared 429 pause across two clients: {len(during)} request(s) during the pause")
    assert during == []
    assert after_a and after_b  # both clients still had work, and both waited
    assert min(after_a + after_b) >= t429 + pause - 0.03


async def test_critical_group_limit_and_no_head_of_line_blocking(
    serve: StartServer, api_key: str
) -> None:
    rec = Recorder()
    base = await serve(rec.app())
    limiter = InProcessLimiter(20.0, window=0.25, critical_limit=6, critical_window=2.0)
    crit, plain = _op("critical", "/crit"), _op(None, "/plain")
    async with ScaledmailClient(api_key, base_url=base, limiter=limiter) as client:
        await asyncio.gather(
            *(_exec(client, crit) for _ in range(8)), *(_exec(client, plain) for _ in range(10))
        )
    crit_times = rec.times("/crit")
    plain_times = rec.times("/plain")
    worst = max_in_window(crit_times, 2.0)
    print(f"critical 6 per 2 s: max critical requests in any 2 s window = {worst}")
    assert len(crit_times) == 8
    assert worst <= 6
    assert max_in_window(rec.times(), 0.25) <= 5
    # the critical calls waiting for their window never held up the plain ones
    assert max(plain_times) < sorted(crit_times)[6]


async def test_limiter_wait_is_reported_and_not_counted_in_attempt_timeout(
    serve: StartServer, api_key: str
) -> None:
    rec = Recorder()
    base = await serve(rec.app())
    limiter = InProcessLimiter(20.0, window=0.25)
    limiter.report_rate_limited(None, 0.4)
    async with ScaledmailClient(api_key, base_url=base, limiter=limiter, timeout=0.2) as client:
        result = await _exec(client, _op(None, "/x"), raw=True)
    assert result.parsed == {"ok": True}
    assert result.limiter_wait >= 0.35
    assert result.retries_taken == 0


async def test_limiter_fails_fast_when_pause_outlasts_deadline(
    serve: StartServer, api_key: str
) -> None:
    rec = Recorder()
    base = await serve(rec.app())
    limiter = InProcessLimiter(20.0)
    limiter.report_rate_limited(None, 5.0)
    async with ScaledmailClient(api_key, base_url=base, limiter=limiter, deadline=0.5) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"deadline of 0\.5s"):
            await client.request("GET", "/x")
        waited = time.monotonic() - started
    assert rec.arrivals == []
    assert waited < 0.4  # it did not sit out the deadline


# -- unit behaviour -------------------------------------------------------------------------


async def test_fifo_order() -> None:
    limiter = InProcessLimiter(50.0, window=0.1)
    order: list[int] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    tasks = []
    for i in range(15):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == list(range(15))


async def test_cancelled_waiters_leave_no_trace() -> None:
    limiter = InProcessLimiter(20.0, window=0.25)
    limiter.report_rate_limited(None, 0.15)
    granted: list[int] = []

    async def one(i: int) -> None:
        await limiter.acquire()
        granted.append(i)

    tasks = [asyncio.create_task(one(i)) for i in range(4)]
    await asyncio.sleep(0.02)
    tasks[0].cancel()  # the head
    tasks[2].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[0], asyncio.CancelledError)
    assert isinstance(done[2], asyncio.CancelledError)
    assert granted == [1, 3]
    assert not limiter._global.waiters


async def test_cancelled_critical_waiter_returns_its_reserved_slot() -> None:
    limiter = InProcessLimiter(50.0, critical_limit=1, critical_window=30.0)
    limiter.report_rate_limited(None, 0.2)  # global paused: a critical waiter holds a reservation
    waiter = asyncio.create_task(limiter.acquire("critical"))
    await asyncio.sleep(0.02)
    assert limiter._critical is not None and limiter._critical.pending == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter._critical.pending == 0
    # the critical budget (1) is still available: granted once the global pause ends
    await asyncio.wait_for(limiter.acquire("critical"), timeout=2.0)
    with pytest.raises(LimiterTimeout):
        await limiter.acquire("critical", timeout=0.2)


async def test_acquire_timeout_raises_at_once_when_wait_is_known_too_long() -> None:
    limiter = InProcessLimiter(5.0)
    limiter.report_rate_limited(None, 5.0)
    started = time.monotonic()
    with pytest.raises(LimiterTimeout) as info:
        await limiter.acquire(timeout=0.5)
    assert time.monotonic() - started < 0.2
    assert info.value.earliest is not None and info.value.earliest > 4.0
    assert not limiter._global.waiters


async def _take(limiter: InProcessLimiter, now: list[float], late: float = 0.0) -> float:
    """Take one global slot on the fake clock ``now``: jump to when it is due, plus ``late``.

    ``acquire(timeout=0)`` either grants at once or says (``earliest``) when it could; the clock
    then moves there, as a timer that fires ``late`` seconds late would. Returns the grant time.
    """
    while True:
        try:
            await limiter.acquire(timeout=0.0)
        except LimiterTimeout as exc:
            assert exc.earliest is not None
            now[0] += exc.earliest + late
        else:
            return now[0]


def _in_last_window(limiter: InProcessLimiter, times: list[float], at: float) -> int:
    return sum(1 for t in times if t > at - limiter._global.window)


async def test_pace_counts_from_due_times_so_timer_lateness_does_not_add_up() -> None:
    now = [1000.0]
    limiter = InProcessLimiter(50.0, clock=lambda: now[0])
    interval = 1.02 / 50
    await _take(limiter, now)
    times = [await _take(limiter, now, late=0.001) for _ in range(500)]
    elapsed = times[-1] - times[0]
    # Counted from the actual grant, each 1 ms of lateness added up: 499 * 21.4 ms = 10.68 s.
    # What remains (< 0.2 %) is the window log (actual times: the hard bound) passing 1 ms per
    # window on, and the first grant's bounded catch-up.
    assert 499 * interval <= elapsed <= 499 * interval * 1.002
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= interval - 0.25 * 0.02 - 1e-9  # never closer than the bounded catch-up
    assert max_in_window(times, 1.02 - 1e-9) <= 50


async def test_a_long_delay_moves_the_schedule_instead_of_being_caught_up() -> None:
    now = [1000.0]
    limiter = InProcessLimiter(50.0, clock=lambda: now[0])
    interval = 1.02 / 50
    catch_up = 0.25 * 0.02  # a quarter of the margin (20 ms at a 1 s window)
    await _take(limiter, now)
    times = [await _take(limiter, now) for _ in range(10)]
    times.append(await _take(limiter, now, late=0.05))  # a stalled event loop: 50 ms late
    times += [await _take(limiter, now) for _ in range(10)]
    after_stall = [b - a for a, b in itertools.pairwise(times[10:])]
    # only the bounded catch-up: no burst of the grants that were due during the stall
    assert min(after_stall) == pytest.approx(interval - catch_up)
    assert max(after_stall[1:]) == pytest.approx(interval)
    assert times[-1] - times[0] == pytest.approx(20 * interval + 0.05 - catch_up)
    assert max_in_window(times, 1.02 - 1e-9) <= 50


@pytest.mark.parametrize("rate", [5.0, 50.0])
async def test_the_window_log_bounds_any_lateness_and_idle_pattern(rate: float) -> None:
    rng = random.Random(f"limiter-{rate}")
    now = [1000.0]
    limiter = InProcessLimiter(rate, clock=lambda: now[0])
    limit = int(rate)
    times: list[float] = []
    for i in range(40 * limit):
        if rng.random() < 0.05:
            now[0] += rng.uniform(0.0, 0.5)  # nobody asked for a while
        late = rng.choice([0.0, 0.0005, 0.001, 0.003, rng.uniform(0.0, 0.04)])
        times.append(await _take(limiter, now, late=late))
        if i == 20 * limit:
            limiter.report_rate_limited(None, 0.3)
    assert max_in_window(times, 1.02 - 1e-9) <= limit
    # and the pace never let two grants closer than the interval minus the bounded catch-up
    gaps = [b - a for a, b in itertools.pairwise(times)]
    interval = 1.02 / rate
    assert min(gaps) >= interval - 0.25 * min(interval, 0.02) - 1e-9


async def test_a_stall_between_grant_and_send_pushes_the_grant_a_window_later() -> None:
    # A full garbage collection right after a grant delays that request's arrival by ~25 ms but
    # not the next grants; the grant one window later must keep its distance from the arrival.
    now = [1000.0]
    limiter = InProcessLimiter(50.0, clock=lambda: now[0])
    first = await _take(limiter, now)
    time.sleep(0.03)  # noqa: ASYNC251 - the caller's step (sending its request) stalls 30 ms
    await asyncio.sleep(0)  # the step ends
    assert limiter._global.log[0] >= first + 0.03
    times = [await _take(limiter, now) for _ in range(50)]
    assert times[-1] - first >= 1.02 + 0.03
    assert times[-2] - times[0] == pytest.approx(48 * 1.02 / 50)  # the pace itself is unchanged


async def test_a_429_sets_the_pace_to_the_throughput_the_server_refused() -> None:
    now = [1000.0]
    # configured at 60/s against a server that (say) allows 50/s
    limiter = InProcessLimiter(60.0, clock=lambda: now[0])
    times = [await _take(limiter, now) for _ in range(53)]
    n = _in_last_window(limiter, times, now[0])
    assert n == 53
    limiter.report_rate_limited(None, 1.0)
    ceiling = 0.95 * n  # the grants of the last window, backed off by 5 %
    assert limiter.current_rate() == pytest.approx(ceiling)
    limiter.report_rate_limited(None, 1.0)  # an in-flight request's 429: same overload
    assert limiter.current_rate() == pytest.approx(ceiling)
    assert limiter.paused_until == pytest.approx(now[0] + 1.0)
    # everyone waits for the pause, then the release is spread out at the new pace
    after = [await _take(limiter, now) for _ in range(5)]
    assert after[0] >= limiter.paused_until
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert all(g >= 1.02 / ceiling * 0.999 for g in gaps)
    # it holds there for 30 windows, then probes slowly above it: +1 % of it per second
    now[0] = limiter.paused_until + 29.0
    assert limiter.current_rate() == pytest.approx(ceiling)
    now[0] = limiter.paused_until + 30.0 + 10.0
    assert limiter.current_rate() == pytest.approx(ceiling * 1.10)
    now[0] += 100.0
    assert limiter.current_rate() == 60.0  # a transient 429 does not slow it forever


async def test_far_above_the_server_limit_the_pace_halves_first() -> None:
    now = [1000.0]
    limiter = InProcessLimiter(200.0, clock=lambda: now[0])
    for _ in range(52):
        await _take(limiter, now)
    limiter.report_rate_limited(None, 1.0)
    # 0.95 * 52 grants would be a 4x cut on one observation; at most halve the pace at once
    assert limiter.current_rate() == pytest.approx(100.0)
    now[0] = limiter.paused_until
    for _ in range(52):
        await _take(limiter, now)
    pace = limiter.current_rate()
    limiter.report_rate_limited(None, 1.0)
    assert limiter.current_rate() == pytest.approx(pace / 2)  # 100 -> 50: the server's 50/s

    # with few grants per window, the refused count minus one is the better bound
    small = InProcessLimiter(8.0, clock=lambda: now[0])
    for _ in range(6):
        await _take(small, now)
    small.report_rate_limited(None, 1.0)
    assert small.current_rate() == pytest.approx(5.0)  # not 0.95 * 6 = 5.7 (still > 5)


async def test_a_confirmed_ceiling_is_probed_more_slowly() -> None:
    now = [1000.0]
    limiter = InProcessLimiter(60.0, clock=lambda: now[0])
    for _ in range(53):
        await _take(limiter, now)
    limiter.report_rate_limited(None, 1.0)
    first = limiter.current_rate()
    # probing: 4 s after the hold the pace is 4 % above the ceiling, then a 429 again
    now[0] = limiter.paused_until + 30.0 + 4.0
    times = [await _take(limiter, now) for _ in range(60)]
    pace = limiter.current_rate()
    n = _in_last_window(limiter, times, now[0])
    limiter.report_rate_limited(None, 1.0)
    second = limiter.current_rate()
    assert second == pytest.approx(min(0.95 * pace, max(pace / 2, min(0.95 * n, n - 1.0))))
    assert 0.9 * first <= second < pace
    now[0] = limiter.paused_until + 59.0
    assert limiter.current_rate() == pytest.approx(second)  # the hold doubled: 60 s
    now[0] = limiter.paused_until + 60.0 + 10.0
    # 0.25 %/s instead of 1 %/s, but never so slow that 60/s is not back 120 s after the pause
    # (``recovery``): here the probe has to be (60 / second - 1) / 60 s per second
    probe = max(0.0025, (60.0 / second - 1.0) / 60.0)
    assert limiter.current_rate() == pytest.approx(second * (1.0 + 10.0 * probe))
    now[0] = limiter.paused_until + 120.0
    assert limiter.current_rate() == 60.0


async def test_an_idle_key_429_halves_the_pace_at_most_and_min_rate_is_a_floor() -> None:
    now = [1000.0]
    limiter = InProcessLimiter(5.0, clock=lambda: now[0])
    await _take(limiter, now)  # one request in the window: nothing to learn from
    limiter.report_rate_limited(None, None)
    assert limiter.current_rate() == pytest.approx(2.5)
    assert limiter.paused_until == pytest.approx(now[0] + 1.02)  # no hint: one window

    floored = InProcessLimiter(5.0, min_rate=4.0, clock=lambda: now[0])
    await _take(floored, now)
    floored.report_rate_limited(None, 1.0)
    assert floored.current_rate() == pytest.approx(4.0)


async def test_a_critical_429_pauses_only_the_critical_group() -> None:
    now = [1000.0]
    limiter = InProcessLimiter(5.0, clock=lambda: now[0])
    for _ in range(3):
        await _take(limiter, now)
    limiter.report_rate_limited("critical", 30.0)
    assert limiter.current_rate() == 5.0
    assert limiter.paused_until == -math.inf
    assert limiter._critical is not None
    assert limiter._critical.paused_until == pytest.approx(now[0] + 30.0)
    await _take(limiter, now)  # plain requests carry on at the pace
    with pytest.raises(LimiterTimeout) as info:
        await limiter.acquire("critical", timeout=0.0)
    earliest = info.value.earliest
    assert earliest is not None and earliest > 29.0
    assert earliest == pytest.approx(limiter._critical.paused_until - now[0])


def test_shared_limiter_per_key(api_key: str) -> None:
    one = shared_limiter(api_key, rate=5.0)
    assert shared_limiter(api_key, rate=5.0) is one
    assert shared_limiter(api_key + "x", rate=5.0) is not one
    release_default = one.lease(5.0, 15)
    release_strict = shared_limiter(api_key, rate=2.0).lease(2.0, 6)
    # While both clients are open, the stricter configuration wins.
    assert one.current_rate() == 2.0
    release_strict()  # the strict client closed: its limits no longer apply
    assert one.current_rate() == 5.0
    release_strict()  # idempotent
    assert one.current_rate() == 5.0
    release_default()
    assert api_key not in repr(one)
    assert all(api_key not in k for k in _registry.keys())


async def test_dead_loop_waiter_is_skipped() -> None:
    limiter = InProcessLimiter(1000.0)
    dead_loop = asyncio.new_event_loop()
    ghost = _Waiter(dead_loop, limiter._global.waiters)
    ghost.fut = dead_loop.create_future()
    dead_loop.close()
    limiter._global.waiters.append(ghost)
    await asyncio.wait_for(limiter.acquire(), timeout=1.0)
    assert not limiter._global.waiters


_CROSS_LOOP = InProcessLimiter(100.0, window=0.05)


@pytest.mark.parametrize("run", [1, 2])
async def test_module_level_limiter_survives_per_test_loops(run: int) -> None:
    # the same instance is used from two different event loops (pytest runs each test in its own)
    waits = await asyncio.gather(*(_CROSS_LOOP.acquire() for _ in range(8)))
    assert len(waits) == 8
    assert not _CROSS_LOOP._global.waiters


async def test_client_above_server_limit_converges_without_failing_calls(
    serve: StartServer, api_key: str
) -> None:
    # The server really allows 3 per 0.25 s; the client is configured for 5 per 0.25 s.
    accepted: list[float] = []
    rejected: list[float] = []

    def respond(index: int, request: web.Request) -> web.Response | None:
        now = time.monotonic()
        recent = [t for t in accepted if t > now - 0.25]
        if len(recent) >= 3:
            rejected.append(now)
            wait = recent[0] + 0.25 - now
            return web.json_response({"message": "Too many", "retryAfter": wait}, status=429)
        accepted.append(now)
        return None

    rec = Recorder(respond)
    base = await serve(rec.app())
    limiter = InProcessLimiter(20.0, window=0.25)
    async with ScaledmailClient(api_key, base_url=base, limiter=limiter) as client:
        results = await asyncio.gather(*(client.request("GET", f"/n{i}") for i in range(30)))
    print(f"client 20/s vs server 12/s: {len(rejected)} 429s for 30 calls, none failed")
    assert all(r == {"ok": True} for r in results)
    assert len(accepted) == 30
    assert len(rejected) <= 8
    assert limiter.current_rate() < 20.0


def test_limiter_outlives_its_clients(api_key: str) -> None:
    first = ScaledmailClient(api_key)
    assert first.limiter is not None
    ref = weakref.ref(first.limiter)
    del first
    gc.collect()
    assert ref() is not None  # a new client must continue the same window, not start afresh
    assert ScaledmailClient(api_key).limiter is ref()


async def test_closed_clients_do_not_keep_their_limits_on_the_key() -> None:
    """A client at 2/s that was closed must not throttle a later client of the same key."""
    key = "sk_test_lease_" + str(id(object()))
    async with ScaledmailClient(key, base_url="http://127.0.0.1:9/api/v1", rate_limit=2.0) as slow:
        limiter = slow.limiter
        assert isinstance(limiter, InProcessLimiter)
        assert limiter.current_rate() == 2.0
        async with ScaledmailClient(
            key, base_url="http://127.0.0.1:9/api/v1", rate_limit=50.0
        ) as fast:
            assert fast.limiter is limiter
            assert limiter.current_rate() == 2.0  # both open: the stricter wins
    async with ScaledmailClient(
        key, base_url="http://127.0.0.1:9/api/v1", rate_limit=50.0
    ) as later:
        assert later.limiter is limiter  # same key, same limiter (its history is kept)
        assert limiter.current_rate() == 50.0
