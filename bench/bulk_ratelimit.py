"""Bulk against the rate limit: ``poll_orders`` over many orders vs the server's limit floor.

The fake server (``scaledmail_async.testing.FakeScaledmail``, in a child process) enforces a
scaled-up limit (default 50 requests per second, sliding window, the strictest of its algorithms;
the real API allows 5/s, scaled so the run is short) and activates each order on its third poll
(``activate_after_polls=2``), so every order needs three polls. Three runs, each against a fresh
server and with its own API key (the SDK shares one limiter per key per process):

(a) ``poll_orders`` with the client limiter at the server's limit. Figure: elapsed time over the
    floor ``requests / limit`` (``requests``: the 200 responses the job needed), plus 429s and
    failed orders;
(b) the same with the client configured at twice the server's limit: the server's 429s (with
    ``Retry-After``) pause the shared limiter and its adaptive pace converges;
(c) the naive loop users write without the SDK: ``asyncio.gather`` over one coroutine per order,
    an ``asyncio.Semaphore``, raw aiohttp, and a fixed 1 s sleep after a 429.

``poll_orders`` runs with ``interval=0`` (the limiter is the only pacing, so the floor is the
right yardstick) and ``concurrency=8``.

    .venv/bin/python bench/bulk_ratelimit.py [--quick] [--orders N] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from _common import FakeProcess, machine_summary, ratio_line

from scaledmail_async._client import ScaledmailClient
from scaledmail_async.bulk import poll_orders

_POLLS_BEFORE_ACTIVE = 2  # the fake shows "Active" on poll number 3


@dataclass
class _Run:
    name: str
    elapsed: float
    ok: int
    total: int
    rate_limited: int
    failed: int
    completed: int

    def floor(self, limit: float) -> float:
        return self.ok / limit


def _fake(orders: int, limit: int, key: str) -> FakeProcess:
    return FakeProcess(
        orders=orders,
        domains_per_order=2,
        api_keys=[key],
        rate_limit=limit,
        rate_window=1.0,
        rate_limit_algorithm="sliding_window",
        activate_after_polls=_POLLS_BEFORE_ACTIVE,
    )


async def _sdk_run(
    fake: FakeProcess, client_limit: float, limit_s: float
) -> tuple[float, int, int]:
    async with ScaledmailClient(
        fake.api_key,
        organization_id=fake.organization_id,
        base_url=fake.base_url,
        rate_limit=client_limit,
    ) as client:
        start = time.perf_counter()
        async with poll_orders(
            client, fake.order_ids, interval=0.0, concurrency=8, timeout=limit_s
        ) as poller:
            async for _event in poller:
                pass
        elapsed = time.perf_counter() - start
        return elapsed, len(poller.failed), len(poller.completed)


async def _naive_run(fake: FakeProcess, concurrency: int) -> tuple[float, int, int]:
    """What users write by hand: gather + semaphore, sleep 1 s on a 429, no limiter."""
    url = fake.base_url + "/orders/{}"
    headers = {"Authorization": f"Bearer {fake.api_key}", "Accept": "application/json"}
    params = {"organization_id": fake.organization_id}
    sem = asyncio.Semaphore(concurrency)
    failed = 0
    completed = 0

    async with aiohttp.ClientSession(headers=headers) as session:

        async def watch(order_id: str) -> None:
            nonlocal failed, completed
            for _ in range(200):
                async with sem:
                    async with session.get(url.format(order_id), params=params) as resp:
                        if resp.status == 429:
                            await asyncio.sleep(1.0)
                            continue
                        if resp.status != 200:
                            failed += 1
                            return
                        data: dict[str, Any] = await resp.json()
                if data.get("status") == "Active" and all(
                    d.get("status") == "Active"
                    for p in data.get("packages", [])
                    for d in p.get("domains", [])
                ):
                    completed += 1
                    return
            failed += 1

        start = time.perf_counter()
        await asyncio.gather(*(watch(oid) for oid in fake.order_ids))
        return time.perf_counter() - start, failed, completed


def _scenario(name: str, orders: int, limit: int, key: str, run: Any) -> _Run:
    with _fake(orders, limit, key) as fake:
        elapsed, failed, completed = asyncio.run(run(fake))
        stats = fake.stats()
    return _Run(
        name=name,
        elapsed=elapsed,
        ok=int(stats["ok"]),
        total=int(stats["requests"]),
        rate_limited=int(stats["rate_limited"]),
        failed=failed,
        completed=completed,
    )


def main(argv: list[str] | None = None) -> None:
    """Run the three bulk scenarios and print their figures and ratio lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--limit", type=int, default=50, help="server limit, requests/second")
    parser.add_argument("--naive-concurrency", type=int, default=10)
    args = parser.parse_args(argv)
    if args.quick:
        args.orders, args.limit = 20, 100
    limit = args.limit
    timeout = max(60.0, 10 * args.orders * (_POLLS_BEFORE_ACTIVE + 1) / limit)
    print(f"bulk/rate-limit benchmark: {machine_summary()}", flush=True)
    print(
        f"-- {args.orders} orders, each Active on poll {_POLLS_BEFORE_ACTIVE + 1}; fake server "
        f"limit {limit}/s (sliding window, Retry-After sent); server in a child process"
    )

    runs = [
        _scenario(
            "a: SDK, client limit = server limit",
            args.orders,
            limit,
            "sk_bench_a",
            lambda fake: _sdk_run(fake, float(limit), timeout),
        ),
        _scenario(
            "b: SDK, client limit = 2x server limit",
            args.orders,
            limit,
            "sk_bench_b",
            lambda fake: _sdk_run(fake, 2.0 * limit, timeout),
        ),
        _scenario(
            f"c: naive gather+semaphore({args.naive_concurrency}), sleep 1 s on 429",
            args.orders,
            limit,
            "sk_bench_c",
            lambda fake: _naive_run(fake, args.naive_concurrency),
        ),
    ]
    for run in runs:
        print(
            f"   {run.name:<50} elapsed {run.elapsed:6.2f}s  floor {run.floor(limit):6.2f}s  "
            f"ratio {run.elapsed / run.floor(limit):5.3f}  200s {run.ok}  requests {run.total}  "
            f"429s {run.rate_limited}  failed {run.failed}  completed {run.completed}"
        )
    a, b, c = runs
    ratio_line(
        "bulk.a_elapsed_vs_floor",
        a.elapsed / a.floor(limit),
        "<= 1.03, 0 429s, 0 failed",
        a.elapsed / a.floor(limit) <= 1.03 and a.rate_limited == 0 and a.failed == 0,
    )
    ratio_line("bulk.a_429s", a.rate_limited)
    ratio_line(
        "bulk.b_elapsed_vs_floor",
        b.elapsed / b.floor(limit),
        "<= 1.25, 0 failed",
        b.elapsed / b.floor(limit) <= 1.25 and b.failed == 0,
    )
    ratio_line("bulk.b_429s", b.rate_limited)
    ratio_line("bulk.c_naive_elapsed_vs_floor", c.elapsed / c.floor(limit))
    ratio_line("bulk.c_naive_429s", c.rate_limited)
    ratio_line("bulk.c_naive_failed", c.failed)


if __name__ == "__main__":
    main()
