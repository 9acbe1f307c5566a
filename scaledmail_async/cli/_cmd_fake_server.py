"""The ``scaledmail fake-server`` command: run the embedded fake Scaledmail API
(:mod:`scaledmail_async.testing`) until Ctrl-C, printing the base URL and the test key to use.

A command module: it imports the plumbing (:mod:`._plumbing`) and is imported by :mod:`._app`
only.
"""

from __future__ import annotations

from typing import Any

import click

from scaledmail_async._env import API_KEY_ENV, BASE_URL_ENV
from scaledmail_async.cli._errors import EXIT_FAILURE, EXIT_USAGE
from scaledmail_async.cli._plumbing import fail

__all__ = ["fake_server_command"]


def fake_server_command() -> click.Command:
    """``scaledmail fake-server``."""

    def callback(**params: Any) -> None:
        from scaledmail_async.testing import DEFAULT_API_KEY, FakeScaledmail, run_fake_server

        host: str = params.pop("host")
        port: int = params.pop("port")
        options: dict[str, Any] = {
            "seed": params["seed"],
            "rate_limit": params["rate_limit"],
            "critical_limit": params["critical_limit"],
            "rate_limits_enabled": not params["no_rate_limit"],
            "activate_after_polls": params["activate_after_polls"],
            "activate_after_seconds": params["activate_after_seconds"],
            "visibility_delay": params["visibility_delay"],
            "clock_skew": params["clock_skew"],
        }

        def announce(fake: FakeScaledmail) -> None:
            click.echo(f"Fake Scaledmail API listening at {fake.base_url}")
            click.echo(f"Organizations: {', '.join(fake.organization_ids)}")
            click.echo("Use it from another shell (the key is the fake's public test key):")
            click.echo(f"  export {BASE_URL_ENV}={fake.base_url}")
            click.echo(f"  export {API_KEY_ENV}={DEFAULT_API_KEY}")
            click.echo(f"  export SCALEDMAIL_ORGANIZATION_ID={fake.organization_id}")
            click.echo("Ctrl-C to stop.", err=True)

        try:
            run_fake_server(host, port, on_ready=announce, **options)
        except ValueError as exc:  # an option FakeOptions refuses (a NaN skew...)
            fail(f"error: {exc}", EXIT_USAGE)
        except OSError as exc:
            fail(
                f"error: cannot listen on {host}:{port}: {exc.strerror or exc}. "
                "Choose another --port.",
                EXIT_FAILURE,
            )

    params: list[click.Parameter] = [
        click.Option(["--host"], default="127.0.0.1", show_default=True),
        click.Option(["--port"], type=click.IntRange(0, 65535), default=8080, show_default=True),
        click.Option(
            ["--rate-limit"],
            type=click.IntRange(min=1),
            default=5,
            show_default=True,
            help="Requests per second per key.",
        ),
        click.Option(
            ["--critical-limit"],
            type=click.IntRange(min=1),
            default=15,
            show_default=True,
            help="Critical operations (search, suggest, buy domains) per minute.",
        ),
        click.Option(["--no-rate-limit"], is_flag=True, help="Switch the rate limits off."),
        click.Option(
            ["--activate-after-polls"],
            type=click.IntRange(min=0),
            default=3,
            show_default=True,
            help="New orders are Active after this many polls of their details.",
        ),
        click.Option(
            ["--activate-after-seconds"],
            type=click.FloatRange(min=0),
            default=None,
            help="... or this many seconds after creation.",
        ),
        click.Option(
            ["--visibility-delay"],
            type=click.FloatRange(min=0),
            default=0.0,
            show_default=True,
            help="Seconds before what a purchase creates shows in reads (orders, order details, "
            "domains, purchased domains): reads lag writes, as reconciliation must expect.",
        ),
        click.Option(
            ["--clock-skew"],
            type=float,
            default=0.0,
            show_default=True,
            help="Seconds the server's clock is ahead of the real time (negative: behind); "
            "shifts created_at of new orders and the Date header.",
        ),
        click.Option(["--seed"], type=int, default=0, show_default=True, help="Seeded data."),
    ]
    return click.Command(
        "fake-server",
        callback=callback,
        params=params,
        short_help="Run the embedded fake Scaledmail API.",
        help=(
            "Run the embedded fake Scaledmail API (in-memory state, documented rules, rate "
            "limits, order lifecycle) until Ctrl-C. Prints its base URL and the test key to "
            "use with SCALEDMAIL_BASE_URL and SCALEDMAIL_API_KEY."
        ),
    )
