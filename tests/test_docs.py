"""The code of the documentation site (``docs/``) works as written.

Every ```python block of the hand-written pages compiles (top-level ``await`` allowed, as in the
short fragments). Blocks that are whole programs or definitions run against the embedded fake
server, with ``SCALEDMAIL_API_KEY`` / ``SCALEDMAIL_ORGANIZATION_ID`` / ``SCALEDMAIL_BASE_URL``
set to the fake's (each block that calls ``asyncio.run`` runs in a fresh thread). A block right
after ``<!-- docs-test: skip (why) -->`` only compiles: it needs what the test suite does not
run (Redis, FastAPI) or is not a program; the pytest example of the testing page is run by
pytest itself. The site's build (``mkdocs build --strict``) is ``make docs-build``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import attrs
import pytest
from threaded_fake import ThreadedFake

from scaledmail_async.testing import FakeScaledmail

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: The hand-written pages (the reference pages hold only mkdocstrings directives).
PAGES = sorted([DOCS / "index.md", *(DOCS / "guide").glob("*.md")])
_BLOCK = re.compile(r"(?:<!-- docs-test: (?P<mark>[^>]*)-->\n)?```python\n(?P<code>.*?)```", re.S)


@attrs.frozen
class Block:
    page: str
    number: int
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.page}#{self.number}"


def _blocks() -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for number, match in enumerate(_BLOCK.finditer(text), 1):
            if match.group("code").startswith("--8<--"):
                continue  # an embedded example: tests/test_examples.py runs it
            mark = match.group("mark")
            found.append(Block(page.name, number, match.group("code"), mark and mark.strip()))
    return found


BLOCKS = _blocks()


def _needs_top_level_await(code: str) -> bool:
    try:
        compile(code, "<block>", "exec")
    except SyntaxError:
        return True
    return False


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.id)
def test_every_block_compiles(block: Block) -> None:
    compile(block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeScaledmail]:
    """The embedded fake on its own loop in a thread (the blocks run ``asyncio.run``)."""
    served = ThreadedFake(activate_after_polls=1)
    try:
        yield served.fake
    finally:
        served.close()


def _run_in_thread(code: str, name: str) -> dict[str, Any]:
    """Exec ``code`` in a fresh thread (no running event loop there); return its namespace."""
    result: Future[dict[str, Any]] = Future()

    def target() -> None:
        namespace: dict[str, Any] = {"__name__": "__docs__"}
        try:
            exec(compile(code, name, "exec"), namespace)
        except BaseException as exc:
            result.set_exception(exc)
        else:
            result.set_result(namespace)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), f"{name} did not finish"
    return result.result()


RUNNABLE = [b for b in BLOCKS if b.skip is None and not _needs_top_level_await(b.code)]


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
def test_block_runs_against_the_fake(
    block: Block, fake: FakeScaledmail, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALEDMAIL_API_KEY", fake.api_key)
    monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", fake.organization_id)
    monkeypatch.setenv("SCALEDMAIL_BASE_URL", fake.base_url)
    for name in ("SCALEDMAIL_JOURNAL", "SCALEDMAIL_REDIS_URL", "SCALEDMAIL_LOG"):
        monkeypatch.delenv(name, raising=False)
    _run_in_thread(block.code, block.id)


def test_the_pytest_example_passes(tmp_path: Path) -> None:
    (block,) = [b for b in BLOCKS if b.page == "testing.md" and "def test_" in b.code]
    (tmp_path / "test_from_docs.py").write_text(block.code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEDMAIL_")}
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
