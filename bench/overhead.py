"""Overhead: ``get_order_details`` through the SDK vs raw aiohttp vs httpx, same local server.

A plain ``aiohttp.web`` server in a **child process** (so that its CPU time is not taken from the
client's event loop; on a 2-core machine the server gets one core and the client the other)
answers ``GET /api/v1/orders/{id}`` with a fixed, realistic 20-domain order body. Each variant
makes ``--calls`` calls with ``--concurrency`` worker coroutines:

- ``sdk``: ``ScaledmailClient(rate_limit=None).get_order_details(id)`` (validation, URL building,
  transport, error mapping, ``json.loads`` and structuring into ``OrderDetails``);
- ``aiohttp``: one ``aiohttp.ClientSession``, ``session.get(url, headers=<the SDK's headers>)``
  and ``await resp.json()`` (the floor: the SDK's own transport library, no model);
- ``httpx``: ``httpx.AsyncClient`` (keep-alive pool raised to the concurrency, so it does not
  reconnect) with ``resp.json()``: what most generated SDKs use.

The variants run interleaved for several rounds (order rotated every round) and the medians are
reported, because the machine is noisy. Besides requests per second, the client process's CPU
time per request is reported (``time.process_time``): it is the cost when the server is not the
bottleneck.

    .venv/bin/python bench/overhead.py [--quick] [--calls N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from _common import drive, machine_summary, median, order_body, order_server_main, ratio_line

from scaledmail_async._client import ScaledmailClient
from scaledmail_async._transport import default_user_agent

_API_KEY = "sk_bench_0123456789abcdef"
_ORG = "recOrgBench000001"
_ORDER = "recPay0000000000A"


# ------------------------------------------------------------------------------- the server


# ------------------------------------------------------------------------------- the variants

Call = Callable[[], Awaitable[object]]


async def _run(port: int, calls: int, concurrency: int, rounds: int) -> dict[str, list[float]]:
    base = f"http://127.0.0.1:{port}/api/v1"
    url = f"{base}/orders/{_ORDER}?organization_id={_ORG}"
    headers = {
        "Authorization": f"Bearer {_API_KEY}",
        "User-Agent": default_user_agent(),
        "Accept": "application/json",
    }
    results: dict[str, list[float]] = {}
    async with (
        ScaledmailClient(_API_KEY, organization_id=_ORG, base_url=base, rate_limit=None) as sdk,
        aiohttp.ClientSession() as session,
        httpx.AsyncClient(
            headers=headers,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=concurrency),
        ) as hx,
    ):

        async def via_sdk() -> object:
            details = await sdk.get_order_details(_ORDER)
            assert details.id == _ORDER
            return details

        async def via_aiohttp() -> object:
            async with session.get(url, headers=headers) as resp:
                resp.raise_for_status()
                data = await resp.json()
            assert data["id"] == _ORDER
            return data

        async def via_httpx() -> object:
            resp = await hx.get(url)
            resp.raise_for_status()
            data = resp.json()
            assert data["id"] == _ORDER
            return data

        variants: dict[str, Call] = {"sdk": via_sdk, "aiohttp": via_aiohttp, "httpx": via_httpx}
        names = list(variants)
        for name in names:  # warm-up: connections opened, hooks built, caches filled
            await drive(variants[name], min(calls, 200), concurrency)
        for r in range(rounds):
            for name in names[r % 3 :] + names[: r % 3]:
                wall, cpu = await drive(variants[name], calls, concurrency)
                results.setdefault(f"{name}.rps", []).append(calls / wall)
                results.setdefault(f"{name}.cpu_us", []).append(cpu / calls * 1e6)
    return results


def main(argv: list[str] | None = None) -> None:
    """Run the overhead benchmark and print its figures and ratio lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    parser.add_argument("--calls", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.rounds = 100, 1
    print(f"overhead benchmark: {machine_summary()}", flush=True)
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    server = ctx.Process(target=order_server_main, args=(child,), daemon=True)
    server.start()
    child.close()
    try:
        port: int = conn.recv()
        results = asyncio.run(_run(port, args.calls, args.concurrency, args.rounds))
    finally:
        conn.send("stop")
        server.join(10)
        if server.is_alive():
            server.kill()
            server.join()
        conn.close()
    med = {k: median(v) for k, v in results.items()}
    print(
        f"-- {args.calls} get_order_details calls (20-domain order, "
        f"{len(order_body(20, 1)):,} bytes), concurrency {args.concurrency}, "
        f"server in a child process, median of {args.rounds} interleaved rounds"
    )
    for name in ("sdk", "aiohttp", "httpx"):
        spread = ", ".join(f"{v:.0f}" for v in sorted(results[f"{name}.rps"]))
        print(
            f"   {name:<8} {med[name + '.rps']:8.0f} req/s   "
            f"client CPU {med[name + '.cpu_us']:6.0f} us/request   (rounds: {spread})"
        )
    rps = med["sdk.rps"] / med["aiohttp.rps"]
    ratio_line("overhead.sdk_vs_aiohttp_rps", rps, ">= 0.85", rps >= 0.85)
    ratio_line("overhead.httpx_vs_aiohttp_rps", med["httpx.rps"] / med["aiohttp.rps"])
    ratio_line("overhead.sdk_vs_httpx_rps", med["sdk.rps"] / med["httpx.rps"])
    ratio_line("overhead.sdk_vs_aiohttp_cpu", med["sdk.cpu_us"] / med["aiohttp.cpu_us"])


if __name__ == "__main__":
    main()
