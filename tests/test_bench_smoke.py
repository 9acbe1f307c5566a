"""Smoke test of the benchmarks: each ``bench/`` script runs in its tiny ``--quick`` configuration
and prints its ``RATIO`` lines. No timing is asserted (the figures live in docs/benchmarks.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

_RATIO = re.compile(r"^RATIO (?P<name>[\w.]+) = (?P<value>-?\d+\.\d{3})(?: \(target .+\))?$")

#: Script -> ratio names it must print.
EXPECTED: dict[str, set[str]] = {
    "decode": {
        "decode.sdk_vs_pydantic",
        "decode.sdk_vs_msgspec",
        "decode.sdk_vs_json_loads",
        "decode20.sdk_vs_pydantic",
        "decode20.sdk_vs_msgspec",
    },
    "overhead": {
        "overhead.sdk_vs_aiohttp_rps",
        "overhead.httpx_vs_aiohttp_rps",
        "overhead.sdk_vs_httpx_rps",
        "overhead.sdk_vs_aiohttp_cpu",
    },
    "otel_overhead": {
        *(
            f"otel.{server}_{v}_vs_off_rps"
            for server in ("latency", "fake", "minimal")
            for v in ("on", "noop")
        ),
        "otel.on_added_cpu_us",
        "otel.noop_added_cpu_us",
    },
    "bulk_ratelimit": {
        "bulk.a_elapsed_vs_floor",
        "bulk.a_429s",
        "bulk.b_elapsed_vs_floor",
        "bulk.b_429s",
        "bulk.c_naive_elapsed_vs_floor",
        "bulk.c_naive_429s",
        "bulk.c_naive_failed",
    },
    "memory": {
        "memory.peak_vs_baseline_rss",
        "memory.growth_mib",
        "memory.growth_bytes_per_order",
    },
    "shared_limits": {
        *(
            f"shared.k{k}_{what}"
            for k in (1, 2, 4, 8)
            for what in ("elapsed_vs_floor", "429s", "max_in_1s")
        ),
        "shared.k4_inprocess_429s",
        "shared.k4_inprocess_max_in_1s",
        "shared.k4_inprocess_elapsed_vs_floor",
        "shared.redis_acquire_us",
        "shared.inprocess_acquire_us",
        "lanes.inprocess_interactive_wait_intervals",
        "lanes.inprocess_fifo_wait_intervals",
        "lanes.inprocess_bulk_elapsed_vs_alone",
        "lanes.redis_interactive_wait_intervals",
        "lanes.redis_fifo_wait_intervals",
        "lanes.redis_bulk_elapsed_vs_alone",
    },
}


def _ratios(output: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("RATIO"):
            match = _RATIO.match(line)
            assert match is not None, f"malformed ratio line: {line!r}"
            found[match["name"]] = float(match["value"])
    return found


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_bench_script_quick(script: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ratios = _ratios(proc.stdout)
    assert set(ratios) == EXPECTED[script], proc.stdout
    assert all(value >= 0 for value in ratios.values())
    assert "nproc=" in proc.stdout  # the machine line
    if script == "bulk_ratelimit":
        # every scenario really polled all 20 orders to the end
        assert proc.stdout.count("completed 20") == 3, proc.stdout
        assert ratios["bulk.c_naive_failed"] == 0


def test_run_all_rejects_unknown_benchmark() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--only", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown benchmark" in proc.stderr
