"""The ``scaledmail purchases`` commands: ``list`` (the purchase journal's entries) and
``reconcile`` (find out on the server whether journaled purchases happened).

A command module: it imports the plumbing (:mod:`._settings`, :mod:`._journal_access`,
:mod:`._plumbing`) and is imported by :mod:`._app` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import click

from scaledmail_async._env import JOURNAL_ENV
from scaledmail_async.cli._errors import (
    EXIT_OK,
    EXIT_OUTCOME_UNKNOWN,
    EXIT_USAGE,
    message_json,
    redact_json,
)
from scaledmail_async.cli._journal_access import (
    JournalLocation,
    close_quietly,
    exit_on_journal_failure,
    journal_location,
    journal_option,
    open_journal,
)
from scaledmail_async.cli._output import dump_json, stdout_console
from scaledmail_async.cli._plumbing import fail, fail_json, json_errors, run
from scaledmail_async.cli._settings import (
    Settings,
    api_key,
    command_settings,
    make_client,
    output_params,
    settings_params,
)

if TYPE_CHECKING:
    from scaledmail_async._journal import JournalEntry, PurchaseJournal

__all__ = ["purchases_group", "purchases_list_command", "purchases_reconcile_command"]

_JOURNAL_STATES: Final = ("pending", "applied", "not_applied", "unknown")
#: Domain names shown per row of a table before "+N more".
_TABLE_DOMAINS: Final = 3


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _domains_cell(domains: Sequence[str]) -> str:
    shown = ", ".join(domains[:_TABLE_DOMAINS])
    more = len(domains) - _TABLE_DOMAINS
    return f"{shown} (+{more} more)" if more > 0 else shown


def _entry_json(entry: JournalEntry) -> dict[str, Any]:
    """An entry as ``purchases list`` prints it (no fingerprint, no key hash)."""
    return {
        "id": entry.id,
        "created_at": entry.created_at,
        "operation": entry.operation,
        "tag": entry.tag,
        "domains": list(entry.domains),
        "state": entry.state,
        "order_id": entry.order_id,
        "payment_pending": entry.payment_pending,
        "organization_id": entry.organization_id,
        "sent_at": entry.sent_at,
        "updated_at": entry.updated_at,
        "note": entry.note,
    }


def purchases_list_command() -> click.Command:
    """``scaledmail purchases list``."""

    def callback(**params: Any) -> None:
        ctx = click.get_current_context()
        settings = command_settings(ctx, params)
        where = journal_location(params.pop("journal"))
        states: tuple[str, ...] = params.pop("states")
        journal = open_journal(where)

        async def read() -> list[JournalEntry]:
            try:
                return await journal.entries(states=states or None)
            except Exception as exc:
                exit_on_journal_failure(exc, where)
                raise
            finally:
                await close_quietly(journal)

        entries = run(read, operation=None, secret=where.secret)
        if settings.output == "table":
            from rich.table import Table

            table = Table(title="purchases")
            for column in ("created_at", "operation", "tag", "domains", "state", "order_id"):
                no_wrap = column in {"created_at", "tag", "state", "order_id"}
                table.add_column(column, no_wrap=no_wrap, overflow="fold")
            for e in entries:
                table.add_row(
                    _when(e.created_at),
                    e.operation,
                    e.tag or "",
                    _domains_cell(e.domains),
                    e.state,
                    e.order_id or "",
                )
            stdout_console().print(table)
        else:
            click.echo(dump_json([_entry_json(e) for e in entries]))

    params: list[click.Parameter] = [
        journal_option(),
        click.Option(
            ["--state", "states"],
            type=click.Choice(_JOURNAL_STATES),
            multiple=True,
            help="Only entries in this state (repeatable).",
        ),
        *output_params(),
    ]
    return click.Command(
        "list",
        callback=callback,
        params=params,
        short_help="List the purchase journal's entries.",
        help=(
            "List the entries of the purchase journal (--journal or $SCALEDMAIL_JOURNAL), oldest "
            "first: operation, tag, domains, state (pending, applied, not_applied, unknown) and "
            "order id. Reads only the journal: no API key needed, nothing is sent."
        ),
    )


def _result_json(result: Any) -> dict[str, Any]:
    entry: JournalEntry | None = getattr(result, "entry", None)
    return {
        "entry_id": entry.id if entry is not None else None,
        "operation": entry.operation if entry is not None else None,
        "tag": entry.tag if entry is not None else None,
        "domains": list(entry.domains) if entry is not None else [],
        "state": result.state,
        "order_id": result.order_id,
        "evidence": result.evidence,
        "conclusive_at": getattr(result, "conclusive_at", None),
        "payment_pending": entry.payment_pending if entry is not None else False,
    }


def _journal_client(settings: Settings, key: str, journal: PurchaseJournal) -> Any:
    """A client like :func:`~._settings.make_client`'s, journaling in ``journal``."""
    return make_client(settings, key, journal=journal)


async def _targets(
    journal: PurchaseJournal, wanted: Sequence[str], where: JournalLocation
) -> list[JournalEntry | str]:
    """Each argument as an entry (an entry id) or a tag the journal has; exit 2 for the rest."""
    found: list[JournalEntry | str] = []
    missing: list[str] = []
    for item in wanted:
        entry = await journal.get(item)
        if entry is not None:
            found.append(entry)
        elif await journal.find_tag(item):
            found.append(item)
        else:
            missing.append(item)
    if missing:
        fail(
            "error: no journal entry with the id or tag "
            + ", ".join(repr(m) for m in missing)
            + f" in {where.shown} (see `scaledmail purchases list`); nothing was reconciled.",
            EXIT_USAGE,
            where.secret,
            kind="UsageError",
        )
    return found


def purchases_reconcile_command() -> click.Command:
    """``scaledmail purchases reconcile [TAG_OR_ENTRY_ID...]``."""

    def callback(**params: Any) -> None:
        ctx = click.get_current_context()
        wanted: tuple[str, ...] = params.pop("targets")
        settings = command_settings(ctx, params)
        where = journal_location(params.pop("journal"))
        journal = open_journal(where)
        key = api_key()

        async def reconcile() -> list[Any]:
            try:
                targets = await _targets(journal, wanted, where)
                async with _journal_client(settings, key, journal) as client:
                    if not wanted:
                        return list(await client.reconcile_pending())
                    return [await client.reconcile(target) for target in targets]
            except Exception as exc:
                exit_on_journal_failure(exc, where)
                raise
            finally:
                await close_quietly(journal)

        results = run(reconcile, operation=None, secret=key)
        rows = [_result_json(r) for r in results]
        if settings.output == "table":
            from rich.table import Table

            table = Table(title="reconciliation")
            columns = ("entry_id", "operation", "tag", "domains", "state", "order_id", "evidence")
            for column in columns:
                no_wrap = column in {"entry_id", "tag", "state", "order_id"}
                table.add_column(column, no_wrap=no_wrap, overflow="fold")
            for row in rows:
                table.add_row(
                    row["entry_id"] or "",
                    row["operation"] or "",
                    row["tag"] or "",
                    _domains_cell(row["domains"]),
                    str(row["state"]),
                    row["order_id"] or "",
                    str(row["evidence"] or ""),
                )
            stdout_console().print(table)
        else:
            click.echo(dump_json(rows))
        unknown = [row for row in rows if row["state"] == "unknown"]
        if not rows:
            click.echo("nothing to reconcile: no pending or unknown entry", err=True)
            raise click.exceptions.Exit(EXIT_OK)
        if not unknown:
            click.echo(f"all {len(rows)} purchase(s) conclusive", err=True)
            raise click.exceptions.Exit(EXIT_OK)
        if json_errors(ctx):
            data = message_json(
                f"{len(unknown)} of {len(rows)} purchase(s) still unknown: "
                + ", ".join(str(row["tag"] or row["entry_id"]) for row in unknown),
                kind="OutcomeUnknownError",
                exit_code=EXIT_OUTCOME_UNKNOWN,
                operation="reconcile",
                secret=key,
            )
            data["hint"] = (
                "Do not buy these again yet: run `scaledmail purchases reconcile` again later "
                "(an order can take a while to show)."
            )
            data["entries"] = redact_json(unknown, key)
            fail_json(data, EXIT_OUTCOME_UNKNOWN)
        for row in unknown:
            what = f"tag {row['tag']!r}" if row["tag"] else ", ".join(row["domains"])
            click.echo(
                f"still unknown: entry {row['entry_id']} ({row['operation']}, {what}): "
                f"{row['evidence']}",
                err=True,
            )
        click.echo(
            "Do not buy these again yet: run `scaledmail purchases reconcile` again later (an "
            "order can take a while to show).",
            err=True,
        )
        raise click.exceptions.Exit(EXIT_OUTCOME_UNKNOWN)

    params: list[click.Parameter] = [
        click.Argument(["targets"], nargs=-1, metavar="[TAG_OR_ENTRY_ID]..."),
        journal_option(),
        *settings_params(),
    ]
    return click.Command(
        "reconcile",
        callback=callback,
        params=params,
        short_help="Find out whether journaled purchases happened.",
        help=(
            "Look for journaled purchases on the server (orders carrying the tag, bought "
            "domains) and record the outcome in the journal. With no argument, every pending or "
            "unknown entry (what a restarted job runs first); else the entries with these ids "
            "or tags. Never buys anything.\n\n"
            "Prints each result (JSON, or --table). Exit 0 when every one is conclusive "
            "(applied or not_applied), 8 when any is still unknown (run it again later), 2 when "
            "no journal is configured or an argument is in no entry."
        ),
    )


def purchases_group() -> click.Group:
    """``scaledmail purchases``: the purchase journal."""
    group = click.Group(
        "purchases",
        help=(
            "The purchase journal (exactly-once purchases): --journal PATH_OR_URL or "
            f"${JOURNAL_ENV}."
        ),
    )
    group.add_command(purchases_list_command())
    group.add_command(purchases_reconcile_command())
    return group
