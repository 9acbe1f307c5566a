"""Issue 17.1: the server's pause is honoured with ``rate_limit=None`` too.

``rate_limit=None`` turns the client-side pacing off, but a 429 must still pause every caller of
the key until the hinted time and then release them spread out (not all at once), as the
in-process limiter does. Before the fix, 200 concurrent calls against a server allowing 20 per
second met about 600 429s and 120 of them failed with ``RateLimitError`` in 3.4 s.

The server of this file is an aiohttp app of its own: a sliding window of 20 requests per second,
answering 429 with ``Retry-After`` (the seconds until the oldest accepted request leaves the
window) beyond it. The unit tests inject a manual clock and a recording ``sleep``: the pause
runs on them, never on real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from scaledmail_async import ScaledmailClient
from scaledmail_async._limiter import (
    CRITICAL_GROUP,
    LimiterTimeout,
    PauseOnlyLimiter,
    pause_only_limiter,
)

StartServer = Callable[[web.Application], Awaitable[str]]


class SlidingWindowServer:
    """Allows ``limit`` requests in any ``window`` seconds; answers 429 + ``Retry-After`` (or the
    body's ``retryAfter``) beyond it, as the real API does."""

    def __init__(self, limit: int = 20, window: float = 1.0, *, header: bool = True) -> None:
        self.limit = limit
        self.window = window
        self.header = header
        self.accepted: list[float] = []
        self.refused: list[float] = []
        self.accepted_paths: list[tuple[float, str]] = []
        self.refused_paths: list[tuple[float, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        recent = [t for t in self.accepted if t > now - self.window]
        if len(recent) >= self.limit:
            self.refused.append(now)
            self.refused_paths.append((now, request.path))
            wait = recent[0] + self.window - now
            body = {"message": "Too many requests", "limit": f"{self.limit}/s"}
            if self.header:
                return web.json_response(body, status=429, headers={"Retry-After": f"{wait:.3f}"})
            return web.json_response({**body, "retryAfter": wait}, status=429)
        self.accepted.append(now)
        self.accepted_paths.append((now, request.path))
        return web.json_response({"ok": True, "organizations": []})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/v1/{tail:.*}", self.handle)
        return app


class Attempts:
    """A trace config recording ``(attempt number, status)`` of every response."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []
        self.config = aiohttp.TraceConfig()
        self.config.on_request_end.append(self._on_end)

    async def _on_end(
        self, session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestEndParams
    ) -> None:
        info = ctx.trace_request_ctx
        attempt = info["attempt"] if isinstance(info, dict) else 0
        self.seen.append((attempt, params.response.status))


# -- against a real local server ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "calls"), [(True, 200), (False, 100)], ids=["retry-after-header", "body-retryAfter"]
)
async def test_concurrent_calls_without_a_client_limit_all_succeed(
    serve: StartServer, api_key: str, header: bool, calls: int
) -> None:
    server = SlidingWindowServer(20, 1.0, header=header)
    base = await serve(server.app())
    attempts = Attempts()
    started = time.monotonic()
    async with ScaledmailClient(
        api_key, base_url=base, rate_limit=None, trace_configs=[attempts.config]
    ) as client:  # max_retries: the default (3)
        results = await asyncio.gather(
            *(client.request("GET", f"/n{i}") for i in range(calls)), return_exceptions=True
        )
    took = time.monotonic() - started
    failed = [r for r in results if isinstance(r, BaseException)]
    retried_429 = sum(1 for attempt, status in attempts.seen if attempt > 1 and status == 429)
    print(
        f"rate_limit=None, {calls} concurrent calls vs a 20/s server: {len(failed)} failed, "
        f"{len(server.refused)} 429s in all ({retried_429} on retries) in {took:.1f}s"
    )
    assert failed == []
    assert len(server.accepted) == calls
    # Unpaced, the first wave meets the window: 200 sent, 20 accepted, 180 refused. After it,
    # the pause and the spread release leave (almost) no 429 on the retries (before: ~420 of
    # the ~600, and 120 calls failed).
    assert retried_429 < 30
    assert len(server.refused) < calls - 20 + 30


async def test_two_clients_of_one_key_share_the_pause_without_a_limit(
    serve: StartServer, api_key: str
) -> None:
    server = SlidingWindowServer(5, 1.0)
    base = await serve(server.app())
    a = ScaledmailClient(api_key, base_url=base, rate_limit=None)
    b = ScaledmailClient(api_key, base_url=base, rate_limit=None)
    assert isinstance(a.limiter, PauseOnlyLimiter) and isinstance(b.limiter, PauseOnlyLimiter)
    assert a.limiter.state is b.limiter.state  # one pause per key per process
    limiter = a.limiter
    paused = asyncio.Event()
    report = limiter.report_rate_limited

    def reported(group: str | None, retry_after: float | None) -> float:
        pause = report(group, retry_after)
        paused.set()
        return pause

    limiter.report_rate_limited = reported  # type: ignore[method-assign]
    async with a, b:
        first = asyncio.gather(*(a.request("GET", f"/a/{i}") for i in range(10)))
        await paused.wait()  # a met the server's limit: the key is paused
        paused_until = limiter.paused_until
        # b's calls, made during a's pause, wait for it instead of meeting 429s of their own
        second = asyncio.gather(*(b.request("GET", f"/b/{i}") for i in range(3)))
        await asyncio.gather(first, second)
    b_arrivals = [t for t, path in server.accepted_paths if "/b/" in path]
    assert len(b_arrivals) == 3
    assert min(b_arrivals) >= paused_until - 0.01
    assert not [path for _, path in server.refused_paths if "/b/" in path]
    assert len(server.accepted) == 13


async def test_no_pacing_without_a_429(serve: StartServer, api_key: str) -> None:
    server = SlidingWindowServer(1000, 1.0)
    base = await serve(server.app())
    async with ScaledmailClient(api_key, base_url=base, rate_limit=None) as client:
        raw = await asyncio.gather(
            *(client.with_raw_response.get_organizations() for _ in range(50))
        )
    assert len(server.accepted) == 50
    assert all(r.limiter_wait == 0.0 for r in raw)
    # all 50 went out at once, far faster than any pace the SDK would otherwise use (5/s)
    assert server.accepted[-1] - server.accepted[0] < 1.0


# -- the pause on the client's injected clock and sleep -------------------------------------------


class ManualTime:
    """A manual clock with a ``sleep`` that advances it (and records each delay)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.delays: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        until = self.now + delay
        await asyncio.sleep(0)
        self.now = max(self.now, until)


def _limiter(api_key: str, t: ManualTime) -> PauseOnlyLimiter:
    return pause_only_limiter(api_key, clock=t.clock, sleep=t.sleep)


async def test_a_429_pauses_the_next_calls_on_the_injected_clock() -> None:
    t = ManualTime()
    limiter = _limiter("sk_test_pause_unit_1", t)
    # no 429 yet: no wait, no pacing
    assert [await limiter.acquire() for _ in range(30)] == [0.0] * 30
    assert t.delays == []
    for _ in range(10):  # 10 of the 30 refused: 20 accepted in the window
        assert limiter.report_rate_limited(None, 2.0) == 2.0
    assert limiter.paused_until == pytest.approx(1002.0)
    released: list[float] = []

    async def call() -> float:
        waited = await limiter.acquire()
        released.append(t.now)
        return waited

    started = time.monotonic()
    waits = await asyncio.gather(*(call() for _ in range(5)))
    assert time.monotonic() - started < 1.0  # manual time: nothing waited for real
    # the first waits the whole pause (2 s on the injected clock), the others are spread after it
    assert waits[0] == pytest.approx(2.0)
    assert min(released) >= 1002.0
    gaps = [b - a for a, b in zip(sorted(released), sorted(released)[1:], strict=False)]
    assert all(g == pytest.approx(1.02 / 19.0, rel=0.01) for g in gaps), gaps  # 0.95 x 20 / s
    # once the waiters are released, calls go out unpaced again
    t.now += 10.0
    assert [await limiter.acquire() for _ in range(5)] == [0.0] * 5


async def test_the_pause_with_a_sleep_that_does_not_advance_the_clock_ends() -> None:
    # A recording sleep that returns at once and a clock that never moves (what many tests
    # inject): each waiter sleeps its share once, no real time passes and nothing loops.
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    limiter = pause_only_limiter("sk_test_pause_unit_2", clock=lambda: 50.0, sleep=sleep)
    await limiter.acquire()
    limiter.report_rate_limited(None, 3.0)
    assert await asyncio.wait_for(limiter.acquire(), 1.0) == pytest.approx(3.0)
    assert delays == [pytest.approx(3.0)]
    # the pause was slept through: a later call does not wait for it again
    assert await asyncio.wait_for(limiter.acquire(), 1.0) == 0.0
    assert delays == [pytest.approx(3.0)]


async def test_a_429_without_hint_pauses_one_window_and_a_deadline_fails_fast() -> None:
    t = ManualTime()
    limiter = _limiter("sk_test_pause_unit_3", t)
    await limiter.acquire()
    assert limiter.report_rate_limited(None, None) == 1.0
    with pytest.raises(LimiterTimeout) as info:
        await limiter.acquire(timeout=0.5)
    assert info.value.earliest == pytest.approx(1.0)
    assert t.delays == []  # refused at once, nothing slept
    assert await limiter.acquire(timeout=5.0) == pytest.approx(1.0)


async def test_a_429_during_the_pause_moves_the_sleeping_waiters() -> None:
    t = ManualTime()
    limiter = _limiter("sk_test_pause_unit_4", t)
    await limiter.acquire()
    limiter.report_rate_limited(None, 1.0)
    gate = asyncio.Event()

    async def slow_sleep(delay: float) -> None:
        t.delays.append(delay)
        await gate.wait()
        t.now += delay

    limiter._sleep = slow_sleep
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    limiter.report_rate_limited(None, 3.0)  # the pause now ends 3 s from now
    limiter._sleep = t.sleep
    gate.set()
    assert await waiter == pytest.approx(3.0)
    assert t.now == pytest.approx(1003.0)


async def test_a_critical_429_pauses_only_the_critical_group() -> None:
    t = ManualTime()
    limiter = _limiter("sk_test_pause_unit_5", t)
    await limiter.acquire(CRITICAL_GROUP)
    limiter.report_rate_limited(CRITICAL_GROUP, 30.0)
    assert await limiter.acquire() == 0.0
    assert await limiter.acquire(CRITICAL_GROUP) == pytest.approx(30.0)


async def test_a_cancelled_waiter_leaves_no_ticket() -> None:
    t = ManualTime()
    limiter = _limiter("sk_test_pause_unit_6", t)
    await limiter.acquire()
    limiter.report_rate_limited(None, 1.0)
    blocked = asyncio.Event()

    async def never(delay: float) -> None:
        await blocked.wait()

    limiter._sleep = never
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    assert len(limiter.state.global_gate.tickets) == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not limiter.state.global_gate.tickets


def test_the_client_uses_its_clock_and_sleep_for_the_pause(api_key: str) -> None:
    t = ManualTime()
    client = ScaledmailClient(api_key, rate_limit=None, clock=t.clock, sleep=t.sleep)
    limiter = client.limiter
    assert isinstance(limiter, PauseOnlyLimiter)
    assert limiter.state.clock == t.clock
    assert limiter._sleep == t.sleep
    # clients of one key on the default clock share one pause
    one = ScaledmailClient(api_key, rate_limit=None)
    two = ScaledmailClient(api_key, rate_limit=None)
    assert isinstance(one.limiter, PauseOnlyLimiter) and isinstance(two.limiter, PauseOnlyLimiter)
    assert one.limiter.state is two.limiter.state
    assert one.limiter.state is not limiter.state  # another clock: another time line
    assert "rate_limit=off" in repr(one)
