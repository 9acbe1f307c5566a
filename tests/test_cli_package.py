"""The layout of ``scaledmail_async/cli/``: the core SDK never needs click or rich, and the CLI's
modules import each other in one direction only (commands import plumbing, the app imports
commands: no cycle)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scaledmail_async"
CLI = PACKAGE / "cli"

#: The CLI's shared plumbing and leaves: none may import a command module or the app.
PLUMBING = ("_settings", "_journal_access", "_plumbing", "_errors", "_output", "_demo")
#: The hand-written and generated command modules: they import plumbing, never the app or
#: another command module.
COMMANDS = ("_cmd_operations", "_cmd_watch", "_cmd_purchases", "_cmd_fake_server", "_cmd_demo")


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function (absolute names)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            # ``from scaledmail_async.cli import _settings`` imports a submodule.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _core_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if CLI not in p.parents)


def _cli_graph() -> dict[str, set[str]]:
    """``_name`` -> the ``_names`` of the cli modules it imports."""
    prefix = "scaledmail_async.cli."
    graph: dict[str, set[str]] = {}
    for path in sorted(CLI.glob("*.py")):
        wanted = {
            m[len(prefix) :].split(".")[0] for m in _imported_modules(path) if m.startswith(prefix)
        }
        graph[path.stem] = {m for m in wanted if (CLI / f"{m}.py").is_file()}
    return graph


def test_no_core_module_imports_click_rich_or_the_cli() -> None:
    offenders: list[str] = []
    for path in _core_files():
        for module in _imported_modules(path):
            top = module.split(".")[0]
            if top in {"click", "rich"}:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
            elif module.startswith("scaledmail_async.cli") and path.name != "__main__.py":
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == []


def test_the_old_flat_cli_modules_are_gone() -> None:
    left = sorted(
        p.name for p in PACKAGE.glob("*.py") if p.name.startswith("_cli_") or p.name == "_demo.py"
    )
    assert left == []
    assert not (PACKAGE / "cli.py").exists()


_IMPORT_CORE = """
import sys
import scaledmail_async
after_import = sorted(m for m in ("click", "rich") if m in sys.modules)
from scaledmail_async import ScaledmailClient
client = ScaledmailClient("k")
import scaledmail_async.cli
after_client = sorted(m for m in ("click", "rich") if m in sys.modules)
print(json.dumps([after_import, after_client]))
"""


def test_importing_the_sdk_and_making_a_client_loads_neither_click_nor_rich() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "import json\n" + _IMPORT_CORE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == [[], []]


def test_every_module_outside_the_cli_imports_with_click_and_rich_blocked() -> None:
    names = sorted(
        "scaledmail_async." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in _core_files()
        if p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        "sys.modules['click'] = None\nsys.modules['rich'] = None\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name.removesuffix('.__init__'))\n"
        "    except ImportError as exc:\n"
        "        if exc.name in ('click', 'rich'):\n"
        "            raise SystemExit(f'{name} needs {exc.name}')\n"
        "        # another optional extra (redis...) is not this test's business\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (``[a, b, a]``), or ``None``."""
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in trail:
                return [*trail[trail.index(nxt) :], nxt]
            if nxt not in done:
                found = visit(nxt, [*trail, nxt])
                if found:
                    return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [start])
        if found:
            return found
    return None


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_cli_modules_form_no_import_cycle() -> None:
    # Lazy imports (inside functions) count: the old _cli_app/_cli_commands cycle was one.
    assert _cycle(_cli_graph()) is None


def test_cli_layers_import_downwards_only() -> None:
    graph = _cli_graph()
    assert set(PLUMBING) | set(COMMANDS) | {"_app", "__init__", "__main__"} == set(graph)
    upward = {
        f"{module} imports {target}"
        for module in PLUMBING
        for target in graph[module]
        if target in COMMANDS or target == "_app"
    }
    upward |= {
        f"{module} imports {target}"
        for module in COMMANDS
        for target in graph[module]
        if target in COMMANDS or target == "_app"
    }
    assert upward == set()
    # Importing the package (the entry point) loads none of the CLI's click modules.
    assert graph["__init__"] <= {"_app"}


@pytest.mark.parametrize("first", [*PLUMBING, *COMMANDS, "_app"])
def test_each_cli_module_imports_first_in_a_fresh_interpreter(first: str) -> None:
    # With a cycle, importing a module of it first fails (a partially initialized module).
    code = (
        "import importlib\n"
        f"importlib.import_module('scaledmail_async.cli.{first}')\n"
        "from scaledmail_async.cli._app import build_cli\n"
        "assert 'demo' in build_cli().commands\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr


def test_python_dash_m_scaledmail_async_cli() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "scaledmail_async.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "purchases" in completed.stdout


def test_the_entry_point_names_stay_importable() -> None:
    from scaledmail_async.cli import MISSING_EXTRA_MESSAGE, main

    assert callable(main)
    assert "scaledmail-async[cli]" in MISSING_EXTRA_MESSAGE
