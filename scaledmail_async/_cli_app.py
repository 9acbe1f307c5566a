"""The click application behind ``scaledmail`` (needs the ``cli`` extra: click and rich).

One subcommand per operation, built from the generated operation table
(:data:`scaledmail_async._operations.OPERATIONS`), so the CLI follows the spec without edits:
``scaledmail <tag> <operation-id>`` in kebab case, path parameters as arguments, declared query
parameters as options (booleans as ``--x/--no-x`` flags, enums as choices), the JSON body as
``--body`` (inline JSON, ``@file.json`` or ``-`` for stdin). Hand-written commands add
``orders watch``, ``purchases list|reconcile`` (the purchase journal), ``fake-server`` and
``demo``.

The API key is read only from the environment (``SCALEDMAIL_API_KEY``): a command-line flag would
show in ``ps`` and in shell history.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn, TypeVar

import attrs
import click

from scaledmail_async._cli_errors import (
    EXIT_AUTH,
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_USAGE,
    describe_error,
    exit_code_for,
    redact,
)
from scaledmail_async._cli_output import dump_json, render_table, stdout_console
from scaledmail_async._env import API_KEY_ENV, BASE_URL_ENV, ORGANIZATION_ENV, env_value
from scaledmail_async._operation import Operation, QueryParam
from scaledmail_async._types import UNSET
from scaledmail_async.errors import RequestValidationError, ScaledmailError

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "ORGANIZATION_ENV", "build_cli", "command_name"]


T = TypeVar("T")


def command_name(identifier: str) -> str:
    """``get_order_details`` -> ``get-order-details`` (tags and operationIds alike)."""
    return identifier.replace("_", "-")


@attrs.define
class _Settings:
    """Connection and output settings: the root group's, overridden by a subcommand's."""

    organization_id: str | None = None
    base_url: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    output: str | None = None

    def merged(self, other: _Settings) -> _Settings:
        """These settings with every value ``other`` sets taking precedence."""
        return _Settings(
            **{
                field.name: getattr(other, field.name)
                if getattr(other, field.name) is not None
                else getattr(self, field.name)
                for field in attrs.fields(_Settings)
            }
        )


def _fail(message: str, code: int, secret: str | None = None) -> NoReturn:
    click.echo(redact(f"scaledmail: {message}", secret), err=True)
    raise click.exceptions.Exit(code)


def _api_key() -> str:
    key = env_value(API_KEY_ENV)
    if key is None:
        _fail(
            f"error: no API key: set {API_KEY_ENV} (get a key at "
            "https://app.scaledmail.com/settings; for the local fake server, use the key "
            "`scaledmail fake-server` prints).",
            EXIT_AUTH,
        )
    return key


def _make_client(settings: _Settings, api_key: str) -> Any:
    from scaledmail_async._client import ScaledmailClient

    kwargs: dict[str, Any] = {}
    if settings.organization_id:
        kwargs["organization_id"] = settings.organization_id
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    if settings.timeout is not None:
        kwargs["timeout"] = settings.timeout
    if settings.max_retries is not None:
        kwargs["max_retries"] = settings.max_retries
    return ScaledmailClient(api_key, **kwargs)


def _run(coro_factory: Callable[[], Awaitable[T]], *, operation: str | None, secret: str) -> T:
    """Run a coroutine with ``asyncio.run``; SDK errors become a message and an exit code."""

    async def runner() -> T:
        return await coro_factory()

    try:
        return asyncio.run(runner())
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except (click.exceptions.Exit, click.ClickException):
        raise
    except ValueError as exc:
        # RequestValidationError is a ValueError; so are bad client settings (base URL...).
        code = exit_code_for(exc) if isinstance(exc, ScaledmailError) else EXIT_USAGE
        _fail(describe_error(exc, operation=operation, secret=secret), code, secret)
    except Exception as exc:
        _fail(describe_error(exc, operation=operation, secret=secret), exit_code_for(exc), secret)


# --------------------------------------------------------------------------- common options


def _settings_params(*, request_timeout: bool = True) -> list[click.Parameter]:
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


def _settings_from(params: dict[str, Any]) -> _Settings:
    """Pop the common options out of ``params`` into a :class:`_Settings`."""
    as_json = params.pop("as_json", False)
    as_table = params.pop("as_table", False)
    output_format = params.pop("output_format", None)
    chosen = {f for f, on in (("json", as_json), ("table", as_table)) if on}
    if output_format:
        chosen.add(output_format)
    if len(chosen) > 1:
        raise click.UsageError("choose one output format: --json, --table or --format")
    return _Settings(
        organization_id=params.pop("organization_id", None),
        base_url=params.pop("base_url", None),
        timeout=params.pop("timeout", None),
        max_retries=params.pop("max_retries", None),
        output=chosen.pop() if chosen else None,
    )


def _root_settings(ctx: click.Context) -> _Settings:
    root = ctx.find_root().obj
    return root if isinstance(root, _Settings) else _Settings()


# --------------------------------------------------------------------------- operation commands


def _read_body(value: str) -> Any:
    """Parse ``--body``: inline JSON, ``@path`` (a file) or ``-`` (stdin)."""
    source = "--body"
    if value == "-":
        text = sys.stdin.read()
        source = "--body from stdin"
    elif value.startswith("@"):
        path = value[1:]
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path!r}: {exc.strerror}", param_hint="--body"
            ) from None
        source = f"--body file {path!r}"
    else:
        text = value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            param_hint="--body",
        ) from None


def _query_option(param: QueryParam) -> click.Option:
    flag = "--" + command_name(param.name)
    dest = "q_" + param.name
    help_text = param.description.strip().split("\n")[0] if param.description else ""
    if param.default is not None:
        help_text += f" (API default: {json.dumps(param.default)})"
    if param.type == "boolean":
        no_flag = "--no-" + command_name(param.name)
        return click.Option(
            [f"{flag}/{no_flag}", dest],
            default=None,
            required=param.required,
            help=(help_text + " Not sent unless given.").strip(),
        )
    kind: click.ParamType[Any]
    if param.enum:
        kind = click.Choice(list(param.enum))
    elif param.type == "integer":
        kind = click.INT
    elif param.type == "number":
        kind = click.FLOAT
    else:
        kind = click.STRING
    return click.Option([flag, dest], type=kind, required=param.required, help=help_text)


def _precheck(op: Operation, call_kwargs: Mapping[str, Any]) -> None:
    """Validate a spending call's body and query as the client will (nothing is sent)."""
    from scaledmail_async._validation import prepare_body

    query = {k: v for k, v in call_kwargs.items() if k != "body"}
    try:
        prepare_body(op, call_kwargs.get("body", UNSET), query)
    except RequestValidationError as exc:
        _fail(describe_error(exc, operation=op.operation_id), EXIT_USAGE)


def _stdin_is_terminal() -> bool:
    """Whether a person can answer a confirmation prompt."""
    return sys.stdin.isatty()


def _confirm_spending(op: Operation, yes: bool) -> None:
    if yes:
        return
    if not _stdin_is_terminal():
        _fail(
            f"error: {op.operation_id} spends money (charges the connected card) and there is no "
            "terminal to confirm it: pass --yes to run it non-interactively.",
            EXIT_USAGE,
        )
    if not click.confirm(
        f"{command_name(op.operation_id)} charges the connected card. Continue?", default=False
    ):
        _fail("cancelled: nothing was sent.", EXIT_FAILURE)


def _emit(op: Operation, result: Any, settings: _Settings) -> None:
    from scaledmail_async._converter import unstructure

    data = unstructure(result)
    if settings.output == "table":
        render_table(op.operation_id, data, stdout_console())
    else:
        click.echo(dump_json(data))


def _operation_help(op: Operation) -> str:
    lines = [op.summary or op.operation_id.replace("_", " ").capitalize() + "."]
    notes = [f"{op.method} {op.path}"]
    if op.spends_money:
        notes.append("SPENDS MONEY: asks for confirmation unless --yes")
    if op.rate_limit_group:
        notes.append(f"rate-limit group {op.rate_limit_group!r} (15 requests/minute)")
    lines.append("\b\n" + "; ".join(notes) + ".")
    if op.request_type is not None:
        body_name = getattr(op.request_type, "__name__", "the request")
        lines.append(f"--body takes the {body_name} JSON: inline, @file.json, or - for stdin.")
    return "\n\n".join(lines)


def _operation_command(op: Operation) -> click.Command:
    def callback(**params: Any) -> None:
        ctx = click.get_current_context()
        settings = _root_settings(ctx).merged(_settings_from(params))
        path_args = [params.pop("p_" + name) for name in op.path_params]
        query = {
            name[2:]: value
            for name, value in params.items()
            if name.startswith("q_") and value is not None
        }
        call_kwargs: dict[str, Any] = dict(query)
        raw_body = params.get("body")
        if raw_body is not None:
            call_kwargs["body"] = _read_body(raw_body)
        if op.spends_money:
            # Check the input before asking anyone to confirm a purchase.
            _precheck(op, call_kwargs)
            _confirm_spending(op, bool(params.get("yes")))
        api_key = _api_key()

        async def call() -> Any:
            async with _make_client(settings, api_key) as client:
                method = getattr(client, op.operation_id)
                return await method(*path_args, **call_kwargs)

        result = _run(call, operation=op.operation_id, secret=api_key)
        _emit(op, result, settings)

    params: list[click.Parameter] = [
        click.Argument(["p_" + name], metavar=name.upper(), type=str) for name in op.path_params
    ]
    params += [_query_option(param) for param in op.query_params]
    if op.request_type is not None:
        params.append(
            click.Option(
                ["--body", "body"],
                metavar="JSON|@FILE|-",
                required=op.body_required,
                help="The request body as JSON, @path/to/file.json, or - to read stdin.",
            )
        )
    if op.spends_money:
        params.append(
            click.Option(
                ["--yes", "-y", "yes"],
                is_flag=True,
                help="Do not ask for confirmation (this command spends money).",
            )
        )
    params += _settings_params()
    return click.Command(
        command_name(op.operation_id),
        callback=callback,
        params=params,
        help=_operation_help(op),
        short_help=op.summary or None,
    )


def _tag_groups(operations: Mapping[str, Operation]) -> dict[str, click.Group]:
    groups: dict[str, click.Group] = {}
    for op in operations.values():
        group = groups.get(op.tag)
        if group is None:
            group = click.Group(
                command_name(op.tag),
                help=f"The {op.tag.replace('_', ' ')} operations.",
            )
            groups[op.tag] = group
        group.add_command(_operation_command(op))
    return groups


# --------------------------------------------------------------------------- the application


def _root_callback(**params: Any) -> None:
    ctx = click.get_current_context()
    ctx.obj = _settings_from(params)


def build_cli() -> click.Group:
    """The ``scaledmail`` command group: every operation of the spec plus the extra commands."""
    from scaledmail_async._cli_commands import (
        demo_command,
        fake_server_command,
        purchases_group,
        watch_command,
    )
    from scaledmail_async._operations import OPERATIONS

    root = click.Group(
        "scaledmail",
        callback=_root_callback,
        params=_settings_params(),
        help=(
            "Command line for the Scaledmail API.\n\n"
            f"The API key is read from {API_KEY_ENV} (never a flag); the organization from "
            f"--organization-id or {ORGANIZATION_ENV}. Output is JSON unless --table. Options "
            "given after a subcommand override the ones given before it.\n\n" + EXIT_CODES_HELP
        ),
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    groups = _tag_groups(OPERATIONS)
    orders = groups.setdefault("orders", click.Group("orders", help="The orders operations."))
    orders.add_command(watch_command())
    for name in sorted(groups):
        root.add_command(groups[name])
    root.add_command(purchases_group())
    root.add_command(fake_server_command())
    root.add_command(demo_command())
    return root
