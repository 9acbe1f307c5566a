"""One rate limit shared by K processes (``RedisRateLimiter``), and priority lanes (issue 11).

The fake server (``scaledmail_async.testing.FakeScaledmail``, in a child process) enforces a
scaled-up limit (default 50 requests per second per key, sliding window, the strictest of its
algorithms; the real API allows 5/s, scaled so the run is short). A real ``redis-server`` is
started on a free loopback port (``$SCALEDMAIL_TEST_REDIS_SERVER`` or ``redis-server`` on
``PATH``; never the system service). Each scenario uses its own API key, so neither the fake's
window, the in-process limiter's history nor the Redis keys carry over between scenarios.

A. **K processes, one key.** K = 1, 2, 4, 8 separate OS processes (a pool of worker processes,
   forked on Linux, started once and reused; every worker of a scenario starts at the same
   ``time.monotonic()`` instant, the system-wide clock of the host) share ``--requests`` (400)
   ``get_orders`` calls, each process with
   ``ScaledmailClient(..., rate_limit=50, limiter=RedisRateLimiter.from_url(url, rate=50))`` and
   8 calls in flight. Figures per K: aggregate elapsed (the common start to the last response of
   any process) over the floor ``requests / limit``; the 429s the server sent; the most requests
   the server received in any 1 s window; retries and failed calls. For contrast, K = 4 with the
   in-process limiter only (what every process does without Redis: each one paces itself at the
   full limit). Plus the latency a Redis acquire adds: the median of 2,000 sequential, uncontended
   acquires of a ``RedisRateLimiter`` and of an ``InProcessLimiter`` at 10^6/s (so pacing never
   waits), in microseconds.
B. **Priority lanes.** One process, limit 50/s: ``map_concurrent(fn, range(500),
   concurrency=500)`` whose ``fn`` calls ``client.get_orders()`` (``priority="bulk"``, the
   default), and, once the queue is deep (0.5 s after the start, ~475 calls queued), one direct
   ``client.with_raw_response.get_organizations()``: its ``limiter_wait`` in pacing intervals
   (``1.02 / rate``). Contrast: the same run with ``priority="interactive"`` (one FIFO lane for
   everybody). And the bulk job's elapsed time with the interactive call over the same job alone.
   All of it with the in-process limiter and with the ``RedisRateLimiter``.

``--quick`` runs tiny configurations (the smoke test); without a ``redis-server`` binary it
skips the Redis part with a note (its ratio lines then print 0 with "skipped"); the full run
needs the binary (``apt-get install -y redis-server``).

    .venv/bin/python bench/shared_limits.py [--quick] [--requests N] [--limit N] [--bulk N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import multiprocessing.process
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from _common import machine_summary, ratio_line

from scaledmail_async import InProcessLimiter, RedisRateLimiter, ScaledmailClient
from scaledmail_async.bulk import map_concurrent

#: The limiter's pacing margin (``margin=0.02``): one grant every ``(1 + margin) / rate`` s.
_MARGIN = 0.02
_KS = (1, 2, 4, 8)
_INFLIGHT = 8  # calls in flight per worker process
_INSTALL_HINT = (
    "no redis-server binary: install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`, "
    "macOS: `brew install redis`) or set SCALEDMAIL_TEST_REDIS_SERVER to its path"
)


# ----------------------------------------------------------------------------------- redis-server


def _redis_binary() -> str | None:
    return os.environ.get("SCALEDMAIL_TEST_REDIS_SERVER") or shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _RedisServer:
    """A throwaway ``redis-server`` on a free loopback port (no persistence)."""

    def __init__(self, binary: str) -> None:
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="scaledmail-bench-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start within 10 s")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------- fake in a child process


async def _serve(conn: multiprocessing.connection.Connection, options: dict[str, Any]) -> None:
    from scaledmail_async.testing import FakeScaledmail

    async with FakeScaledmail(**options) as fake:
        conn.send({"base_url": fake.base_url, "organization_id": fake.organization_id})
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command != "take":
                conn.send(None)
                return
            # What the server saw since the last "take" (one scenario), then forget it.
            conn.send(
                {
                    "requests": len(fake.requests),
                    "ok": fake.request_count(status=200),
                    "rate_limited": sum(1 for r in fake.requests if r.rate_limited),
                    "max_in_1s": fake.max_requests_in_window(1.0),
                }
            )
            fake.reset_counters()


def _fake_main(conn: multiprocessing.connection.Connection, options: dict[str, Any]) -> None:
    asyncio.run(_serve(conn, options))


class _Fake:
    """A :class:`FakeScaledmail` in a child process; :meth:`take` returns what it received since
    the previous call (requests, 200s, 429s, most requests in any 1 s window)."""

    def __init__(self, keys: Sequence[str], limit: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        options = {
            "api_keys": list(keys),
            "rate_limit": limit,
            "rate_window": 1.0,
            "rate_limit_algorithm": "sliding_window",
        }
        self._proc = ctx.Process(target=_fake_main, args=(child, options), daemon=True)
        self._proc.start()
        child.close()
        self.base_url = ""
        self.organization_id = ""

    def wait_ready(self) -> None:
        info: dict[str, Any] = self._conn.recv()
        self.base_url = info["base_url"]
        self.organization_id = info["organization_id"]

    def take(self) -> dict[str, int]:
        self._conn.send("take")
        result: dict[str, int] = self._conn.recv()
        return result

    def close(self) -> None:
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


# --------------------------------------------------------------------------- worker processes


async def _worker_job(job: dict[str, Any]) -> dict[str, Any]:
    """One process's share of a scenario: ``calls`` get_orders, ``_INFLIGHT`` at a time."""
    redis_url: str | None = job["redis_url"]
    limiter = RedisRateLimiter.from_url(redis_url, rate=job["rate"]) if redis_url else None
    ok = errors = retries = 0
    first_error = ""
    async with ScaledmailClient(
        job["api_key"],
        organization_id=job["organization_id"],
        base_url=job["base_url"],
        rate_limit=job["rate"],
        limiter=limiter,
    ) as client:
        sem = asyncio.Semaphore(_INFLIGHT)

        async def one() -> None:
            nonlocal ok, errors, retries, first_error
            async with sem:
                try:
                    raw = await client.with_raw_response.get_orders()
                except Exception as exc:
                    errors += 1
                    first_error = first_error or f"{type(exc).__name__}: {exc}"
                    return
                ok += 1
                retries += raw.retries_taken

        await asyncio.sleep(max(0.0, job["start_at"] - time.monotonic()))
        lag = time.monotonic() - job["start_at"]
        await asyncio.gather(*(one() for _ in range(job["calls"])))
        end = time.monotonic()
    if limiter is not None:
        await limiter.aclose()
    return {
        "ok": ok,
        "errors": errors,
        "first_error": first_error,
        "retries": retries,
        "lag": lag,
        "end": end,
    }


def _preload() -> None:
    """Import redis-py up front (the scenarios start on a deadline; forked workers inherit it)."""
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:  # only the Redis scenarios need it (they fail with the SDK's hint)
        pass


def _worker_main(conn: multiprocessing.connection.Connection) -> None:
    _preload()
    conn.send("ready")
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(asyncio.run(_worker_job(job)))


class _Pool:
    """``size`` worker processes, started once and given one job per scenario each.

    Forked on Linux (before any event loop or thread exists in this process: a forked worker
    starts in milliseconds, where a spawned one re-imports the SDK, ~0.4 s of CPU each, which
    dominated the quick run), spawned elsewhere. Either way each worker is its own OS process with
    its own event loop, limiter registry and Redis connections.
    """

    def __init__(self, size: int) -> None:
        ctx: multiprocessing.context.ForkContext | multiprocessing.context.SpawnContext
        if sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
        else:
            ctx = multiprocessing.get_context("spawn")
        sys.stdout.flush()  # a forked child flushes what it inherited from the buffer
        sys.stderr.flush()
        self._conns: list[multiprocessing.connection.Connection] = []
        self._procs: list[multiprocessing.process.BaseProcess] = []
        for _ in range(size):
            conn, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child,), daemon=True)
            proc.start()
            child.close()
            self._conns.append(conn)
            self._procs.append(proc)

    def wait_ready(self) -> None:
        for conn in self._conns:
            if conn.recv() != "ready":
                raise RuntimeError("a worker process failed to start")

    def run(self, jobs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        for conn, job in zip(self._conns, jobs, strict=False):
            conn.send(job)
        return [conn.recv() for conn in self._conns[: len(jobs)]]

    def close(self) -> None:
        for conn, proc in zip(self._conns, self._procs, strict=True):
            try:
                conn.send(None)
            except OSError:
                pass
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()


# ------------------------------------------------------------------------- A: K processes


@dataclass
class _Shared:
    name: str
    k: int
    requests: int
    elapsed: float
    floor: float
    rate_limited: int
    max_in_1s: int
    retries: int
    errors: int
    lag: float

    @property
    def ratio(self) -> float:
        return self.elapsed / self.floor


def _shared_run(
    pool: _Pool,
    fake: _Fake,
    *,
    name: str,
    key: str,
    k: int,
    requests: int,
    limit: int,
    redis_url: str | None,
    lead: float,
) -> _Shared:
    per, extra = divmod(requests, k)
    start_at = time.monotonic() + lead
    jobs = [
        {
            "api_key": key,
            "organization_id": fake.organization_id,
            "base_url": fake.base_url,
            "rate": float(limit),
            "redis_url": redis_url,
            "calls": per + (1 if i < extra else 0),
            "start_at": start_at,
        }
        for i in range(k)
    ]
    results = pool.run(jobs)
    server = fake.take()
    errors = sum(int(r["errors"]) for r in results)
    if errors:
        first = next(r["first_error"] for r in results if r["first_error"])
        print(f"   note: {name}: {errors} call(s) failed, e.g. {first}")
    return _Shared(
        name=name,
        k=k,
        requests=requests,
        elapsed=max(float(r["end"]) for r in results) - start_at,
        floor=requests / limit,
        rate_limited=server["rate_limited"],
        max_in_1s=server["max_in_1s"],
        retries=sum(int(r["retries"]) for r in results),
        errors=errors,
        lag=max(float(r["lag"]) for r in results),
    )


async def _acquire_times(
    acquire: Callable[[], Awaitable[float]], rounds: int, warmup: int = 50
) -> list[float]:
    """Seconds per ``await acquire()``, sequential (one at a time: uncontended)."""
    times: list[float] = []
    for i in range(warmup + rounds):
        t0 = time.perf_counter()
        await acquire()
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
        await asyncio.sleep(0)  # let the limiter's own callbacks run, outside the timing
    return times


async def _acquire_latency(redis_url: str | None, rounds: int) -> tuple[list[float], list[float]]:
    """(in-process, Redis) acquire times at a rate pacing never waits for (10^6/s)."""
    rate = 1e6
    local = InProcessLimiter(rate, critical_limit=None)
    inproc = await _acquire_times(local.acquire, rounds)
    if redis_url is None:
        return inproc, []
    limiter = RedisRateLimiter.from_url(redis_url, rate=rate, critical_limit=None)
    bound = limiter.bind("acquire-latency-" + os.urandom(8).hex())
    try:
        redis_times = await _acquire_times(bound.acquire, rounds)
    finally:
        await limiter.aclose()
    return inproc, redis_times


# ------------------------------------------------------------------------- B: priority lanes


@dataclass
class _LaneRun:
    elapsed: float
    wait: float | None
    queued: int
    errors: int


async def _lanes_run(
    fake: _Fake,
    *,
    key: str,
    limit: int,
    bulk: int,
    lane: str,
    interactive_after: float | None,
    redis_url: str | None,
) -> _LaneRun:
    limiter = RedisRateLimiter.from_url(redis_url, rate=limit) if redis_url else None
    done = 0
    wait: float | None = None
    queued = 0
    async with ScaledmailClient(
        key,
        organization_id=fake.organization_id,
        base_url=fake.base_url,
        rate_limit=float(limit),
        limiter=limiter,
    ) as client:

        async def fn(_item: int) -> None:
            nonlocal done
            await client.get_orders()
            done += 1

        start = time.perf_counter()
        job = asyncio.create_task(
            map_concurrent(
                fn,
                range(bulk),
                concurrency=bulk,
                priority="bulk" if lane == "bulk" else "interactive",
            )
        )
        if interactive_after is not None:
            await asyncio.sleep(interactive_after)
            queued = bulk - done
            raw = await client.with_raw_response.get_organizations()
            wait = raw.limiter_wait
        results = await job
        elapsed = time.perf_counter() - start
    if limiter is not None:
        await limiter.aclose()
    return _LaneRun(
        elapsed=elapsed,
        wait=wait,
        queued=queued,
        errors=sum(1 for r in results if r.error is not None),
    )


# ----------------------------------------------------------------------------------- main


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    """Run parts A and B and print their figures and ratio lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    parser.add_argument("--requests", type=int, default=400, help="part A, split over K")
    parser.add_argument("--limit", type=int, default=50, help="server limit, requests/second")
    parser.add_argument("--bulk", type=int, default=500, help="part B, bulk calls queued")
    parser.add_argument("--acquires", type=int, default=2000)
    args = parser.parse_args(argv)
    lead, interactive_after = 0.4, 0.5
    if args.quick:
        args.requests, args.limit, args.bulk, args.acquires = 16, 100, 16, 100
        lead, interactive_after = 0.15, 0.05
    limit: int = args.limit
    interval = (1.0 + _MARGIN) / limit
    # A stray SCALEDMAIL_REDIS_URL would turn the in-process runs into Redis runs.
    os.environ.pop("SCALEDMAIL_REDIS_URL", None)

    binary = _redis_binary()
    if binary is None and not args.quick:
        raise SystemExit(f"shared_limits.py needs a redis-server: {_INSTALL_HINT}")
    print(f"shared-limits benchmark: {machine_summary()}", flush=True)
    if binary is None:
        print(f"-- note: {_INSTALL_HINT}; the Redis figures are skipped (printed as 0)")

    keys = [f"sk_bench_shared_k{k}" for k in _KS] + ["sk_bench_shared_k4_local"]
    keys += [f"sk_bench_lanes_{i}" for i in range(6)]
    # Everything that takes a while to start, started at once: the fake, Redis, the pool.
    t0 = time.perf_counter()
    _preload()
    fake = _Fake(keys, limit)
    redis = _RedisServer(binary) if binary is not None else None
    pool = _Pool(max(_KS))
    try:
        fake.wait_ready()
        if redis is not None:
            redis.wait_ready()
        pool.wait_ready()
        url = redis.url if redis is not None else None
        print(
            f"-- fake server (child process) at {limit}/s per key, sliding window; "
            f"{'redis-server at ' + url if url else 'no Redis'}; {max(_KS)} worker processes; "
            f"started in {time.perf_counter() - t0:.1f}s"
        )

        # ---- A
        print(
            f"\nA. {args.requests} get_orders split over K processes sharing one key; floor "
            f"= {args.requests}/{limit} = {args.requests / limit:.2f}s; {_INFLIGHT} in flight "
            "per process"
        )
        shared: dict[int, _Shared] = {}
        for k in _KS:
            if url is None:
                continue
            shared[k] = _shared_run(
                pool,
                fake,
                name=f"K={k}, RedisRateLimiter",
                key=f"sk_bench_shared_k{k}",
                k=k,
                requests=args.requests,
                limit=limit,
                redis_url=url,
                lead=lead,
            )
        local = _shared_run(
            pool,
            fake,
            name="K=4, in-process limiter only",
            key="sk_bench_shared_k4_local",
            k=4,
            requests=args.requests,
            limit=limit,
            redis_url=None,
            lead=lead,
        )
        print(
            f"   {'scenario':<32} {'elapsed':>8} {'/ floor':>8} {'429s':>6} {'max in 1 s':>11} "
            f"{'retries':>8} {'failed':>7} {'start lag':>10}"
        )
        for run in [*shared.values(), local]:
            print(
                f"   {run.name:<32} {run.elapsed:7.2f}s {run.ratio:8.3f} {run.rate_limited:6d} "
                f"{run.max_in_1s:11d} {run.retries:8d} {run.errors:7d} "
                f"{1000 * run.lag:8.1f}ms"
            )

        inproc_t, redis_t = asyncio.run(_acquire_latency(url, args.acquires))
        inproc_us = 1e6 * statistics.median(inproc_t)
        redis_us = 1e6 * statistics.median(redis_t) if redis_t else 0.0
        print(f"\n   uncontended acquire, {args.acquires} sequential, rate 10^6/s (no pacing wait)")
        print(f"   {'limiter':<32} {'median':>9} {'p90':>9} {'p99':>9}")
        print(
            f"   {'InProcessLimiter':<32} {inproc_us:7.1f}us {1e6 * _pct(inproc_t, 0.9):7.1f}us "
            f"{1e6 * _pct(inproc_t, 0.99):7.1f}us"
        )
        if redis_t:
            print(
                f"   {'RedisRateLimiter (loopback)':<32} {redis_us:7.1f}us "
                f"{1e6 * _pct(redis_t, 0.9):7.1f}us {1e6 * _pct(redis_t, 0.99):7.1f}us"
            )

        # ---- B
        print(
            f"\nB. one process, {limit}/s: map_concurrent over {args.bulk} get_orders "
            f"(concurrency {args.bulk}), one direct get_organizations {interactive_after:g}s "
            f"after the start; pacing interval {1000 * interval:.1f}ms"
        )
        lanes: dict[tuple[str, str], _LaneRun] = {}
        n = 0
        for backend in ("inprocess", "redis"):
            backend_url = None if backend == "inprocess" else url
            if backend == "redis" and url is None:
                continue
            for mode, lane, after in (
                ("lanes", "bulk", interactive_after),
                ("fifo", "interactive", interactive_after),
                ("alone", "bulk", None),
            ):
                lanes[(backend, mode)] = asyncio.run(
                    _lanes_run(
                        fake,
                        key=f"sk_bench_lanes_{n}",
                        limit=limit,
                        bulk=args.bulk,
                        lane=lane,
                        interactive_after=after,
                        redis_url=backend_url,
                    )
                )
                n += 1
                server = fake.take()
                if server["rate_limited"]:
                    print(f"   note: {backend} {mode}: {server['rate_limited']} 429s")
        print(
            f"   {'limiter':<18} {'bulk lane':<13} {'queued':>7} {'interactive wait':>17} "
            f"{'intervals':>10} {'bulk elapsed':>13} {'failed':>7}"
        )
        for (backend, mode), lane_run in lanes.items():
            lane_text = {"lanes": "bulk", "fifo": "interactive", "alone": "bulk, alone"}[mode]
            queued, wait, ivs = "-", "-", "-"
            if lane_run.wait is not None:
                queued = str(lane_run.queued)
                wait = f"{1000 * lane_run.wait:.1f}ms"
                ivs = f"{lane_run.wait / interval:.2f}"
            print(
                f"   {backend:<18} {lane_text:<13} {queued:>7} {wait:>17} {ivs:>10} "
                f"{lane_run.elapsed:12.2f}s {lane_run.errors:7d}"
            )
    finally:
        pool.close()
        fake.close()
        if redis is not None:
            redis.close()

    print()
    skipped = "skipped: no redis-server"
    for k in _KS:
        run_k = shared.get(k)
        if run_k is None:
            for what in ("elapsed_vs_floor", "429s", "max_in_1s"):
                ratio_line(f"shared.k{k}_{what}", 0.0, skipped)
            continue
        ratio_line(f"shared.k{k}_elapsed_vs_floor", run_k.ratio, "<= 1.05", run_k.ratio <= 1.05)
        ratio_line(f"shared.k{k}_429s", run_k.rate_limited, "0", run_k.rate_limited == 0)
        ratio_line(
            f"shared.k{k}_max_in_1s", run_k.max_in_1s, f"<= {limit}", run_k.max_in_1s <= limit
        )
    ratio_line("shared.k4_inprocess_429s", local.rate_limited)
    ratio_line("shared.k4_inprocess_max_in_1s", local.max_in_1s)
    ratio_line("shared.k4_inprocess_elapsed_vs_floor", local.ratio)
    if redis_t:
        ratio_line("shared.redis_acquire_us", redis_us)
    else:
        ratio_line("shared.redis_acquire_us", 0.0, skipped)
    ratio_line("shared.inprocess_acquire_us", inproc_us)
    for backend in ("inprocess", "redis"):
        with_call = lanes.get((backend, "lanes"))
        fifo = lanes.get((backend, "fifo"))
        alone = lanes.get((backend, "alone"))
        if with_call is None or fifo is None or alone is None:
            for what in (
                "interactive_wait_intervals",
                "fifo_wait_intervals",
                "bulk_elapsed_vs_alone",
            ):
                ratio_line(f"lanes.{backend}_{what}", 0.0, skipped)
            continue
        assert with_call.wait is not None and fifo.wait is not None
        lanes_ivs = with_call.wait / interval
        ratio_line(f"lanes.{backend}_interactive_wait_intervals", lanes_ivs, "<= 2", lanes_ivs <= 2)
        ratio_line(f"lanes.{backend}_fifo_wait_intervals", fifo.wait / interval)
        vs_alone = with_call.elapsed / alone.elapsed
        ratio_line(f"lanes.{backend}_bulk_elapsed_vs_alone", vs_alone, "<= 1.02", vs_alone <= 1.02)


if __name__ == "__main__":
    main()
