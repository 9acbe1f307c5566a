"""The ``scaledmail`` click application: the root group (its common options and help) with every
command module's commands added (:func:`build_cli`). Needs the ``cli`` extra (click and rich).

The top of the CLI's import graph: it imports the command modules, which import the plumbing;
nothing imports it but :func:`scaledmail_async.cli.main`.
"""

from __future__ import annotations

from typing import Any

import click

from scaledmail_async._env import API_KEY_ENV, ORGANIZATION_ENV
from scaledmail_async.cli._cmd_demo import demo_command
from scaledmail_async.cli._cmd_fake_server import fake_server_command
from scaledmail_async.cli._cmd_operations import tag_groups
from scaledmail_async.cli._cmd_purchases import purchases_group
from scaledmail_async.cli._cmd_watch import watch_command
from scaledmail_async.cli._errors import EXIT_CODES_HELP
from scaledmail_async.cli._plumbing import JSONUsageError, json_errors, set_json_errors
from scaledmail_async.cli._settings import requested_output, settings_from, settings_params

__all__ = ["build_cli"]


def _root_callback(**params: Any) -> None:
    ctx = click.get_current_context()
    ctx.obj = settings_from(params)


class _RootGroup(click.Group):
    """The root group: decides from the command line whether errors are JSON (``--json`` or
    ``--format json`` anywhere before ``--``) before click parses it, so that click's own usage
    errors (a bad option, a missing argument, a bad ``--body``) are JSON too."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        as_json = requested_output(args) == "json"
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:
            if as_json:
                raise JSONUsageError(exc) from None
            raise
        set_json_errors(ctx, as_json)
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JSONUsageError:
            raise
        except click.ClickException as exc:
            if json_errors(ctx):
                raise JSONUsageError(exc) from exc
            raise


def build_cli() -> click.Group:
    """The ``scaledmail`` command group: every operation of the spec plus the extra commands."""
    from scaledmail_async._generated.operations import OPERATIONS

    root = _RootGroup(
        "scaledmail",
        callback=_root_callback,
        params=settings_params(),
        help=(
            "Command line for the Scaledmail API.\n\n"
            f"The API key is read from {API_KEY_ENV} (never a flag); the organization from "
            f"--organization-id or {ORGANIZATION_ENV}. Output is JSON unless --table. Options "
            "given after a subcommand override the ones given before it. Errors go to stderr "
            "as prose, or, with --json / --format json, as one JSON object (type, status, "
            "message, request_id, exit_code, operation...).\n\n" + EXIT_CODES_HELP
        ),
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    groups = tag_groups(OPERATIONS)
    orders = groups.setdefault("orders", click.Group("orders", help="The orders operations."))
    orders.add_command(watch_command())
    for name in sorted(groups):
        root.add_command(groups[name])
    root.add_command(purchases_group())
    root.add_command(fake_server_command())
    root.add_command(demo_command())
    return root
