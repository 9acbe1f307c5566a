"""Priority lanes in the in-process limiter: interactive calls pass queued bulk work, bulk work
still gets every slot they leave; the bulk helpers run in the bulk lane by default.

Against a real local aiohttp server recording arrivals; counts, never wall-clock bounds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from scaledmail_async import ScaledmailClient, priority
from scaledmail_async._lanes import Priority, current_priority
from scaledmail_async._limiter import InProcessLimiter
from scaledmail_async.bulk import map_concurrent, poll_orders, search_domains_all
from scaledmail_async.errors import ConfigurationError

StartServer = Callable[[web.Application], Awaitable[str]]


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the loop until ``condition()`` (a count other tasks update) holds."""
    while not condition():  # noqa: ASYNC110 - a plain counter, no event to wait on
        await asyncio.sleep(0.005)


class Arrivals:
    """A test app: records the order of arrivals by path (answers every operation)."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path.removeprefix("/api/v1"))
        if request.path.endswith("/organizations"):
            return web.json_response({"organizations": []})
        if request.path.endswith("/search-domains"):
            return web.json_response([{"domain": "a.com", "status": "available"}])
        if "/orders/" in request.path:
            return web.json_response(
                {"order": {"id": "o1", "status": "Active"}, "packages": [], "domains": []}
            )
        return web.json_response({"total": 0, "payments": []})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/v1/{tail:.*}", self.handle)
        return app


async def test_interactive_acquire_passes_a_deep_bulk_queue() -> None:
    limiter = InProcessLimiter(50.0)
    order: list[str] = []

    async def take(label: str, lane: str) -> None:
        await limiter.acquire(priority=lane)  # type: ignore[arg-type]
        order.append(label)

    bulk = [asyncio.create_task(take(f"b{i}", "bulk")) for i in range(60)]
    await until(lambda: len(order) >= 5)
    queued_at = len(order)
    await take("interactive", "interactive")
    # served at the next slot or the one after (a bulk head may already be due)
    assert order.index("interactive") - queued_at <= 2
    await asyncio.gather(*bulk)
    assert len(order) == 61  # bulk work still finished: every slot left went to it


async def test_lanes_apply_to_the_critical_group_too() -> None:
    limiter = InProcessLimiter(100.0, critical_limit=2, critical_window=0.2)
    order: list[str] = []

    async def take(label: str, lane: str) -> None:
        await limiter.acquire("critical", priority=lane)  # type: ignore[arg-type]
        order.append(label)

    bulk = [asyncio.create_task(take(f"b{i}", "bulk")) for i in range(8)]
    await until(lambda: len(order) >= 2)
    queued_at = len(order)
    await take("interactive", "interactive")
    assert order.index("interactive") - queued_at <= 2
    await asyncio.gather(*bulk)
    assert len(order) == 9


async def test_a_cancelled_bulk_waiter_hands_the_turn_on() -> None:
    limiter = InProcessLimiter(20.0)
    await limiter.acquire()
    first = asyncio.create_task(limiter.acquire(priority="bulk"))
    second = asyncio.create_task(limiter.acquire(priority="bulk"))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.wait_for(second, 5)  # not stuck behind the cancelled head


async def test_bulk_helpers_queue_behind_a_direct_call(serve: StartServer, api_key: str) -> None:
    app = Arrivals()
    base = await serve(app.app())
    async with ScaledmailClient(
        api_key, base_url=base, organization_id="recOrg", rate_limit=20.0
    ) as client:

        async def one(_: int) -> object:
            return await client.get_orders()

        job = asyncio.create_task(map_concurrent(one, range(40), concurrency=40))
        await until(lambda: len(app.paths) >= 4)
        before = len(app.paths)
        await client.get_organizations()  # a direct call: the interactive lane
        results = await job
    assert all(r.error is None for r in results)
    position = app.paths.index("/organizations")
    assert position - before <= 2, app.paths[before : position + 1]


async def test_priority_scope_and_helper_argument_choose_the_lane(
    serve: StartServer, api_key: str
) -> None:
    seen: list[object] = []
    real = InProcessLimiter.acquire

    async def spy(
        self: InProcessLimiter,
        group: str | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        priority: Priority | None = None,
    ) -> float:
        seen.append(priority)
        return await real(self, group, timeout=timeout, priority=priority)

    app = Arrivals()
    base = await serve(app.app())
    mp = pytest.MonkeyPatch()
    mp.setattr(InProcessLimiter, "acquire", spy)
    try:
        async with ScaledmailClient(
            api_key, base_url=base, organization_id="recOrg", rate_limit=100.0
        ) as client:
            await client.get_orders()
            with priority("bulk"):
                assert current_priority() == "bulk"
                await client.get_orders()
            await search_domains_all(client, ["a.com"])
            await search_domains_all(client, ["a.com"], priority="interactive")
            async with poll_orders(client, ["o1"], interval=0.0) as poller:
                async for _ in poller:
                    pass
        seen_by_poller = seen[4:]
        del seen[4:]
        async with ScaledmailClient(
            api_key, base_url=base, organization_id="recOrg", priority="bulk"
        ) as worker:
            await worker.get_orders()  # the client's default lane
            with priority("interactive"):
                await worker.get_orders()  # the block wins
    finally:
        mp.undo()
    assert seen_by_poller and set(seen_by_poller) == {"bulk"}  # the poller's workers
    assert seen == [None, "bulk", "bulk", None, "bulk", None]


async def test_bad_lanes_are_refused_before_sending() -> None:
    with pytest.raises(ConfigurationError, match="'interactive' or 'bulk'"):
        with priority("urgent"):  # type: ignore[arg-type]
            pass

    async def fn(_: int) -> None:
        return None

    with pytest.raises(ConfigurationError, match="priority"):
        await map_concurrent(fn, [1], priority="high")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="priority"):
        await InProcessLimiter().acquire(priority="now")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="priority"):
        ScaledmailClient("sk_test_x", priority="later")  # type: ignore[arg-type]
