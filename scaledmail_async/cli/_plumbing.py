"""How a ``scaledmail`` command ends: :func:`fail` (a message on stderr and an exit code) and
:func:`run` (a coroutine under ``asyncio.run``, its SDK errors turned into a message and an exit
code).

The lowest click layer of the CLI: every command module may import it; it imports no command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import click

from scaledmail_async.cli._errors import EXIT_USAGE, describe_error, exit_code_for, redact
from scaledmail_async.errors import ScaledmailError

__all__ = ["fail", "run"]

T = TypeVar("T")


def fail(message: str, code: int, secret: str | None = None) -> NoReturn:
    """Print ``scaledmail: <message>`` on stderr (``secret`` redacted) and exit with ``code``."""
    click.echo(redact(f"scaledmail: {message}", secret), err=True)
    raise click.exceptions.Exit(code)


def run(coro_factory: Callable[[], Awaitable[T]], *, operation: str | None, secret: str) -> T:
    """Run a coroutine with ``asyncio.run``; SDK errors become a message and an exit code."""

    async def runner() -> T:
        return await coro_factory()

    try:
        return asyncio.run(runner())
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except (click.exceptions.Exit, click.ClickException):
        raise
    except ValueError as exc:
        # RequestValidationError is a ValueError; so are bad client settings (base URL...).
        code = exit_code_for(exc) if isinstance(exc, ScaledmailError) else EXIT_USAGE
        fail(describe_error(exc, operation=operation, secret=secret), code, secret)
    except Exception as exc:
        fail(describe_error(exc, operation=operation, secret=secret), exit_code_for(exc), secret)
