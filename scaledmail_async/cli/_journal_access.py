"""The purchase journal the ``purchases`` commands read: where it is (``--journal`` or
``$SCALEDMAIL_JOURNAL``), opening it (SQLite file or Redis URL), closing it, and telling its
failures (unreadable, locked, down) apart from API errors.

Plumbing below the commands: it imports no command module.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs
import click

from scaledmail_async._env import JOURNAL_ENV, resolve
from scaledmail_async.cli._errors import EXIT_API_STATUS, EXIT_FAILURE, EXIT_USAGE, exit_code_for
from scaledmail_async.cli._plumbing import fail

if TYPE_CHECKING:
    from scaledmail_async._journal import PurchaseJournal

__all__ = [
    "JournalLocation",
    "close_quietly",
    "exit_on_journal_failure",
    "journal_location",
    "journal_option",
    "open_journal",
]

#: Journal locations served by RedisPurchaseJournal (as ``journal_from_setting`` decides).
_REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://")


@attrs.frozen
class JournalLocation:
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


def journal_option() -> click.Option:
    """The ``--journal PATH_OR_URL`` option."""
    return click.Option(
        ["--journal", "journal"],
        metavar="PATH_OR_URL",
        help=f"The purchase journal: a SQLite file or a redis:// URL; default: ${JOURNAL_ENV}.",
    )


def journal_location(option: str | None) -> JournalLocation:
    """``--journal`` when given, else ``$SCALEDMAIL_JOURNAL``; exit 2 naming both when neither."""
    found = resolve(
        option.strip() or None if option is not None else None,
        argument_name="--journal",
        env=JOURNAL_ENV,
    )
    if found.value is None:
        fail(
            f"error: no purchase journal: pass --journal PATH_OR_URL or set {JOURNAL_ENV} (the "
            "SQLite file the SDK journals purchases in, or a redis:// URL).",
            EXIT_USAGE,
            kind="ConfigurationError",
        )
    secret = ""
    if found.value.lower().startswith(_REDIS_SCHEMES):
        from yarl import URL

        try:
            secret = URL(found.value).password or ""
        except ValueError:
            secret = ""
    return JournalLocation(found.value, found.source, secret)


def open_journal(where: JournalLocation) -> PurchaseJournal:
    """The journal at ``where``: ``SQLitePurchaseJournal`` for a path (which must exist: these
    commands read a journal, they never start one), ``RedisPurchaseJournal`` for a Redis URL."""
    from scaledmail_async.errors import ScaledmailError

    if where.is_redis:
        try:
            from scaledmail_async._journal_redis import RedisPurchaseJournal

            return RedisPurchaseJournal.from_url(where.value)
        except ImportError as exc:
            fail(
                f"error: the journal {where.shown} (from {where.source}) is a Redis URL, which "
                f"needs the redis extra: pip install 'scaledmail-async[redis]' ({exc}).",
                EXIT_USAGE,
                where.secret,
                kind="ConfigurationError",
            )
        except (ScaledmailError, ValueError) as exc:
            fail(
                f"error: the journal {where.shown} (from {where.source}): {exc}",
                EXIT_USAGE,
                where.secret,
                kind=type(exc).__name__,
            )
    from scaledmail_async._journal import SQLitePurchaseJournal

    path = Path(where.value).expanduser()
    if not path.is_file():
        fail(
            f"error: no purchase journal at {str(path)!r} (from {where.source}): the file does "
            "not exist. Check the path (the SDK creates it on the first journaled purchase).",
            EXIT_USAGE,
            kind="ConfigurationError",
        )
    try:
        return SQLitePurchaseJournal(path)
    except ScaledmailError as exc:
        fail(f"error: {exc}", EXIT_USAGE, error=exc)


async def close_quietly(journal: PurchaseJournal) -> None:
    """Close ``journal``; a failure to close must not hide the command's result."""
    try:
        closed = journal.aclose()
        if inspect.isawaitable(closed):
            await closed
    except Exception:  # closing a store must not hide the command's result
        pass


def exit_on_journal_failure(exc: Exception, where: JournalLocation) -> None:
    """Exit with a message when ``exc`` is the journal failing (unreadable, locked, down)."""
    from scaledmail_async._journal import JournalUnavailableError

    if isinstance(exc, JournalUnavailableError):
        code = exit_code_for(exc)
        # A store failure is not an API error: the generic failure code unless one is assigned.
        code = EXIT_FAILURE if code == EXIT_API_STATUS else code
        fail(f"error: {exc}", code, where.secret, error=exc)
