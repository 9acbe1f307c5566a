"""The typing test (issue 17, item 1): user code type-checked the way users check it.

``tests/typecheck/accepted.py`` (a job building order bodies as dicts, enum values, models
returned as JSON) must pass ``mypy --strict`` and basedpyright in strict mode, and run against
the embedded fake. ``tests/typecheck/rejected.py`` holds one mistake per line marked
``# rejected``: a misspelt key, a missing required key, a value of the wrong type, an unknown
enum value (body, model, query parameter), a misspelt nested key, a string timeout, an untyped
value used as ``int``. Each marked line must be reported by both checkers, read from their own
output, and no other line may be.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "typecheck"
ACCEPTED = HERE / "accepted.py"
REJECTED = HERE / "rejected.py"
PYRIGHT_CONFIG = HERE / "pyrightconfig.json"


def _marked_lines(path: Path) -> set[int]:
    return {
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "  # rejected" in line  # two spaces: code, then the marker
    }


def _mypy(path: Path) -> tuple[int, set[int], str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--config-file",
            "/dev/null",
            "--python-version",
            "3.11",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    lines = {
        int(m.group(1))
        for m in re.finditer(
            rf"^{re.escape(path.name)}:(\d+): error:", _relative(result.stdout), re.M
        )
    }
    return result.returncode, lines, result.stdout + result.stderr


def _relative(text: str) -> str:
    return re.sub(r"^.*?([^/\s]+\.py):", r"\1:", text, flags=re.M)


def _basedpyright() -> str:
    found = shutil.which("basedpyright", path=str(Path(sys.executable).parent))
    if found is None:  # pragma: no cover - a dev dependency: make install has it
        pytest.fail("basedpyright is not installed (pip install -e '.[dev]')")
    return found


def _pyright(path: Path) -> tuple[int, set[int], str]:
    result = subprocess.run(
        [
            _basedpyright(),
            "--outputjson",
            "-p",
            str(PYRIGHT_CONFIG),
            "--pythonpath",
            sys.executable,
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    report = json.loads(result.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert report["summary"]["filesAnalyzed"] == 1, result.stdout
    lines = {d["range"]["start"]["line"] + 1 for d in errors}
    text = "\n".join(f"{d['range']['start']['line'] + 1}: {d['message']}" for d in errors)
    return result.returncode, lines, text


def test_user_code_passes_mypy_strict() -> None:
    code, lines, output = _mypy(ACCEPTED)
    assert code == 0 and not lines, output


def test_user_code_passes_basedpyright_strict() -> None:
    code, lines, output = _pyright(ACCEPTED)
    assert code == 0 and not lines, output


def test_user_code_runs_against_the_fake() -> None:
    result = subprocess.run(
        [sys.executable, str(ACCEPTED)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "typed user code ok True" in result.stdout


@pytest.mark.parametrize("checker", ["mypy", "basedpyright"])
def test_each_mistake_is_reported(checker: str) -> None:
    marked = _marked_lines(REJECTED)
    assert len(marked) >= 12
    _, lines, output = (_mypy if checker == "mypy" else _pyright)(REJECTED)
    missed = sorted(marked - lines)
    extra = sorted(lines - marked)
    assert not missed, f"{checker} did not report lines {missed}:\n{output}"
    assert not extra, f"{checker} reported unmarked lines {extra}:\n{output}"
