"""Cancellation and shutdown: nothing is swallowed, nothing stays held.

* 100 calls (reads, safe writes, critical-group searches, purchases) are cancelled at seeded
  random moments: while queued in the rate limiter (global and critical gates), while the request
  is in flight (the fake delays some answers), and while sleeping before a retry (the fake
  answers 503 to some). Every cancelled task ends cancelled (never converted into a result or
  an error), no connection stays acquired, the limiter has no waiter or reservation left, and
  the next calls complete at once.
* Closing the client during ``poll_orders`` ends the poll with ``ClientClosedError``, releases
  its connections and limiter slots, and a new client of the same key works at once.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from reliability_helpers import acquired_connections, client_for, new_key

from scaledmail_async._limiter import InProcessLimiter
from scaledmail_async.bulk import poll_orders
from scaledmail_async.errors import ClientClosedError, ScaledmailError
from scaledmail_async.models import CreateCustomOrderBody
from scaledmail_async.testing import FakeScaledmail

SEED = 424242


def _limiter_idle(limiter: Any) -> None:
    """Assert the in-process limiter holds no waiter and no reserved slot."""
    assert isinstance(limiter, InProcessLimiter)
    gates = [limiter._global, limiter._critical]
    for gate in gates:
        if gate is None:
            continue
        assert not gate.waiters, gate.waiters
        assert gate.pending == 0


def _spend_body(i: int) -> CreateCustomOrderBody:
    return {
        "tag": f"cx-{i}",
        "providers": {
            "google": {
                "domains": [
                    {"domain": f"cancelname{i}.com", "first_name": "Lea", "last_name": "Moss"}
                ]
            }
        },
    }


async def test_cancel_100_inflight_calls_at_random_points() -> None:
    rng = random.Random(SEED)
    key = new_key("CANCEL")
    async with FakeScaledmail(
        api_key=key, rate_limit=None, critical_limit=None, taken_ratio=0.0
    ) as fake:
        org = fake.organization_id
        order_id = fake.state.org_orders(org)[0].id
        domain = fake.state.org_domains(org)[0].name
        # A third of the requests answer late (in flight when cancelled), a tenth answer 503
        # (the call is sleeping before its retry when cancelled).
        fake.faults.randomize(
            0.45,
            [("delay", {"seconds": 0.4})] * 3 + [("status", {"status": 503})],
            seed=SEED,
        )
        async with client_for(
            fake,
            rate_limit=60.0,
            critical_rate_limit=10,
            max_retries=3,
            timeout=5.0,
            backoff_base=0.3,
            backoff_max=0.6,
        ) as client:

            async def one(i: int) -> Any:
                kind = i % 5
                if kind == 0:
                    return await client.get_order_details(order_id)
                if kind == 1:
                    return await client.get_orders()
                if kind == 2:
                    return await client.update_domain_redirect(
                        domain, body={"new_redirect": f"https://c{i}.example"}
                    )
                if kind == 3:
                    return await client.search_domains(body={"domains": [f"cancelname{i}.com"]})
                return await client.create_custom_order(provider="buy", body=_spend_body(i))

            loop = asyncio.get_running_loop()
            tasks = [asyncio.create_task(one(i)) for i in range(100)]
            for task in tasks:
                loop.call_later(rng.uniform(0.0, 1.2), task.cancel)
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)

            cancelled = [t for t in tasks if t.cancelled()]
            finished = [o for o in outcomes if not isinstance(o, asyncio.CancelledError)]
            # Cancellation was never swallowed nor turned into an SDK error.
            assert all(
                not isinstance(o, BaseException) or isinstance(o, ScaledmailError) for o in finished
            )
            assert len(cancelled) + len(finished) == 100
            assert len(cancelled) >= 50, f"only {len(cancelled)} cancelled in flight"
            assert not [o for o in finished if isinstance(o, ClientClosedError)]

            await asyncio.sleep(0.1)  # aiohttp releases an aborted connection on the next tick
            assert acquired_connections(client) == 0
            _limiter_idle(client.limiter)

            # No purchase applied twice, whatever was cancelled when.
            tags: dict[str, int] = {}
            for record in fake.requests_for("create_custom_order"):
                if record.applied and isinstance(record.json, dict):
                    tags[record.json["tag"]] = tags.get(record.json["tag"], 0) + 1
            assert all(n == 1 for n in tags.values()), tags

            # The next calls work at once (nothing stuck in the limiter or the pool).
            fake.faults.clear()
            async with asyncio.timeout(3.0):
                await client.get_orders()
                results = await asyncio.gather(
                    *(client.get_order_details(order_id) for _ in range(10))
                )
            assert len(results) == 10
            assert acquired_connections(client) == 0
            _limiter_idle(client.limiter)
    print(
        f"\ncancellation: {len(cancelled)} cancelled, {len(finished)} finished before their "
        f"cancel; server received {len(fake.requests)} requests"
    )


async def test_close_client_during_bulk_poll() -> None:
    key = new_key("POLL")
    async with FakeScaledmail(api_key=key, rate_limit=None, critical_limit=None) as fake:
        org = fake.organization_id
        order_ids = [o.id for o in fake.state.org_orders(org)]
        assert len(order_ids) >= 3
        # Every poll answers late, so polls are in flight when the client closes.
        fake.faults.add("delay", count=10_000, operation="get_order_details", seconds=0.3)
        client = client_for(fake, rate_limit=20.0, timeout=5.0)
        events = 0

        async def consume() -> None:
            nonlocal events
            async with poll_orders(
                client,
                order_ids,
                until=lambda _d: False,
                interval=0.05,
                timeout=30.0,
                concurrency=4,
            ) as poller:
                async for _event in poller:
                    events += 1

        consumer = asyncio.create_task(consume())
        async with asyncio.timeout(5.0):
            while fake.request_count("get_order_details") < 6:  # noqa: ASYNC110 (server counter)
                await asyncio.sleep(0.02)
        assert not consumer.done()
        async with asyncio.timeout(5.0):
            await client.aclose()
            with pytest.raises(ClientClosedError):
                await consumer
        assert events >= 1
        assert client._transport._session is None  # the owned session was closed
        _limiter_idle(client.limiter)
        with pytest.raises(ClientClosedError):
            await client.get_orders()

        # A new client of the same key (same shared limiter) works at once.
        fake.faults.clear()
        async with client_for(fake, rate_limit=20.0) as again:
            assert again.limiter is client.limiter
            async with asyncio.timeout(3.0):
                details = await again.get_order_details(order_ids[0])
                await asyncio.gather(*(again.get_orders() for _ in range(5)))
            assert details.id == order_ids[0]
            assert acquired_connections(again) == 0
        _limiter_idle(client.limiter)
