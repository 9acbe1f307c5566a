"""The ``scaledmail <tag> <operation-id>`` commands: one per operation, built from the generated
operation table (:data:`scaledmail_async._generated.operations.OPERATIONS`), so the CLI follows
the spec
without edits.

Names are kebab case; path parameters are arguments, declared query parameters options
(booleans as ``--x/--no-x`` flags, enums as choices), the JSON body ``--body`` (inline JSON,
``@file.json`` or ``-`` for stdin). A spending operation checks its input, then asks for
confirmation (or ``--yes``) before anything is sent.

A command module: it imports the plumbing (:mod:`._settings`, :mod:`._plumbing`) and is imported
by :mod:`._app` only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import click

from scaledmail_async._operation import Operation, QueryParam
from scaledmail_async._types import UNSET
from scaledmail_async.cli._errors import EXIT_FAILURE, EXIT_USAGE, describe_error
from scaledmail_async.cli._output import dump_json, render_table, stdout_console
from scaledmail_async.cli._plumbing import fail, run
from scaledmail_async.cli._settings import (
    Settings,
    api_key,
    command_settings,
    make_client,
    settings_params,
)
from scaledmail_async.errors import RequestValidationError

__all__ = ["command_name", "tag_groups"]


def command_name(identifier: str) -> str:
    """``get_order_details`` -> ``get-order-details`` (tags and operationIds alike)."""
    return identifier.replace("_", "-")


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
        message = describe_error(exc, operation=op.operation_id)
        fail(message, EXIT_USAGE, error=exc, operation=op.operation_id)


def _stdin_is_terminal() -> bool:
    """Whether a person can answer a confirmation prompt."""
    return sys.stdin.isatty()


def _confirm_spending(op: Operation, yes: bool) -> None:
    if yes:
        return
    if not _stdin_is_terminal():
        fail(
            f"error: {op.operation_id} spends money (charges the connected card) and there is no "
            "terminal to confirm it: pass --yes to run it non-interactively.",
            EXIT_USAGE,
            kind="UsageError",
            operation=op.operation_id,
        )
    if not click.confirm(
        f"{command_name(op.operation_id)} charges the connected card. Continue?", default=False
    ):
        fail("cancelled: nothing was sent.", EXIT_FAILURE, kind="Abort", operation=op.operation_id)


def _emit(op: Operation, result: Any, settings: Settings) -> None:
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
        settings = command_settings(ctx, params)
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
        key = api_key()

        async def call() -> Any:
            async with make_client(settings, key) as client:
                method = getattr(client, op.operation_id)
                return await method(*path_args, **call_kwargs)

        result = run(call, operation=op.operation_id, secret=key)
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
    params += settings_params()
    return click.Command(
        command_name(op.operation_id),
        callback=callback,
        params=params,
        help=_operation_help(op),
        short_help=op.summary or None,
    )


def tag_groups(operations: Mapping[str, Operation]) -> dict[str, click.Group]:
    """One group per tag of ``operations``, holding one command per operation."""
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
