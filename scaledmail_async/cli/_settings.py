"""The connection and output settings every ``scaledmail`` command shares: the common options
(on the root group and on each subcommand), :class:`Settings` (the root's, overridden by a
subcommand's), the API key (from the environment only) and the client built from them.

The API key is read only from ``SCALEDMAIL_API_KEY``: a command-line flag would show in ``ps``
and in shell history. Plumbing below the commands: it imports no command module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import click

from scaledmail_async._env import API_KEY_ENV, BASE_URL_ENV, ORGANIZATION_ENV, env_value
from scaledmail_async.cli._errors import EXIT_AUTH
from scaledmail_async.cli._plumbing import fail, set_json_errors

__all__ = [
    "Settings",
    "api_key",
    "command_settings",
    "make_client",
    "output_params",
    "requested_output",
    "root_settings",
    "settings_from",
    "settings_params",
]


@attrs.define
class Settings:
    """Connection and output settings: the root group's, overridden by a subcommand's."""

    organization_id: str | None = None
    base_url: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    output: str | None = None

    def merged(self, other: Settings) -> Settings:
        """These settings with every value ``other`` sets taking precedence."""
        return Settings(
            **{
                field.name: getattr(other, field.name)
                if getattr(other, field.name) is not None
                else getattr(self, field.name)
                for field in attrs.fields(Settings)
            }
        )


def api_key() -> str:
    """``$SCALEDMAIL_API_KEY``; exit 3 saying where to get one when it is not set."""
    key = env_value(API_KEY_ENV)
    if key is None:
        fail(
            f"error: no API key: set {API_KEY_ENV} (get a key at "
            "https://app.scaledmail.com/settings; for the local fake server, use the key "
            "`scaledmail fake-server` prints).",
            EXIT_AUTH,
            kind="MissingAPIKeyError",
        )
    return key


def make_client(settings: Settings, api_key: str, **extra: Any) -> Any:
    """A ``ScaledmailClient`` with the settings that are set (``extra``: more constructor
    arguments, such as ``journal=``)."""
    from scaledmail_async._client import ScaledmailClient

    kwargs: dict[str, Any] = dict(extra)
    if settings.organization_id:
        kwargs["organization_id"] = settings.organization_id
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    if settings.timeout is not None:
        kwargs["timeout"] = settings.timeout
    if settings.max_retries is not None:
        kwargs["max_retries"] = settings.max_retries
    return ScaledmailClient(api_key, **kwargs)


def settings_params(*, request_timeout: bool = True) -> list[click.Parameter]:
    """The connection/output options, on the root group (with env vars) and on subcommands."""
    params: list[click.Parameter] = [
        # No click ``envvar=``: the client resolves the environment itself (scaledmail_async._env),
        # so the CLI and the library follow one rule.
        click.Option(
            ["--organization-id", "organization_id"],
            metavar="ID",
            help=f"The organization (workspace) to act on; default: ${ORGANIZATION_ENV}.",
        ),
        click.Option(
            ["--base-url", "base_url"],
            metavar="URL",
            help=(
                f"API base URL (e.g. a local fake server); default: ${BASE_URL_ENV}, else "
                "production."
            ),
        ),
    ]
    if request_timeout:
        params.append(
            click.Option(
                ["--timeout", "timeout"],
                type=click.FloatRange(min=0, min_open=True),
                help="Per-request timeout in seconds (default 30).",
            )
        )
    params += [
        click.Option(
            ["--max-retries", "max_retries"],
            type=click.IntRange(min=0),
            help="Retries per request on transient failures (default 3).",
        ),
        click.Option(["--json", "as_json"], is_flag=True, default=False, help="Print JSON."),
        click.Option(["--table", "as_table"], is_flag=True, default=False, help="Print a table."),
        click.Option(
            ["--format", "output_format"],
            type=click.Choice(["json", "table"]),
            help="Output format (default json).",
        ),
    ]
    return params


def output_params() -> list[click.Parameter]:
    """Only the output-format options of the common settings (for commands that call no API)."""
    names = {"as_json", "as_table", "output_format"}
    return [p for p in settings_params() if p.name in names]


def settings_from(params: dict[str, Any]) -> Settings:
    """Pop the common options out of ``params`` into a :class:`Settings`."""
    as_json = params.pop("as_json", False)
    as_table = params.pop("as_table", False)
    output_format = params.pop("output_format", None)
    chosen = {f for f, on in (("json", as_json), ("table", as_table)) if on}
    if output_format:
        chosen.add(output_format)
    if len(chosen) > 1:
        raise click.UsageError("choose one output format: --json, --table or --format")
    return Settings(
        organization_id=params.pop("organization_id", None),
        base_url=params.pop("base_url", None),
        timeout=params.pop("timeout", None),
        max_retries=params.pop("max_retries", None),
        output=chosen.pop() if chosen else None,
    )


def root_settings(ctx: click.Context) -> Settings:
    """The settings the root group's options set (see the root callback in :mod:`._app`)."""
    root = ctx.find_root().obj
    return root if isinstance(root, Settings) else Settings()


def command_settings(ctx: click.Context, params: dict[str, Any]) -> Settings:
    """A subcommand's settings: the root group's overridden by the subcommand's own options
    (popped from ``params``). Errors from here on are JSON when the output is JSON by choice
    (``--json`` / ``--format json``), prose otherwise."""
    settings = root_settings(ctx).merged(settings_from(params))
    set_json_errors(ctx, settings.output == "json")
    return settings


def requested_output(args: Sequence[str]) -> str | None:
    """The output format a command line asks for (the last of ``--json``, ``--table``,
    ``--format X``), read before click parses it, so that even a usage error can be printed
    the way the caller reads errors. ``None``: not asked (the default, prose errors)."""
    chosen: str | None = None
    tokens = list(args)
    for i, token in enumerate(tokens):
        if token == "--":
            break
        if token == "--json":
            chosen = "json"
        elif token == "--table":
            chosen = "table"
        elif token == "--format" and i + 1 < len(tokens):
            chosen = tokens[i + 1]
        elif token.startswith("--format="):
            chosen = token.split("=", 1)[1]
    return chosen
