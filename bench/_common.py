"""Shared helpers of the benchmark scripts (not a benchmark itself).

- realistic Get Order Details bodies of any size (:func:`order_body`), shaped like the documented
  example of ``/work/shared/scaledmail-api.md`` §3.15;
- a :class:`~scaledmail_async.testing.FakeScaledmail` running in a **child process**
  (:class:`FakeProcess`), so that the fake's CPU time and memory stay out of the measured process
  (the machine has few cores: a server sharing the client's event loop would make every figure a
  mix of both);
- the ``RATIO`` line format every script prints and ``run_all.py`` collects, medians, and the
  machine description.

Hand-written because each part is a few lines over the standard library (``multiprocessing``,
``statistics``); a benchmark framework (pyperf, pytest-benchmark) would not run the SDK against a
rate-limited server, which is the point of two of the four figures.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from importlib import metadata
from typing import Any

__all__ = [
    "FakeProcess",
    "machine_summary",
    "median",
    "order_body",
    "order_dict",
    "ratio_line",
    "rss_kib",
]

#: Prefix of the lines ``run_all.py`` collects (and the smoke test looks for).
RATIO_PREFIX = "RATIO"


def order_dict(domains: int, packages: int = 1, *, status: str = "Active") -> dict[str, Any]:
    """A Get Order Details body with ``domains`` domains spread over ``packages`` packages."""
    per, extra = divmod(domains, packages)
    pkgs: list[dict[str, Any]] = []
    n = 0
    for p in range(packages):
        count = per + (1 if p < extra else 0)
        doms = []
        for _ in range(count):
            doms.append(
                {"id": f"recDm{n:012d}", "name": f"northwind-mail-{n}.com", "status": status}
            )
            n += 1
        pkgs.append(
            {
                "type": "Google" if p % 2 == 0 else "Microsoft",
                "id": f"recPk{p:012d}",
                "note": "",
                "payment_id": "recPay0000000000A",
                "created_at": "2026-02-03T10:21:40.000Z",
                "total_domains": count,
                "status": status,
                "domains": doms,
            }
        )
    return {
        "id": "recPay0000000000A",
        "created_at": "2026-02-03T10:15:00.000Z",
        "amount": 84,
        "tag": "northwind-01",
        "status": status,
        "description": "SM - Google",
        "invoices": [],
        "total_domains": domains,
        "packages": pkgs,
        "addons": [],
        "current_items": [],
    }


def order_body(domains: int, packages: int = 1) -> bytes:
    """:func:`order_dict` as compact JSON bytes (what the server sends)."""
    import json

    return json.dumps(order_dict(domains, packages), separators=(",", ":")).encode()


def median(values: Iterable[float]) -> float:
    """The median (the machines are noisy: medians of interleaved rounds, not means)."""
    return statistics.median(list(values))


def ratio_line(name: str, value: float, target: str | None = None, ok: bool | None = None) -> str:
    """``RATIO <name> = <value> (target <target>: PASS|MISS)``, printed and returned."""
    text = f"{RATIO_PREFIX} {name} = {value:.3f}"
    if target is not None:
        verdict = "" if ok is None else (": PASS" if ok else ": MISS")
        text += f" (target {target}{verdict})"
    print(text, flush=True)
    return text


def rss_kib(field: str = "VmRSS") -> int:
    """A field of ``/proc/self/status`` in KiB (``VmRSS`` now, ``VmHWM`` the peak)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_summary() -> str:
    """One line: cores, CPU model, Python and the versions of the libraries compared."""
    versions = []
    for dist in ("scaledmail-async", "aiohttp", "attrs", "cattrs", "httpx", "pydantic", "msgspec"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    return (
        f"nproc={os.cpu_count()}, CPU {_cpu_model()}, Python {platform.python_version()} "
        f"({sys.implementation.name}), " + ", ".join(versions)
    )


# ------------------------------------------------------------------------ fake in a child process


def _seed(fake: Any, orders: int, domains_per_order: int) -> list[str]:
    """Create ``orders`` orders (one Google package each) in the fake's first organization."""
    from scaledmail_async.testing import DomainPlan

    org = fake.organization_id
    ids = []
    for i in range(orders):
        plans = [
            DomainPlan(name=f"bench{i}-{j}.com", provider="google", mailboxes=[])
            for j in range(domains_per_order)
        ]
        order = fake.state.create_order(
            org, plans, tag=f"bench-{i}", amount=84.0, description="SM - Google", source="bench"
        )
        ids.append(order.id)
    return ids


async def _serve(
    conn: multiprocessing.connection.Connection,
    options: dict[str, Any],
    orders: int,
    domains_per_order: int,
) -> None:
    from scaledmail_async.testing import FakeScaledmail

    async with FakeScaledmail(**options) as fake:
        ids = _seed(fake, orders, domains_per_order)
        conn.send(
            {
                "base_url": fake.base_url,
                "api_keys": list(fake.options.api_keys),
                "organization_id": fake.organization_id,
                "order_ids": ids,
            }
        )
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "stats":
                stats = fake.stats()
                stats["ok"] = fake.request_count(status=200)
                conn.send(stats)
            else:
                conn.send(None)
                return


def _fake_main(
    conn: multiprocessing.connection.Connection,
    options: dict[str, Any],
    orders: int,
    domains_per_order: int,
) -> None:
    asyncio.run(_serve(conn, options, orders, domains_per_order))


class FakeProcess:
    """A seeded :class:`FakeScaledmail` serving from a child process.

    ``with FakeProcess(orders=500, rate_limit=50, activate_after_polls=2) as fake:`` then use
    ``fake.base_url``, ``fake.api_key``, ``fake.organization_id``, ``fake.order_ids`` and
    ``fake.stats()`` (the fake's :meth:`~FakeScaledmail.stats` plus ``ok``: 200 responses).
    Keyword options are :class:`~scaledmail_async.testing.FakeOptions` fields.
    """

    def __init__(self, *, orders: int = 0, domains_per_order: int = 2, **options: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_fake_main, args=(child, options, orders, domains_per_order), daemon=True
        )
        self._proc.start()
        child.close()
        info: dict[str, Any] = self._conn.recv()
        self.base_url: str = info["base_url"]
        self.api_keys: Sequence[str] = info["api_keys"]
        self.api_key: str = self.api_keys[0]
        self.organization_id: str = info["organization_id"]
        self.order_ids: list[str] = info["order_ids"]

    def stats(self) -> dict[str, Any]:
        """The fake's counters (requests, ``by_status``, ``rate_limited``, ``ok``)."""
        self._conn.send("stats")
        result: dict[str, Any] = self._conn.recv()
        return result

    def close(self) -> None:
        """Stop the server and wait for the child to exit."""
        if self._proc.is_alive():
            try:
                self._conn.send("stop")
                self._conn.recv()
            except (EOFError, OSError):
                pass
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._conn.close()

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def order_server_main(conn: multiprocessing.connection.Connection, latency: float = 0.0) -> None:
    """A minimal aiohttp server answering ``GET /api/v1/orders/{id}`` with a fixed order (after
    ``latency`` seconds), run in a child process: sends its port on ``conn``, stops when
    ``conn`` receives anything. The SDK's own cost shows against it (no fake logic)."""
    from aiohttp import web

    body = order_body(20, 1)

    async def order(request: web.Request) -> web.Response:
        if latency:
            await asyncio.sleep(latency)
        return web.Response(body=body, content_type="application/json")

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/api/v1/orders/{order_id}", order)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        conn.send(int(runner.addresses[0][1]))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await runner.cleanup()

    asyncio.run(serve())


async def drive(
    call: Callable[[], Awaitable[object]], calls: int, concurrency: int
) -> tuple[float, float]:
    """Run ``calls`` calls with ``concurrency`` workers; return (wall seconds, CPU seconds)."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall, time.process_time() - cpu
