"""Memory: peak RSS of ``poll_orders`` over 10,000 orders, against the process baseline.

The fake server runs in a **child process** (its state and request log stay out of this
process's memory). The measured process imports the SDK, creates the client and opens its
session, then reads its baseline (``VmRSS``); it then polls 10,000 orders (each Active on its
first poll) through ``poll_orders`` with the client limiter at the fake's scaled limit, consuming
and dropping the events as an application would, and reads its peak (``VmHWM`` from
``/proc/self/status``, cross-checked with ``resource.getrusage(RUSAGE_SELF).ru_maxrss``). RSS is
also sampled every 0.5 s to show whether it grows with the number of orders done. ``tracemalloc``
is not used: its overhead (about 2x CPU) would change the pacing being measured.

    .venv/bin/python bench/memory.py [--quick] [--orders N] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import time

from _common import FakeProcess, machine_summary, ratio_line, rss_kib

from scaledmail_async._client import ScaledmailClient
from scaledmail_async.bulk import poll_orders


async def _poll(
    fake: FakeProcess, limit: float, samples: list[tuple[float, int, int]]
) -> dict[str, float]:
    async with ScaledmailClient(
        fake.api_key, organization_id=fake.organization_id, base_url=fake.base_url, rate_limit=limit
    ) as client:
        gc.collect()
        baseline = rss_kib("VmRSS")
        done = 0
        start = time.perf_counter()
        next_sample = start
        async with poll_orders(
            client, fake.order_ids, interval=0.0, concurrency=8, timeout=600.0
        ) as poller:
            async for event in poller:
                if event.done:
                    done += 1
                now = time.perf_counter()
                if now >= next_sample:
                    samples.append((now - start, done, rss_kib("VmRSS")))
                    next_sample = now + 0.5
        elapsed = time.perf_counter() - start
        samples.append((elapsed, done, rss_kib("VmRSS")))
        return {
            "baseline": baseline,
            "elapsed": elapsed,
            "done": done,
            "completed": len(poller.completed),
            "failed": len(poller.failed),
        }


def main(argv: list[str] | None = None) -> None:
    """Run the memory benchmark and print its figures and ratio lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=300, help="server limit, requests/second")
    args = parser.parse_args(argv)
    if args.quick:
        args.orders = 200
    print(f"memory benchmark: {machine_summary()}", flush=True)
    with FakeProcess(
        orders=args.orders,
        domains_per_order=2,
        api_keys=["sk_bench_memory"],
        rate_limit=args.limit,
        activate_after_polls=0,
    ) as fake:
        samples: list[tuple[float, int, int]] = []
        result = asyncio.run(_poll(fake, float(args.limit), samples))
        stats = fake.stats()
    peak = rss_kib("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    baseline = int(result["baseline"])
    print(
        f"-- poll_orders over {args.orders} orders (each Active on its first poll), fake limit "
        f"{args.limit}/s, client limit {args.limit}/s, concurrency 8; fake in a child process"
    )
    print(
        f"   elapsed {result['elapsed']:.1f}s, {int(result['completed'])} completed, "
        f"{int(result['failed'])} failed, {stats['requests']} requests, "
        f"{stats['rate_limited']} 429s"
    )
    print(
        f"   baseline RSS {baseline / 1024:.1f} MiB, peak RSS (VmHWM) {peak / 1024:.1f} MiB "
        f"(ru_maxrss {maxrss / 1024:.1f} MiB), growth {(peak - baseline) / 1024:.1f} MiB = "
        f"{(peak - baseline) * 1024 / max(1, args.orders):.0f} bytes per order"
    )
    step = max(1, len(samples) // 8)
    shown = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    print(
        "   RSS samples (s, orders done, MiB): "
        + ", ".join(f"({t:.0f}, {d}, {kib / 1024:.1f})" for t, d, kib in shown)
    )
    ratio_line("memory.peak_vs_baseline_rss", peak / baseline)
    ratio_line("memory.growth_mib", (peak - baseline) / 1024)
    ratio_line("memory.growth_bytes_per_order", (peak - baseline) * 1024 / max(1, args.orders))


if __name__ == "__main__":
    main()
