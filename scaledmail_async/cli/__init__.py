"""The ``scaledmail`` command line: its entry point :func:`main` (console script
``scaledmail``, ``python -m scaledmail_async`` and ``python -m scaledmail_async.cli``).

click and rich are the optional extra ``cli`` (``pip install 'scaledmail-async[cli]'``). This
module imports neither at import time, so importing it (or the SDK) never pulls them in;
:func:`main` checks for them and, when they are missing, says which extra to install and exits
with status 2.

The package's modules, one job each, imported only downwards (no cycle):

- :mod:`._app`: the root ``scaledmail`` group, assembled from the command modules;
- commands (``_cmd_*``): :mod:`._cmd_operations` (one command per operation of the spec),
  :mod:`._cmd_watch` (``orders watch``), :mod:`._cmd_purchases` (``purchases list|reconcile``),
  :mod:`._cmd_fake_server` (``fake-server``), :mod:`._cmd_demo` (``demo``);
- the plumbing they share: :mod:`._settings` (common options, the API key, the client),
  :mod:`._journal_access` (which purchase journal to open, and its failures), :mod:`._plumbing`
  (running a coroutine, failing with a message and an exit code);
- leaves: :mod:`._errors` (exception -> exit code and message; no click or rich),
  :mod:`._output` (JSON and rich tables), :mod:`._demo` (the demo job).

The core SDK never imports this package (only ``scaledmail_async/__main__.py`` does), so it never
needs click or rich.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

__all__ = ["MISSING_EXTRA_MESSAGE", "main"]

MISSING_EXTRA_MESSAGE = (
    "scaledmail: the command line needs the optional extra 'cli' ({missing} not installed).\n"
    "Install it with:  pip install 'scaledmail-async[cli]'"
)


def _missing_cli_dependencies() -> list[str]:
    missing = []
    for name in ("click", "rich"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``scaledmail`` CLI with ``argv`` (default: ``sys.argv[1:]``); exits the process.

    Exit codes: 0 ok; 1 declined / not all orders active; 2 bad input (or the ``cli`` extra is
    missing); 3 authentication; 4 not found; 5 rate limited; 6 other API error; 7 connection or
    timeout; 8 outcome unknown; 9 payment pending.
    """
    missing = _missing_cli_dependencies()
    if missing:
        print(MISSING_EXTRA_MESSAGE.format(missing=" and ".join(missing)), file=sys.stderr)
        raise SystemExit(2)
    from scaledmail_async.cli._app import build_cli

    cli = build_cli()
    cli.main(args=list(argv) if argv is not None else None, prog_name="scaledmail")
