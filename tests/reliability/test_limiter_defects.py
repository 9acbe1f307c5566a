"""Issue 10, the limiter's defects, each against a real local server of this file's own making
(an aiohttp app recording arrival times, not the embedded fake):

1. the critical group wedged: a waiter queued behind reserved-but-uncommitted critical slots had
   no timer, and committing a slot did not wake it, so it (and every later critical call of the
   key) waited forever;
2. one key used from two threads, each with its own event loop: the process-wide limiter
   resolved another loop's futures from the wrong thread (stalls, lost wake-ups; asyncio debug
   mode reports the non-thread-safe call);
3. after 429s confirmed a lower ceiling the pace took about 65 minutes to climb back from 3.3/s to
   5/s; it now is back at the configured rate ``recovery`` (120 s) after the last pause.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from reliability_helpers import new_key

from scaledmail_async import ScaledmailClient
from scaledmail_async._limiter import InProcessLimiter
from scaledmail_async.errors import ConfigurationError
from scaledmail_async.models import SearchDomainsBody

#: The longest any test here lets a call run before calling it a hang.
HANG = 30.0


def max_in_window(times: list[float], window: float) -> int:
    ts = sorted(times)
    return max((bisect.bisect_left(ts, t + window) - i for i, t in enumerate(ts)), default=0)


class ThreadedServer:
    """An aiohttp app on its own event loop in a thread, recording (time, path) of arrivals and
    answering every operation with a plausible body (a list for search-domains)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.arrivals.append((time.monotonic(), request.path))
        if request.path.endswith("/search-domains"):
            return web.json_response([{"domain": "a.com", "status": "available", "price": 12}])
        return web.json_response({"total": 0, "payments": []})

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/v1/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}/api/v1"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        self.base_url = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(HANG)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(HANG)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(HANG)
        self.loop.close()

    def times(self, suffix: str) -> list[float]:
        return [t for t, p in self.arrivals if p.endswith(suffix)]


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer() as srv:
        yield srv


SEARCH: SearchDomainsBody = {"domains": ["a.com"]}


async def test_critical_group_never_wedges(server: ThreadedServer) -> None:
    # The case scaled down: 15 per 60 s becomes 3 per 1 s. One plain call, then more
    # concurrent critical calls than the group allows at once: the 4th waited on slots reserved
    # by the first three, with no timer, and nothing woke it when they were committed.
    limiter = InProcessLimiter(50.0, critical_limit=3, critical_window=1.0)
    async with ScaledmailClient(
        new_key("WEDGE"), base_url=server.base_url, organization_id="recOrg", limiter=limiter
    ) as client:
        await client.get_orders()
        calls = [client.search_domains(body=SEARCH) for _ in range(10)]
        results = await asyncio.wait_for(asyncio.gather(*calls), HANG)
        assert len(results) == 10
        # ... and the group keeps working afterwards
        await asyncio.wait_for(client.search_domains(body=SEARCH), HANG)
    crit = server.times("/search-domains")
    assert len(crit) == 11
    assert max_in_window(crit, 1.0) <= 3


def test_one_key_from_two_threads_each_with_its_own_loop(server: ThreadedServer) -> None:
    key = new_key("THREADS")
    per_thread = 40
    errors: list[BaseException] = []
    loop_errors: list[dict[str, Any]] = []
    done: list[int] = []

    async def job() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
        async with ScaledmailClient(
            key, base_url=server.base_url, organization_id="recOrg", rate_limit=40.0
        ) as client:
            for result in await asyncio.gather(
                *(client.get_orders() for _ in range(per_thread)), return_exceptions=True
            ):
                if isinstance(result, BaseException):
                    errors.append(result)
                else:
                    done.append(1)

    def run() -> None:
        try:
            # Debug mode raises on a future resolved from another thread than its loop's.
            asyncio.run(asyncio.wait_for(job(), HANG), debug=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG + 5)
    assert not any(t.is_alive() for t in threads), "a thread's calls hung"
    assert errors == [] and loop_errors == []
    assert len(done) == 2 * per_thread
    # one limit for the key across both loops
    assert max_in_window(server.times("/orders"), 1.0) <= 40


async def test_pace_recovers_within_two_minutes_after_repeated_429s() -> None:
    # Another process on the key: 10 s of 429s, each confirming about the same low ceiling
    # (the grants of a window at 3.3/s), so every confirmation doubled the hold and made the
    # probe 4x slower: the pace needed ~65 minutes to get from 3.3/s back to 5/s.
    now = [1000.0]
    limiter = InProcessLimiter(5.0, clock=lambda: now[0])
    end = now[0] + 10.0
    while now[0] < end:
        try:
            await limiter.acquire(timeout=0.0)
        except Exception as exc:  # LimiterTimeout: move the clock to when a slot is due
            now[0] += max(getattr(exc, "earliest", None) or 0.0, 0.001)
            continue
        now[0] += 0.3
        limiter.report_rate_limited(None, 0.1)
    assert limiter.current_rate() < 5.0
    last_pause_end = limiter.paused_until
    now[0] = last_pause_end + 60.0
    assert limiter.current_rate() < 5.0  # still careful a minute later
    now[0] = last_pause_end + 120.0
    assert limiter.current_rate() == 5.0  # back to the configured rate: bounded by `recovery`


def test_recovery_is_configurable_and_checked() -> None:
    now = [0.0]
    fast = InProcessLimiter(5.0, recovery=10.0, probe_after=60.0, clock=lambda: now[0])
    fast.report_rate_limited(None, 1.0)
    assert fast.current_rate() < 5.0
    now[0] = fast.paused_until + 10.0
    assert fast.current_rate() == 5.0  # the hold is capped at half of it
    for bad in (0, -1.0, float("inf"), float("nan"), "60"):
        with pytest.raises(ConfigurationError, match="recovery"):
            InProcessLimiter(5.0, recovery=bad)  # type: ignore[arg-type]
    for name in ("rate", "window", "margin", "probe"):
        with pytest.raises(ConfigurationError, match=name):
            InProcessLimiter(**{name: float("nan")})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="rate"):
        InProcessLimiter(float("inf"))
