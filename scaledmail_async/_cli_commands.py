"""The hand-written ``scaledmail`` commands: ``orders watch``, ``purchases list|reconcile``,
``fake-server`` and ``demo``.

(The per-operation commands are generated from the operation table in
:mod:`scaledmail_async._cli_app`.)
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

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
    _Settings,
    _settings_from,
    _settings_params,
)
from scaledmail_async._cli_errors import (
    EXIT_API_STATUS,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_OUTCOME_UNKNOWN,
    EXIT_USAGE,
    exit_code_for,
)
from scaledmail_async._cli_output import dump_json, stdout_console
from scaledmail_async._env import JOURNAL_ENV, resolve

if TYPE_CHECKING:
    from scaledmail_async._journal import JournalEntry, PurchaseJournal

__all__ = [
    "JOURNAL_ENV",
    "demo_command",
    "fake_server_command",
    "purchases_group",
    "watch_command",
]


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
            _fail(f"error: {exc}", EXIT_USAGE)
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


# --------------------------------------------------------------------------- purchases

_JOURNAL_STATES: Final = ("pending", "applied", "not_applied", "unknown")
#: Journal locations served by RedisPurchaseJournal (as ``journal_from_setting`` decides).
_REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://")
#: Domain names shown per row of a table before "+N more".
_TABLE_DOMAINS: Final = 3


@attrs.frozen
class _JournalLocation:
    """Where the journal is, where that came from, and what to hide when printing it."""

    value: str
    source: str
    #: A password inside a redis:// URL (redacted from every message).
    secret: str

    @property
    def is_redis(self) -> bool:
        return self.value.lower().startswith(_REDIS_SCHEMES)

    @property
    def shown(self) -> str:
        """The location as messages show it (a Redis URL without its credentials)."""
        if not self.is_redis:
            return self.value
        from yarl import URL

        try:
            return str(URL(self.value).with_user(None))
        except ValueError:
            return self.value.split("://", 1)[0] + "://***"


def _journal_location(option: str | None) -> _JournalLocation:
    """``--journal`` when given, else ``$SCALEDMAIL_JOURNAL``; exit 2 naming both when neither."""
    found = resolve(
        option.strip() or None if option is not None else None,
        argument_name="--journal",
        env=JOURNAL_ENV,
    )
    if found.value is None:
        _fail(
            f"error: no purchase journal: pass --journal PATH_OR_URL or set {JOURNAL_ENV} (the "
            "SQLite file the SDK journals purchases in, or a redis:// URL).",
            EXIT_USAGE,
        )
    secret = ""
    if found.value.lower().startswith(_REDIS_SCHEMES):
        from yarl import URL

        try:
            secret = URL(found.value).password or ""
        except ValueError:
            secret = ""
    return _JournalLocation(found.value, found.source, secret)


def _open_journal(where: _JournalLocation) -> PurchaseJournal:
    """The journal at ``where``: ``SQLitePurchaseJournal`` for a path (which must exist: these
    commands read a journal, they never start one), ``RedisPurchaseJournal`` for a Redis URL."""
    from scaledmail_async.errors import ScaledmailError

    if where.is_redis:
        try:
            from scaledmail_async._journal_redis import RedisPurchaseJournal

            return RedisPurchaseJournal.from_url(where.value)
        except ImportError as exc:
            _fail(
                f"error: the journal {where.shown} (from {where.source}) is a Redis URL, which "
                f"needs the redis extra: pip install 'scaledmail-async[redis]' ({exc}).",
                EXIT_USAGE,
                where.secret,
            )
        except (ScaledmailError, ValueError) as exc:
            _fail(
                f"error: the journal {where.shown} (from {where.source}): {exc}",
                EXIT_USAGE,
                where.secret,
            )
    from scaledmail_async._journal import SQLitePurchaseJournal

    path = Path(where.value).expanduser()
    if not path.is_file():
        _fail(
            f"error: no purchase journal at {str(path)!r} (from {where.source}): the file does "
            "not exist. Check the path (the SDK creates it on the first journaled purchase).",
            EXIT_USAGE,
        )
    try:
        return SQLitePurchaseJournal(path)
    except ScaledmailError as exc:
        _fail(f"error: {exc}", EXIT_USAGE)


async def _closing(journal: PurchaseJournal) -> None:
    try:
        closed = journal.aclose()
        if inspect.isawaitable(closed):
            await closed
    except Exception:  # closing a store must not hide the command's result
        pass


def _journal_failure(exc: Exception, where: _JournalLocation) -> None:
    """Exit with a message when ``exc`` is the journal failing (unreadable, locked, down)."""
    from scaledmail_async._journal import JournalUnavailableError

    if isinstance(exc, JournalUnavailableError):
        code = exit_code_for(exc)
        # A store failure is not an API error: the generic failure code unless one is assigned.
        _fail(f"error: {exc}", EXIT_FAILURE if code == EXIT_API_STATUS else code, where.secret)


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


def _journal_option() -> click.Option:
    return click.Option(
        ["--journal", "journal"],
        metavar="PATH_OR_URL",
        help=f"The purchase journal: a SQLite file or a redis:// URL; default: ${JOURNAL_ENV}.",
    )


def _output_params() -> list[click.Parameter]:
    """Only the output-format options of the common settings (``list`` calls no API)."""
    names = {"as_json", "as_table", "output_format"}
    return [p for p in _settings_params() if p.name in names]


def purchases_list_command() -> click.Command:
    """``scaledmail purchases list``."""

    def callback(**params: Any) -> None:
        ctx = click.get_current_context()
        where = _journal_location(params.pop("journal"))
        states: tuple[str, ...] = params.pop("states")
        settings = _root_settings(ctx).merged(_settings_from(params))
        journal = _open_journal(where)

        async def read() -> list[JournalEntry]:
            try:
                return await journal.entries(states=states or None)
            except Exception as exc:
                _journal_failure(exc, where)
                raise
            finally:
                await _closing(journal)

        entries = _run(read, operation=None, secret=where.secret)
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
        _journal_option(),
        click.Option(
            ["--state", "states"],
            type=click.Choice(_JOURNAL_STATES),
            multiple=True,
            help="Only entries in this state (repeatable).",
        ),
        *_output_params(),
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


def _journal_client(settings: _Settings, api_key: str, journal: PurchaseJournal) -> Any:
    """A client like :func:`_make_client`'s, journaling in ``journal``."""
    from scaledmail_async._client import ScaledmailClient

    kwargs: dict[str, Any] = {"journal": journal}
    if settings.organization_id:
        kwargs["organization_id"] = settings.organization_id
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    if settings.timeout is not None:
        kwargs["timeout"] = settings.timeout
    if settings.max_retries is not None:
        kwargs["max_retries"] = settings.max_retries
    return ScaledmailClient(api_key, **kwargs)


async def _targets(
    journal: PurchaseJournal, wanted: Sequence[str], where: _JournalLocation
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
        _fail(
            "error: no journal entry with the id or tag "
            + ", ".join(repr(m) for m in missing)
            + f" in {where.shown} (see `scaledmail purchases list`); nothing was reconciled.",
            EXIT_USAGE,
            where.secret,
        )
    return found


def purchases_reconcile_command() -> click.Command:
    """``scaledmail purchases reconcile [TAG_OR_ENTRY_ID...]``."""

    def callback(**params: Any) -> None:
        ctx = click.get_current_context()
        wanted: tuple[str, ...] = params.pop("targets")
        where = _journal_location(params.pop("journal"))
        settings = _root_settings(ctx).merged(_settings_from(params))
        journal = _open_journal(where)
        api_key = _api_key()

        async def reconcile() -> list[Any]:
            try:
                targets = await _targets(journal, wanted, where)
                async with _journal_client(settings, api_key, journal) as client:
                    if not wanted:
                        return list(await client.reconcile_pending())
                    return [await client.reconcile(target) for target in targets]
            except Exception as exc:
                _journal_failure(exc, where)
                raise
            finally:
                await _closing(journal)

        results = _run(reconcile, operation=None, secret=api_key)
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
        _journal_option(),
        *_settings_params(),
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
