"""Run every benchmark in sequence (``make bench``) and repeat their ``RATIO`` lines at the end.

Each script runs in its own Python process (so that one benchmark's memory, garbage and
background servers cannot affect the next, and the memory figure's peak RSS is its own), one
after the other (never in parallel: they measure CPU and pacing). Total: about 6-7 minutes on
a 2-core machine (``shared_limits`` needs a ``redis-server`` binary; it starts its own).

    .venv/bin/python bench/run_all.py [--quick] [--only decode,overhead,...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from _common import RATIO_PREFIX, machine_summary

BENCH_DIR = Path(__file__).resolve().parent
#: Cheapest first, so a broken setup fails fast.
SCRIPTS = ("decode", "overhead", "otel_overhead", "bulk_ratelimit", "memory", "shared_limits")


def main(argv: list[str] | None = None) -> int:
    """Run the scripts; return 1 if any of them failed (a missed target is not a failure)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny configurations (smoke test)")
    parser.add_argument("--only", default="", help="comma-separated script names")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(SCRIPTS)
    unknown = set(names) - set(SCRIPTS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    print(f"machine: {machine_summary()}", flush=True)
    ratios: list[str] = []
    failed: list[str] = []
    started = time.perf_counter()
    for name in names:
        cmd = [sys.executable, str(BENCH_DIR / f"{name}.py")] + (["--quick"] if args.quick else [])
        print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
        sys.stdout.write(proc.stdout)
        print(f"=== {name}: {time.perf_counter() - t0:.1f}s, exit {proc.returncode}", flush=True)
        if proc.returncode != 0:
            failed.append(name)
        ratios += [line for line in proc.stdout.splitlines() if line.startswith(RATIO_PREFIX)]
    print(f"\n=== summary ({time.perf_counter() - started:.0f}s)")
    for line in ratios:
        print(line)
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
