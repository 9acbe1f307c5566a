"""The ``scaledmail demo`` command (what ``make demo`` runs): its options, and the exit code of
the demo job (:mod:`._demo`, imported only when the command runs).

A command module: it imports the plumbing (:mod:`._plumbing`) and is imported by :mod:`._app`
only.
"""

from __future__ import annotations

import asyncio

import click

from scaledmail_async.cli._errors import EXIT_FAILURE
from scaledmail_async.cli._plumbing import fail

__all__ = ["demo_command"]


def demo_command() -> click.Command:
    """``scaledmail demo`` (what ``make demo`` runs)."""

    def callback(domains: int, no_faults: bool) -> None:
        from scaledmail_async.cli._demo import DemoCheckError, DemoConfig, run_demo

        config = DemoConfig(domains=domains, faults=not no_faults)
        try:
            summary = asyncio.run(run_demo(config))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except DemoCheckError as exc:
            fail(f"demo check failed: {exc}", EXIT_FAILURE)
        if not summary.all_active:
            fail("demo: some orders did not become active", EXIT_FAILURE)

    return click.Command(
        "demo",
        callback=callback,
        params=[
            click.Option(
                ["--domains"],
                type=click.IntRange(3, 50),
                default=40,
                show_default=True,
                help="Domains to provision across Google, Outlook and SMTP (the demo keyword "
                "yields enough available names for 50).",
            ),
            click.Option(["--no-faults"], is_flag=True, help="Do not inject faults."),
        ],
        short_help="Run the demo against an embedded fake server (no key needed).",
        help=(
            "Start a fake Scaledmail API in-process (documented rate limits, order lifecycle, "
            "a few injected faults) and provision domains across Google, Outlook and SMTP: "
            "suggest, search, buy, create custom orders, update redirects, poll the orders until "
            "active. Ends with a summary of requests, retries, 429s and elapsed time against "
            "the rate-limit floor. Same as `make demo`."
        ),
    )
