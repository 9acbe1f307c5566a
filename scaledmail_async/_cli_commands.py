"""The hand-written ``scaledmail`` commands: ``orders watch``, ``fake-server`` and ``demo``.

(The per-operation commands are generated from the operation table in
:mod:`scaledmail_async._cli_app`.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from scaledmail_async._cli_app import (
    API_KEY_ENV,
    BASE_URL_ENV,
    _api_key,
    _fail,
    _make_client,
    _root_settings,
    _run,
    _settings_from,
    _settings_params,
)
from scaledmail_async._cli_errors import EXIT_FAILURE, EXIT_OK, exit_code_for
from scaledmail_async._cli_output import dump_json, stdout_console

__all__ = ["demo_command", "fake_server_command", "watch_command"]


# --------------------------------------------------------------------------- orders watch


@attrs.define
class _Watched:
    """What ``orders watch`` knows about one order."""

    order_id: str
    status: str = ""
    active_domains: int = 0
    domains: int = 0
    outcome: str = "pending"
    error: str | None = None
    error_code: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "outcome": self.outcome,
            "status": self.status,
            "active_domains": self.active_domains,
            "domains": self.domains,
            "error": self.error,
        }


async def _watch(
    client: Any,
    order_ids: list[str],
    *,
    interval: float,
    give_up_after: float,
    console: Console,
) -> list[_Watched]:
    from scaledmail_async.bulk import poll_orders

    watched = {oid: _Watched(oid) for oid in dict.fromkeys(order_ids)}
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        transient=False,
    )
    bars: dict[str, TaskID] = {
        oid: progress.add_task(oid, total=None, note="waiting") for oid in watched
    }
    poller = poll_orders(
        client, list(watched), interval=interval, timeout=give_up_after, raise_on_timeout=False
    )
    with progress:
        async with poller:
            async for event in poller:
                item = watched[event.order_id]
                bar = bars[event.order_id]
                if event.outcome == "timeout":
                    # Still pending at --timeout: reported after the loop like any unfinished one.
                    progress.update(bar, note="[yellow]timed out[/yellow]")
                    continue
                if event.error is not None:
                    item.error = str(event.error)
                    item.error_code = exit_code_for(event.error)
                    note = f"[red]{type(event.error).__name__}[/red]"
                    if event.done:
                        note += " (gave up)"
                    progress.update(bar, note=note)
                elif event.details is not None:
                    details = event.details
                    domains = [d for p in details.packages or [] for d in p.domains or []]
                    item.status = str(details.status or "")
                    item.domains = len(domains)
                    item.active_domains = sum(
                        1 for d in domains if str(d.status or "").strip().lower() == "active"
                    )
                    item.error = None
                    progress.update(
                        bar,
                        total=max(item.domains, 1),
                        completed=item.active_domains if item.domains else 0,
                        note=f"{item.status or '-'} (poll {event.polls})",
                    )
                if event.done:
                    item.outcome = event.outcome
                    if event.outcome == "completed":
                        progress.update(
                            bar, completed=max(item.domains, 1), note="[green]active[/green]"
                        )
    return list(watched.values())


def watch_command() -> click.Command:
    """``scaledmail orders watch ID [ID...]``."""

    def callback(**params: Any) -> None:
        ctx = click.get_current_context()
        order_ids: tuple[str, ...] = params.pop("order_ids")
        interval: float = params.pop("interval")
        total_timeout: float = params.pop("watch_timeout")
        settings = _root_settings(ctx).merged(_settings_from(params))
        api_key = _api_key()
        stderr = Console(stderr=True)

        async def watch() -> list[_Watched]:
            async with _make_client(settings, api_key) as client:
                return await _watch(
                    client,
                    list(order_ids),
                    interval=interval,
                    give_up_after=total_timeout,
                    console=stderr,
                )

        results = _run(watch, operation="get_order_details", secret=api_key)
        if settings.output == "table":
            from rich.table import Table

            table = Table(title="orders")
            for column in ("order_id", "outcome", "status", "active domains", "error"):
                table.add_column(column)
            for r in results:
                table.add_row(
                    r.order_id,
                    r.outcome,
                    r.status,
                    f"{r.active_domains}/{r.domains}",
                    r.error or "",
                )
            stdout_console().print(table)
        else:
            click.echo(dump_json([r.as_json() for r in results]))
        not_done = [r for r in results if r.outcome != "completed"]
        if not not_done:
            stderr.print(f"all {len(results)} order(s) active")
            raise click.exceptions.Exit(EXIT_OK)
        for r in not_done:
            why = r.error or ("timed out" if r.outcome == "pending" else r.outcome)
            stderr.print(f"[red]not active:[/red] {r.order_id}: {r.outcome} ({why})")
        codes = [r.error_code for r in not_done if r.error_code is not None]
        raise click.exceptions.Exit(codes[0] if codes else EXIT_FAILURE)

    params: list[click.Parameter] = [
        click.Argument(["order_ids"], nargs=-1, required=True, metavar="ORDER_ID..."),
        click.Option(
            ["--interval"],
            type=click.FloatRange(min=0),
            default=10.0,
            show_default=True,
            help="Seconds between two polls of one order.",
        ),
        click.Option(
            ["--timeout", "watch_timeout"],
            type=click.FloatRange(min=0, min_open=True),
            default=3600.0,
            show_default=True,
            help="Give up after this many seconds (the per-request timeout is the global "
            "`scaledmail --timeout`).",
        ),
        *_settings_params(request_timeout=False),
    ]
    return click.Command(
        "watch",
        callback=callback,
        params=params,
        short_help="Watch orders until they are all active.",
        help=(
            "Poll orders (get-order-details) with a live progress display until every one is "
            "active: the order, its packages and their domains.\n\n"
            "Prints each order's outcome (JSON, or --table) when done. Exit 0 when all are "
            "active; otherwise the exit code of the error that stopped an order (4: not found, "
            "...) or 1 (timed out or cancelled), and the orders that did not finish on stderr."
        ),
    )


# --------------------------------------------------------------------------- fake-server


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
        except OSError as exc:
            _fail(
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


# --------------------------------------------------------------------------- demo


def demo_command() -> click.Command:
    """``scaledmail demo`` (what ``make demo`` runs)."""

    def callback(domains: int, no_faults: bool) -> None:
        from scaledmail_async._demo import DemoCheckError, DemoConfig, run_demo

        config = DemoConfig(domains=domains, faults=not no_faults)
        try:
            summary = asyncio.run(run_demo(config))
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except DemoCheckError as exc:
            _fail(f"demo check failed: {exc}", EXIT_FAILURE)
        if not summary.all_active:
            _fail("demo: some orders did not become active", EXIT_FAILURE)

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
