"""Soak: many mixed calls at concurrency 50 with 10 % seeded random faults.

Short form (300 calls) in every ``pytest`` run; ``SCALEDMAIL_SOAK=full`` (``make soak``) runs
2,000. The rate limit is scaled to 100/s on both sides (the real API allows 5/s) so the soak takes
seconds, not minutes; the limiter's behaviour does not depend on the rate.

Asserted: every call ended in success or a :class:`ScaledmailError` subclass; no purchase was
applied twice and a purchase reached the server more than once only when every earlier reception
was a 429 (provably not processed); the server never saw more than the limit in any 1-second
window; no connection is left acquired; nothing warns "Unclosed"; traced memory returns to its
post-warm-up baseline. The fake server runs in the same process, so memory allocated under its
frames (request records, orders) is excluded from the comparison.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
import tracemalloc
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from reliability_helpers import AttemptCounter, acquired_connections, client_for, new_key

from scaledmail_async._client import ScaledmailClient
from scaledmail_async.bulk import map_concurrent
from scaledmail_async.errors import ScaledmailError
from scaledmail_async.models import CreateCustomOrderBody
from scaledmail_async.testing import FakeScaledmail

FULL = os.environ.get("SCALEDMAIL_SOAK", "").strip().lower() == "full"
CALLS = 2000 if FULL else 300
WARMUP = 100
CONCURRENCY = 50
RATE = 100
FAULT_RATE = 0.10
SEED = 20260
#: Retained-memory allowance after the run (interned strings, caches reaching their bound...).
MEMORY_SLACK = 256 * 1024
#: Frames kept per traced block: enough to see the fake server's frames above its allocations.
TRACE_FRAMES = 6

FAULT_CHOICES: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 500}),
    ("status", {"status": 502}),
    ("status", {"status": 503}),
    ("status", {"status": 504}),
    ("status", {"status": 408}),
    ("status", {"status": 429, "retry_after": 1}),
    ("reset_before", {}),
    ("reset_after", {}),
    ("close_mid_body", {}),
    ("truncated_json", {}),
    ("non_json", {}),
    ("html_error", {"status": 502}),
    ("delay", {"seconds": 1.5, "after": True}),
    ("trickle", {"chunk_size": 256, "interval": 0.005}),
]


@dataclass(frozen=True)
class Job:
    index: int
    kind: str  # "read" | "list" | "write" | "spend"


def _jobs(start: int, count: int, rng: random.Random) -> list[Job]:
    kinds = ["read"] * 5 + ["list"] * 1 + ["write"] * 2 + ["spend"] * 2
    return [Job(start + i, rng.choice(kinds)) for i in range(count)]


class Runner:
    def __init__(self, client: ScaledmailClient, fake: FakeScaledmail, prefix: str) -> None:
        self.client = client
        self.fake = fake
        self.prefix = prefix
        org = fake.organization_id
        self.order_ids = [o.id for o in fake.state.org_orders(org)]
        self.domains = [d.name for d in fake.state.org_domains(org)]
        self.retries = 0

    async def __call__(self, job: Job) -> Any:
        raw = self.client.with_raw_response
        i = job.index
        if job.kind == "read":
            resp: Any = await raw.get_order_details(self.order_ids[i % len(self.order_ids)])
        elif job.kind == "list":
            resp = await raw.get_orders()
        elif job.kind == "write":
            domain = self.domains[i % len(self.domains)]
            resp = await raw.update_domain_redirect(
                domain, body={"new_redirect": f"https://t{i}.example"}
            )
        else:
            body: CreateCustomOrderBody = {
                "tag": f"{self.prefix}{i:05d}",
                "providers": {
                    "google": {
                        "domains": [
                            {
                                "domain": f"soakname{i}{self.prefix}.com",
                                "first_name": "Lea",
                                "last_name": "Moss",
                            }
                        ]
                    }
                },
            }
            resp = await raw.create_custom_order(provider="buy", body=body)
        self.retries += resp.retries_taken
        return resp.parsed


def _traced_client_memory() -> int:
    """Bytes traced now, excluding blocks allocated under the fake server's frames."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [
            tracemalloc.Filter(False, "*/scaledmail_async/testing/*", all_frames=True),
            tracemalloc.Filter(False, tracemalloc.__file__),
        ]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


@dataclass
class Figures:
    calls: int = 0
    ok: int = 0
    errors: dict[str, int] | None = None
    received: int = 0
    attempts: int = 0
    retries: int = 0
    faults: int = 0
    server_429: int = 0
    max_window: int = 0
    spends: int = 0
    duplicates: int = 0
    elapsed: float = 0.0
    retained: int = 0


async def _storm(
    client: ScaledmailClient, fake: FakeScaledmail, trace: AttemptCounter, rng: random.Random
) -> Figures:
    """The measured run; returns figures only, so nothing of it stays referenced."""
    figures = Figures(calls=CALLS)
    fake.reset_counters()
    fake.faults.randomize(FAULT_RATE, FAULT_CHOICES, seed=SEED + 1)
    runner = Runner(client, fake, "s")
    attempts_before = trace.started
    started = time.monotonic()
    results = await map_concurrent(runner, _jobs(WARMUP, CALLS, rng), concurrency=CONCURRENCY)
    figures.elapsed = time.monotonic() - started
    figures.attempts = trace.started - attempts_before
    figures.retries = runner.retries
    fake.faults.clear()
    await asyncio.sleep(0.2)  # let the server drop the handlers the client timed out
    assert acquired_connections(client) == 0

    # Every call ended in success or a typed SDK error.
    assert len(results) == CALLS
    untyped = [r.error for r in results if r.error is not None]
    assert all(isinstance(e, ScaledmailError) for e in untyped), untyped[:3]
    figures.errors = dict(Counter(type(e).__name__ for e in untyped))
    figures.ok = CALLS - len(untyped)
    figures.spends = sum(1 for r in results if r.item.kind == "spend")
    del results, untyped

    # No purchase twice: per tag, applied <= 1, and received again only after a 429.
    by_tag: dict[str, list[Any]] = {}
    for record in fake.requests_for("create_custom_order"):
        tag = record.json.get("tag") if isinstance(record.json, dict) else None
        assert isinstance(tag, str), record
        by_tag.setdefault(tag, []).append(record)
    for tag, records in by_tag.items():
        assert sum(r.applied for r in records) <= 1, tag
        figures.duplicates += sum(
            1 for earlier in records[:-1] if earlier.status != 429 or earlier.applied
        )
    assert len(by_tag) == figures.spends

    figures.max_window = fake.max_requests_in_window(1.0)
    figures.server_429 = sum(1 for r in fake.requests if r.rate_limited)
    figures.faults = len(fake.faults.injected)
    figures.received = len(fake.requests)
    fake.reset_counters()
    return figures


@pytest.mark.soak
async def test_soak() -> None:
    loop_errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
    key = new_key("SOAK")
    rng = random.Random(SEED)
    trace = AttemptCounter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with FakeScaledmail(
                api_key=key,
                rate_limit=RATE,
                rate_window=1.0,
                critical_limit=None,
                taken_ratio=0.0,
                complete_swaps_after_seconds=0.0,
                activate_after_polls=2,
                shutdown_timeout=0.1,
            ) as fake:
                client = client_for(
                    fake,
                    rate_limit=RATE,
                    critical_rate_limit=None,
                    max_retries=3,
                    timeout=1.0,
                    backoff_base=0.01,
                    backoff_max=0.05,
                    trace_configs=[trace.config],
                )
                async with client:
                    fake.faults.randomize(FAULT_RATE, FAULT_CHOICES, seed=SEED)
                    await map_concurrent(
                        Runner(client, fake, "w"), _jobs(0, WARMUP, rng), concurrency=CONCURRENCY
                    )
                    await asyncio.sleep(0.2)
                    warmup_max_window = fake.max_requests_in_window(1.0)
                    fake.reset_counters()
                    gc.collect()
                    # Trace from here: what is still traced at the end was allocated by the
                    # run and is still alive.
                    tracemalloc.start(TRACE_FRAMES)
                    figures = await _storm(client, fake, trace, rng)
                    # The next call after the storm works at once.
                    await client.get_orders()
                    assert acquired_connections(client) == 0
                gc.collect()
                figures.retained = _traced_client_memory()
                tracemalloc.stop()
        unclosed = [w for w in caught if "Unclosed" in str(w.message)]
        assert not unclosed, unclosed
        assert not [c for c in loop_errors if "Unclosed" in str(c.get("message"))], loop_errors
    finally:
        tracemalloc.stop()
        loop.set_exception_handler(None)

    f = figures
    print(
        f"\nsoak ({'full' if FULL else 'short'}): calls={f.calls} concurrency={CONCURRENCY} "
        f"ok={f.ok} errors={f.errors}\n"
        f"  requests received={f.received} attempts={f.attempts} faults injected={f.faults} "
        f"retries={f.retries} (+{f.attempts - f.calls - f.retries} attempts of calls that "
        f"failed after retrying)\n"
        f"  server 429s from its own limit={f.server_429} max per 1 s window={f.max_window} "
        f"(limit {RATE}; warm-up from cold: {warmup_max_window}) spends={f.spends} "
        f"duplicates={f.duplicates}\n"
        f"  memory retained after the run={f.retained / 1024:.1f} KiB elapsed={f.elapsed:.1f}s"
    )
    assert f.duplicates == 0
    assert f.max_window <= RATE
    assert warmup_max_window <= RATE
    assert f.faults > 0
    assert f.retained < MEMORY_SLACK, f"{f.retained} bytes retained after the run"
