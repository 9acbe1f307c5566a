"""The ``scaledmail orders watch ID [ID...]`` command: poll orders until they are all active,
with a live rich progress display, and exit with what stopped the ones that did not finish.

A command module: it imports the plumbing (:mod:`._settings`, :mod:`._plumbing`) and is imported
by :mod:`._app` only.
"""

from __future__ import annotations

from typing import Any

import attrs
import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from scaledmail_async.cli._errors import (
    EXIT_FAILURE,
    EXIT_OK,
    error_json,
    exit_code_for,
    message_json,
    redact_json,
)
from scaledmail_async.cli._output import dump_json, stdout_console
from scaledmail_async.cli._plumbing import fail_json, json_errors, run
from scaledmail_async.cli._settings import (
    api_key,
    command_settings,
    make_client,
    settings_params,
)

__all__ = ["watch_command"]


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
    #: The exception behind ``error`` (for the JSON error object), not printed as such.
    exc: Exception | None = None

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
                    item.exc = event.error
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
                    item.exc = None
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


def _not_active_json(
    not_done: list[_Watched], total: int, code: int, secret: str
) -> dict[str, Any]:
    """The JSON error object of a watch that ended with orders not active: the first error's
    ``type``, ``status`` and ``request_id`` (``NotActive`` when none failed: they timed out),
    and every unfinished order under ``orders``."""
    failed = [r for r in not_done if r.exc is not None and r.error_code == code]
    shown = ", ".join(f"{r.order_id} ({r.outcome})" for r in not_done[:5])
    more = ", ..." if len(not_done) > 5 else ""
    message = f"{len(not_done)} of {total} order(s) not active: {shown}{more}"
    if failed and failed[0].exc is not None:
        data = error_json(
            failed[0].exc, operation="get_order_details", exit_code=code, secret=secret
        )
        data["message"] = f"{message}; {data['message']}"
    else:
        data = message_json(
            message, kind="NotActive", exit_code=code, operation="get_order_details"
        )
        data["hint"] = "Watch again later (a longer --timeout), or check the orders' setup forms."
    data["orders"] = [r.as_json() for r in not_done]
    redacted: dict[str, Any] = redact_json(data, secret)
    return redacted


def watch_command() -> click.Command:
    """``scaledmail orders watch ID [ID...]``."""

    def callback(**params: Any) -> None:
        ctx = click.get_current_context()
        order_ids: tuple[str, ...] = params.pop("order_ids")
        interval: float = params.pop("interval")
        total_timeout: float = params.pop("watch_timeout")
        settings = command_settings(ctx, params)
        key = api_key()
        as_json = json_errors(ctx)
        # With JSON errors stderr carries the one error object only: no progress display.
        stderr = Console(stderr=True, quiet=as_json)

        async def watch() -> list[_Watched]:
            async with make_client(settings, key) as client:
                return await _watch(
                    client,
                    list(order_ids),
                    interval=interval,
                    give_up_after=total_timeout,
                    console=stderr,
                )

        results = run(watch, operation="get_order_details", secret=key)
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
        code = codes[0] if codes else EXIT_FAILURE
        if as_json:
            fail_json(_not_active_json(not_done, len(results), code, key), code)
        raise click.exceptions.Exit(code)

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
        *settings_params(request_timeout=False),
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
