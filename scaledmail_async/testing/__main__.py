"""``python -m scaledmail_async.testing``: run the fake Scaledmail server until Ctrl-C."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from scaledmail_async.testing._app import run_fake_server
from scaledmail_async.testing._fault_spec import FAULT_SPEC_HELP, FaultSpec, parse_fault_spec
from scaledmail_async.testing._ratelimit import ALGORITHMS


def _fault(text: str) -> FaultSpec:
    try:
        return parse_fault_spec(text)
    except ValueError as exc:  # argparse shows it as "argument --fault: invalid ..."
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(
        prog="python -m scaledmail_async.testing", description="Run the fake Scaledmail API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="an accepted key (repeatable; default: the built-in test key)",
    )
    parser.add_argument("--rate-limit", type=int, default=5, help="requests per second per key")
    parser.add_argument("--critical-limit", type=int, default=15, help="critical ops per minute")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="sliding_window")
    parser.add_argument("--burst", type=int, default=None, help="the token bucket's capacity")
    parser.add_argument(
        "--fault",
        action="append",
        dest="faults",
        type=_fault,
        default=[],
        metavar="KIND[:SPEC]",
        help="a fault to inject (repeatable): " + FAULT_SPEC_HELP.replace("%", "%%"),
    )
    parser.add_argument("--no-rate-limit", action="store_true", help="switch rate limits off")
    parser.add_argument("--activate-after-polls", type=int, default=3)
    parser.add_argument("--activate-after-seconds", type=float, default=None)
    parser.add_argument(
        "--visibility-delay",
        type=float,
        default=0.0,
        help="seconds before what a spend creates shows in reads (orders, domains)",
    )
    parser.add_argument(
        "--clock-skew",
        type=float,
        default=0.0,
        help="seconds the server's clock is ahead of the real time (negative: behind)",
    )
    args = parser.parse_args(argv)
    options: dict[str, Any] = {
        "seed": args.seed,
        "rate_limit": args.rate_limit,
        "critical_limit": args.critical_limit,
        "rate_limit_algorithm": args.algorithm,
        "burst": args.burst,
        "rate_limits_enabled": not args.no_rate_limit,
        "activate_after_polls": args.activate_after_polls,
        "activate_after_seconds": args.activate_after_seconds,
        "visibility_delay": args.visibility_delay,
        "clock_skew": args.clock_skew,
    }
    if args.api_keys:
        options["api_keys"] = args.api_keys
    if args.faults:
        options["faults"] = args.faults
    run_fake_server(args.host, args.port, **options)


if __name__ == "__main__":
    main()
