"""How a ``scaledmail`` command ends: :func:`fail` (a message on stderr and an exit code) and
:func:`run` (a coroutine under ``asyncio.run``, its SDK errors turned into a message and an exit
code).

Errors are prose for a person by default; when JSON output was asked for (``--json`` or
``--format json``: :func:`set_json_errors`, kept in the click context's ``meta``), each is one
JSON object on stderr instead (:mod:`._errors`), click's own usage errors included
(:class:`JSONUsageError`). Exit codes are the same either way.

The lowest click layer of the CLI: every command module may import it; it imports no command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import IO, Any, Final, NoReturn, TypeVar

import click

from scaledmail_async.cli._errors import (
    EXIT_USAGE,
    describe_error,
    dump_error,
    error_json,
    exit_code_for,
    message_json,
    redact,
)
from scaledmail_async.errors import ScaledmailError

__all__ = ["JSONUsageError", "fail", "fail_json", "json_errors", "run", "set_json_errors"]

T = TypeVar("T")

#: The click context ``meta`` key saying whether errors are printed as JSON.
_JSON_ERRORS: Final = "scaledmail.json_errors"


def set_json_errors(ctx: click.Context, enabled: bool) -> None:
    """Print this invocation's errors as JSON (``enabled``) or prose (``meta`` is shared by the
    whole context chain, so a subcommand's choice holds for everything after it)."""
    ctx.meta[_JSON_ERRORS] = enabled


def json_errors(ctx: click.Context | None = None) -> bool:
    """Whether errors are printed as JSON (in ``ctx``, default: the current click context)."""
    ctx = ctx if ctx is not None else click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_JSON_ERRORS))


def _default_kind(code: int) -> str:
    return "UsageError" if code == EXIT_USAGE else "Error"


def fail_json(data: dict[str, Any], code: int) -> NoReturn:
    """Print the JSON error object ``data`` on stderr and exit with ``code``."""
    click.echo(dump_error(data), err=True)
    raise click.exceptions.Exit(code)


def fail(
    message: str,
    code: int,
    secret: str | None = None,
    *,
    kind: str | None = None,
    error: BaseException | None = None,
    operation: str | None = None,
) -> NoReturn:
    """Print ``scaledmail: <message>`` on stderr (``secret`` redacted) and exit with ``code``.

    With JSON errors the JSON object of ``error`` (when the failure is an exception), else of
    ``message`` with ``kind`` as its ``type`` (default: ``UsageError`` for exit 2, ``Error``).
    """
    if json_errors():
        if error is not None:
            data = error_json(error, operation=operation, exit_code=code, secret=secret)
        else:
            data = message_json(
                message,
                kind=kind or _default_kind(code),
                exit_code=code,
                operation=operation,
                secret=secret,
            )
        fail_json(data, code)
    click.echo(redact(f"scaledmail: {message}", secret), err=True)
    raise click.exceptions.Exit(code)


class JSONUsageError(click.ClickException):
    """A click error (a bad option, a missing argument, a bad ``--body``) shown as the JSON
    error object, with click's own exit code (2 for usage errors)."""

    def __init__(self, original: click.ClickException) -> None:
        super().__init__(original.format_message())
        self.original = original
        # click declares ``exit_code`` a class variable; this instance exits like the original.
        setattr(self, "exit_code", original.exit_code)  # noqa: B010

    def as_json(self) -> dict[str, Any]:
        """The JSON error object: ``type`` is click's class (``UsageError``, ``BadParameter``,
        ``NoSuchOption``, ``MissingParameter``...), ``command`` the command line's path."""
        original = self.original
        ctx = getattr(original, "ctx", None)
        data = message_json(
            original.format_message(),
            kind=type(original).__name__,
            exit_code=self.original.exit_code,
        )
        if isinstance(ctx, click.Context):
            data["command"] = ctx.command_path
            data["hint"] = f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help."
        return data

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the JSON error object on stderr."""
        click.echo(dump_error(self.as_json()), err=True)


def run(coro_factory: Callable[[], Awaitable[T]], *, operation: str | None, secret: str) -> T:
    """Run a coroutine with ``asyncio.run``; SDK errors become a message and an exit code."""

    async def runner() -> T:
        return await coro_factory()

    try:
        return asyncio.run(runner())
    except KeyboardInterrupt:
        fail("interrupted", 130, kind="KeyboardInterrupt", operation=operation)
    except (click.exceptions.Exit, click.ClickException):
        raise
    except ValueError as exc:
        # RequestValidationError is a ValueError; so are bad client settings (base URL...).
        code = exit_code_for(exc) if isinstance(exc, ScaledmailError) else EXIT_USAGE
        message = describe_error(exc, operation=operation, secret=secret)
        fail(message, code, secret, error=exc, operation=operation)
    except Exception as exc:
        message = describe_error(exc, operation=operation, secret=secret)
        fail(message, exit_code_for(exc), secret, error=exc, operation=operation)
