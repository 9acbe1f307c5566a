"""OpenTelemetry overhead: requests/s with instrumentation off vs on, side by side in one run.

Three variants of one ``ScaledmailClient(rate_limit=None).get_order_details(id)`` loop
(``--calls`` calls, ``--concurrency`` worker coroutines), interleaved for several rounds with the
order rotated every round, medians reported:

- ``off``: no telemetry (the default: ``opentelemetry`` not even imported by the SDK);
- ``noop``: ``telemetry=True`` with no SDK configured (the API's no-op providers: the cost of the
  hooks themselves);
- ``on``: ``telemetry=Telemetry(tracer_provider=..., meter_provider=...)`` with the OpenTelemetry
  SDK recording everything: a ``TracerProvider`` with a ``BatchSpanProcessor`` and an exporter
  that drops the batches (what a production setup does before the network), and a
  ``MeterProvider`` whose ``InMemoryMetricReader`` aggregates every measurement.

Three servers, each in a child process (``bench/_common.py``):

- ``fake``: the embedded fake (:class:`~scaledmail_async.testing.FakeScaledmail`, seeded with one
  order), as fast as it answers: client and server share the machine's two cores and neither
  waits for a network;
- ``minimal``: a plain ``aiohttp.web`` handler returning a fixed 20-domain order at once, so the
  client process is the bottleneck: the worst case, reported with the client CPU time per call
  that instrumentation adds (``time.process_time``; the export thread's included);
- ``latency``: the same handler answering after ``--latency`` seconds (default 0.02: a fast
  remote API; the SDK's rate limit is 5 requests per second per key), so requests/s are set by
  the round trip as in real use. **Target: ``on`` at >= 0.97 of ``off`` here** (a drop of at
  most 3 %).

    .venv/bin/python bench/otel_overhead.py [--quick] [--calls N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
from collections.abc import Awaitable, Callable, Sequence

from _common import FakeProcess, drive, machine_summary, median, order_server_main, ratio_line
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from scaledmail_async import ScaledmailClient
from scaledmail_async.otel import Telemetry

_MINIMAL_KEY = "sk_bench_0123456789abcdef"
_MINIMAL_ORG = "recOrgBench000001"
_MINIMAL_ORDER = "recPay0000000000A"
VARIANTS = ("off", "noop", "on")


class _DropExporter(SpanExporter):
    """Receives every batch and drops it (counts the spans, to show they were recorded)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


async def _measure(
    base_url: str, api_key: str, org: str, order_id: str, calls: int, concurrency: int, rounds: int
) -> tuple[dict[str, list[float]], int]:
    exporter = _DropExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    recording = Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    settings: dict[str, bool | Telemetry | None] = {"off": None, "noop": True, "on": recording}
    results: dict[str, list[float]] = {}
    clients = {
        name: ScaledmailClient(
            api_key, organization_id=org, base_url=base_url, rate_limit=None, telemetry=setting
        )
        for name, setting in settings.items()
    }
    try:
        calls_of: dict[str, Callable[[], Awaitable[object]]] = {}
        for name, client in clients.items():

            async def call(client: ScaledmailClient = client) -> object:
                details = await client.get_order_details(order_id)
                assert details.id == order_id
                return details

            calls_of[name] = call
        for name in VARIANTS:  # warm-up: connections opened, caches filled, instruments built
            await drive(calls_of[name], min(calls, 200), concurrency)
        for r in range(rounds):
            order = VARIANTS[r % 3 :] + VARIANTS[: r % 3]
            for name in order:
                wall, cpu = await drive(calls_of[name], calls, concurrency)
                results.setdefault(f"{name}.rps", []).append(calls / wall)
                results.setdefault(f"{name}.cpu_us", []).append(cpu / calls * 1e6)
    finally:
        for client in clients.values():
            await client.aclose()
        tracer_provider.shutdown()
        meter_provider.shutdown()
    return results, exporter.spans


def _report(label: str, results: dict[str, list[float]], spans: int, calls: int) -> None:
    med = {k: median(v) for k, v in results.items()}
    print(
        f"-- {label}: {calls} get_order_details calls per variant and round, "
        f"{spans:,} spans exported"
    )
    for name in VARIANTS:
        spread = ", ".join(f"{v:.0f}" for v in sorted(results[f"{name}.rps"]))
        print(
            f"   {name:<5} {med[name + '.rps']:8.0f} req/s   client CPU "
            f"{med[name + '.cpu_us']:6.0f} us/call   (rounds: {spread})"
        )


def _against_minimal(
    latency: float, args: argparse.Namespace
) -> tuple[dict[str, list[float]], int]:
    """:func:`_measure` against the minimal server (answering after ``latency`` seconds)."""
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    server = ctx.Process(target=order_server_main, args=(child, latency), daemon=True)
    server.start()
    child.close()
    try:
        port: int = conn.recv()
        return asyncio.run(
            _measure(
                f"http://127.0.0.1:{port}/api/v1",
                _MINIMAL_KEY,
                _MINIMAL_ORG,
                _MINIMAL_ORDER,
                args.calls,
                args.concurrency,
                args.rounds,
            )
        )
    finally:
        conn.send("stop")
        server.join(10)
        if server.is_alive():
            server.kill()
            server.join()
        conn.close()


def main(argv: list[str] | None = None) -> None:
    """Run both servers' measurements and print their figures and ratio lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds (latency server)")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.rounds = 60, 1
    print(f"otel overhead benchmark: {machine_summary()}", flush=True)
    print(
        f"   concurrency {args.concurrency}, median of {args.rounds} interleaved rounds, "
        "client limiter off (rate_limit=None), server in a child process"
    )

    with FakeProcess(orders=1, rate_limits_enabled=False, activate_after_polls=None) as fake:
        fake_results, fake_spans = asyncio.run(
            _measure(
                fake.base_url,
                fake.api_key,
                fake.organization_id,
                fake.order_ids[0],
                args.calls,
                args.concurrency,
                args.rounds,
            )
        )
    _report("embedded fake (FakeScaledmail)", fake_results, fake_spans, args.calls)

    minimal_results, minimal_spans = _against_minimal(0.0, args)
    _report("minimal aiohttp server (client-bound)", minimal_results, minimal_spans, args.calls)
    latency_results, latency_spans = _against_minimal(args.latency, args)
    _report(
        f"minimal server answering in {args.latency * 1000:g} ms",
        latency_results,
        latency_spans,
        args.calls,
    )

    fake_med = {k: median(v) for k, v in fake_results.items()}
    minimal_med = {k: median(v) for k, v in minimal_results.items()}
    latency_med = {k: median(v) for k, v in latency_results.items()}
    on_vs_off = latency_med["on.rps"] / latency_med["off.rps"]
    ratio_line("otel.latency_on_vs_off_rps", on_vs_off, ">= 0.97", on_vs_off >= 0.97)
    ratio_line("otel.latency_noop_vs_off_rps", latency_med["noop.rps"] / latency_med["off.rps"])
    ratio_line("otel.fake_on_vs_off_rps", fake_med["on.rps"] / fake_med["off.rps"])
    ratio_line("otel.fake_noop_vs_off_rps", fake_med["noop.rps"] / fake_med["off.rps"])
    ratio_line("otel.minimal_on_vs_off_rps", minimal_med["on.rps"] / minimal_med["off.rps"])
    ratio_line("otel.minimal_noop_vs_off_rps", minimal_med["noop.rps"] / minimal_med["off.rps"])
    ratio_line(
        "otel.on_added_cpu_us", max(0.0, minimal_med["on.cpu_us"] - minimal_med["off.cpu_us"])
    )
    ratio_line(
        "otel.noop_added_cpu_us", max(0.0, minimal_med["noop.cpu_us"] - minimal_med["off.cpu_us"])
    )


if __name__ == "__main__":
    main()
