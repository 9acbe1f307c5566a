"""RedisRateLimiter against a real ``redis-server`` (started per test) and real OS processes.

Nothing here mocks Redis: the guarantees rest on its atomic scripts, its clock and its restarts.
Rates are scaled up (20-50/s) so each test takes a few seconds; no test asserts a wall-clock
duration, only counts (requests in any window, 429s, requests sent) and hang bounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from redis_server import RedisServer

import scaledmail_async
from scaledmail_async import (
    LimiterUnavailableError,
    RedisRateLimiter,
    ScaledmailClient,
    priority,
)
from scaledmail_async._limiter_redis import _Bound
from scaledmail_async.testing import FakeScaledmail

WORKER = str(Path(__file__).with_name("redis_worker.py"))
KEY_ID = "ab" * 32


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` inside any half-open window of ``window`` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run_workers(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run one worker process per config concurrently; return their JSON results."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            WORKER,
            json.dumps(cfg),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for cfg in configs
    ]
    results = []
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


def worker_cfg(fake: FakeScaledmail, redis_url: str, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "api_key": fake.api_key,
        "base_url": fake.base_url,
        "organization_id": fake.organization_id,
        "redis_url": redis_url,
    }
    cfg.update(extra)
    return cfg


def test_import_does_not_import_redis() -> None:
    code = "import sys, scaledmail_async; assert 'redis' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_options_are_configuration_errors() -> None:
    with pytest.raises(scaledmail_async.ConfigurationError):
        RedisRateLimiter.from_url("http://127.0.0.1:6379")
    with pytest.raises(ValueError, match="rate"):
        RedisRateLimiter.from_url("redis://127.0.0.1:1/0", rate=float("inf"))
    with pytest.raises(ValueError, match="outage"):
        RedisRateLimiter.from_url("redis://127.0.0.1:1/0", outage="maybe")


async def test_one_process_paces_without_burst(redis_server: RedisServer) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=50)
    bound = limiter.bind(KEY_ID)
    times: list[float] = []

    async def one() -> None:
        await bound.acquire()
        times.append(time.monotonic())

    try:
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(75))), 30)
    finally:
        await limiter.aclose()
    assert len(times) == 75
    assert max_in_window(times) <= 50
    # Evenly paced from the start: no burst in any tenth of a second.
    assert max_in_window(times, 0.1) <= 6


async def test_state_is_keyed_by_a_hash_and_expires(redis_server: RedisServer) -> None:
    api_key = "sk_live_SECRET_redis_key_0123456789"
    async with FakeScaledmail(api_keys=(api_key,)) as fake:
        limiter = RedisRateLimiter.from_url(redis_server.url)
        async with ScaledmailClient(
            api_key, base_url=fake.base_url, organization_id=fake.organization_id, limiter=limiter
        ) as client:
            await client.get_orders()
            await client.search_domains(body={"domains": ["a-redis-test.com"]})
        # A client never closes a limiter it was given: it still works.
        await limiter.acquire()
        await limiter.aclose()
    r: Any = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        keys = [k.decode() for k in await r.keys("*")]
        assert keys, "the limiter wrote nothing to Redis"
        dump = b"".join([k.encode() for k in keys])
        for k in keys:
            assert await r.pttl(k) > 0, f"{k} never expires"
            kind = (await r.type(k)).decode()
            if kind == "zset":
                dump += b"".join(m for m, _ in await r.zrange(k, 0, -1, withscores=True))
            elif kind == "hash":
                dump += b"".join(a + b for a, b in (await r.hgetall(k)).items())
        assert api_key.encode() not in dump
        assert b"SECRET" not in dump
    finally:
        await r.aclose()


@pytest.mark.parametrize("algorithm", ["sliding_window", "fixed_window", "token_bucket"])
async def test_processes_share_one_limit(redis_server: RedisServer, algorithm: str) -> None:
    rate = 25
    async with FakeScaledmail(rate_limit=rate, rate_limit_algorithm=algorithm) as fake:
        cfg = worker_cfg(
            fake, redis_server.url, calls=20, rate=rate, options={"rate": rate}, concurrency=8
        )
        results = await run_workers([cfg, cfg, cfg])
        assert [r["errors"] for r in results] == [[], [], []]
        assert sum(r["ok"] for r in results) == 60
        assert fake.request_count(status=429) == 0
        assert fake.max_requests_in_window(1.0) <= rate
        assert sum(r["retries"] for r in results) == 0


async def test_env_variable_configures_every_client(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALEDMAIL_REDIS_URL", redis_server.url)
    async with FakeScaledmail(rate_limit=20) as fake:
        async with ScaledmailClient(
            fake.api_key,
            base_url=fake.base_url,
            organization_id=fake.organization_id,
            rate_limit=20,
        ) as client:
            assert isinstance(client.limiter, _Bound)
            await client.get_orders()
        cfg = worker_cfg(fake, redis_server.url, calls=15, rate=20, env=True, concurrency=8)
        env = dict(os.environ)
        proc_results = await run_workers([cfg, cfg])
        assert env["SCALEDMAIL_REDIS_URL"] == redis_server.url
        assert sum(r["ok"] for r in proc_results) == 30
        assert fake.request_count(status=429) == 0
        assert fake.max_requests_in_window(1.0) <= 20
        # The env limiter of this process is shared: close its clients of this loop.
        await client.limiter.limiter.aclose()
    scaledmail_async._limiter_redis._env_limiters.clear()


async def test_a_429_in_one_process_pauses_the_others(redis_server: RedisServer) -> None:
    rate = 20
    async with FakeScaledmail(rate_limit=None) as fake:
        cfg = worker_cfg(fake, redis_server.url, calls=40, rate=rate, options={"rate": rate})
        task = asyncio.ensure_future(run_workers([cfg]))
        await asyncio.sleep(0.8)
        here = RedisRateLimiter.from_url(redis_server.url, rate=rate)
        from scaledmail_async._limiter import _key_id

        bound = here.bind(_key_id(fake.api_key))
        reported_at = time.time()
        bound.report_rate_limited(None, 1.0)
        await asyncio.sleep(0.05)  # the pause reaches Redis
        (result,) = await task
        await here.aclose()
    sent = result["sent"]
    inside = [t for t in sent if reported_at + 0.1 < t < reported_at + 1.0]
    # At most the slot the worker had already booked goes out inside the pause.
    assert len(inside) <= 1, inside
    assert result["ok"] == 40
    after = sorted(t for t in sent if t >= reported_at + 1.0)
    assert after, "nothing was sent after the pause"
    # Released evenly after the pause: no burst.
    assert max_in_window(after, 0.2) <= 5


async def test_critical_group_across_processes(redis_server: RedisServer) -> None:
    async with FakeScaledmail(rate_limit=50, critical_limit=5, critical_window=1.5) as fake:
        opts = {"rate": 50, "critical_limit": 5, "critical_window": 1.5}
        cfg = worker_cfg(
            fake,
            redis_server.url,
            calls=6,
            rate=50,
            critical=5,
            options=opts,
            operation="search_domains",
            concurrency=6,
        )
        results = await run_workers([cfg, cfg])
        assert [r["errors"] for r in results] == [[], []]
        assert fake.request_count("search_domains", status=429) == 0
        assert fake.max_requests_in_window(1.5, ["search_domains"]) <= 5


async def test_killed_process_leaks_at_most_the_booking_horizon(redis_server: RedisServer) -> None:
    rate = 20
    async with FakeScaledmail(rate_limit=None) as fake:
        cfg = worker_cfg(fake, redis_server.url, calls=200, rate=rate, options={"rate": rate})
        proc = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, WORKER, json.dumps(cfg)], stdout=subprocess.DEVNULL
        )
        try:
            await asyncio.sleep(1.5)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        r: Any = redis_asyncio.Redis.from_url(redis_server.url)
        try:
            (log_key,) = [k for k in await r.keys("*:log")]
            newest = await r.zrange(log_key, -1, -1, withscores=True)
            sec, usec = await r.time()
            now_ms = sec * 1000 + usec / 1000
        finally:
            await r.aclose()
        interval_ms = 1000 * 1.02 / rate
        # What the dead process had booked ends within 2 intervals: far less than one window.
        assert newest and newest[0][1] - now_ms <= 2 * interval_ms + 1
        here = RedisRateLimiter.from_url(redis_server.url, rate=rate)
        from scaledmail_async._limiter import _key_id

        waited = await asyncio.wait_for(here.bind(_key_id(fake.api_key)).acquire(), 5)
        await here.aclose()
        assert waited < 1.0


async def test_redis_restart_mid_run(redis_server: RedisServer) -> None:
    rate = 20
    async with FakeScaledmail(rate_limit=rate) as fake:
        limiter = RedisRateLimiter.from_url(redis_server.url, rate=rate, retry_interval=0.2)
        times: list[float] = []
        async with ScaledmailClient(
            fake.api_key,
            base_url=fake.base_url,
            organization_id=fake.organization_id,
            rate_limit=rate,
            limiter=limiter,
        ) as client:

            async def one() -> None:
                await client.get_orders()
                times.append(time.monotonic())

            async def outage() -> None:
                await asyncio.sleep(0.6)
                redis_server.kill()
                await asyncio.sleep(0.8)
                redis_server.start()

            with_outage = asyncio.ensure_future(outage())
            await asyncio.wait_for(asyncio.gather(*(one() for _ in range(60))), 60)
            await with_outage
        await limiter.aclose()
        # Every call went out exactly once, none failed, and the limit held throughout
        # (the degraded local limit is rate / processes seen).
        assert len(times) == 60
        assert fake.request_count("get_orders") == 60
        assert fake.request_count(status=429) == 0
        assert fake.max_requests_in_window(1.0) <= rate


async def test_redis_down_with_outage_fail_sends_nothing(redis_server: RedisServer) -> None:
    async with FakeScaledmail() as fake:
        redis_server.kill()
        limiter = RedisRateLimiter.from_url(redis_server.url, outage="fail")
        async with ScaledmailClient(
            fake.api_key,
            base_url=fake.base_url,
            organization_id=fake.organization_id,
            limiter=limiter,
        ) as client:
            with pytest.raises(LimiterUnavailableError, match="nothing was sent"):
                await asyncio.wait_for(client.get_orders(), 5)
        await limiter.aclose()
        assert fake.request_count() == 0


async def test_hung_redis_degrades_instead_of_hanging(redis_server: RedisServer) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=50, socket_timeout=0.2)
    bound = limiter.bind(KEY_ID)
    await bound.acquire()
    redis_server.stop_responding()
    try:
        # Each acquire finishes (from the degraded local limit) instead of hanging.
        await asyncio.wait_for(asyncio.gather(*(bound.acquire() for _ in range(5))), 10)
    finally:
        redis_server.resume()
    await asyncio.wait_for(bound.acquire(), 5)
    await limiter.aclose()


async def test_interactive_calls_pass_a_deep_bulk_queue(redis_server: RedisServer) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=50)
    bound = limiter.bind(KEY_ID)
    order: list[str] = []

    async def bulk() -> None:
        await bound.acquire(priority="bulk")
        order.append("bulk")

    async def interactive() -> None:
        await bound.acquire(priority="interactive")
        order.append("interactive")

    bulk_tasks = [asyncio.ensure_future(bulk()) for _ in range(60)]
    await asyncio.sleep(0.2)
    before = len(order)
    await asyncio.wait_for(interactive(), 5)
    served_before = order.index("interactive") - before
    await asyncio.wait_for(asyncio.gather(*bulk_tasks), 30)
    await limiter.aclose()
    # Served within two slots of arriving, although ~50 bulk calls were queued ahead of it.
    assert served_before <= 2, order
    assert order.count("bulk") == 60


async def test_priority_context_reaches_the_limiter(redis_server: RedisServer) -> None:
    limiter = RedisRateLimiter.from_url(redis_server.url, rate=50)
    bound = limiter.bind(KEY_ID)
    lanes: list[str] = []
    original = bound.acquire

    async def spy(group: str | None = None, **kw: Any) -> float:
        lanes.append(kw.get("priority", "interactive"))
        return await original(group, **kw)

    async with FakeScaledmail(rate_limit=None) as fake:
        async with ScaledmailClient(
            fake.api_key,
            base_url=fake.base_url,
            organization_id=fake.organization_id,
            limiter=bound,
        ) as client:
            bound.acquire = spy  # type: ignore[method-assign]
            await client.get_orders()
            with priority("bulk"):
                await client.get_orders()
    await limiter.aclose()
    assert lanes == ["interactive", "bulk"]


async def test_shared_pace_is_back_at_the_rate_after_recovery(redis_server: RedisServer) -> None:
    # Issue 10: repeated 429s (another process's overload) cut the shared pace again and again;
    # at 1 % per second it took up to 25 minutes to climb back from the floor. However deep the
    # cut, the configured rate is back ``recovery`` seconds after the last pause.
    rate, recovery = 20.0, 3.0
    limiter = RedisRateLimiter.from_url(
        redis_server.url, rate=rate, recovery=recovery, probe_after=1.0
    )
    bound = limiter.bind(KEY_ID)
    base = 1.02 / rate
    try:
        for i in range(4):
            if i:
                await asyncio.sleep(1.1)  # the ceiling is learned at most once per window
            for _ in range(5):
                await bound.acquire()
            bound.report_rate_limited(None, 0.05)
        last = time.monotonic()
        await asyncio.sleep(0.1)  # the last 429 reaches Redis
        state = limiter._loop_state()
        _, _, cut, _ = await bound._reserve(state, None, "interactive")
        assert cut > 3 * base  # deep: each 429 lowered the learned ceiling again
        await asyncio.sleep(last + 2.0 - time.monotonic())  # held 1 s, then probing
        _, _, midway, _ = await bound._reserve(state, None, "interactive")
        assert base < midway < cut
        await asyncio.sleep(last + recovery + 0.3 - time.monotonic())
        _, _, back, _ = await bound._reserve(state, None, "interactive")
        assert back == pytest.approx(base)
    finally:
        await limiter.aclose()


async def test_the_cli_honours_the_redis_url(redis_server: RedisServer) -> None:
    # A real `scaledmail` process with SCALEDMAIL_REDIS_URL: its calls book slots in Redis.
    async with FakeScaledmail() as fake:
        env = dict(
            os.environ,
            SCALEDMAIL_API_KEY=fake.api_key,
            SCALEDMAIL_ORGANIZATION_ID=fake.organization_id,
            SCALEDMAIL_BASE_URL=fake.base_url,
            SCALEDMAIL_REDIS_URL=redis_server.url,
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "scaledmail_async",
            "orders",
            "get-orders",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert fake.request_count("get_orders") == 1
    r: Any = redis_asyncio.Redis.from_url(redis_server.url)
    try:
        keys = [k.decode() for k in await r.keys("*")]
    finally:
        await r.aclose()
    assert any(k.endswith(":log") for k in keys), keys
