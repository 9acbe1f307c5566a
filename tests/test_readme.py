"""README.md's examples are executed against the embedded fake server.

Every ```python block runs as written (each calls ``asyncio.run`` itself, so it runs in a worker
thread), with ``SCALEDMAIL_API_KEY`` / ``SCALEDMAIL_ORGANIZATION_ID`` set to the fake's values and
the client's default ``base_url`` pointed at the fake. Every ``scaledmail ...`` line of the ```sh
CLI block runs as a subprocess against the same fake.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from threaded_fake import ThreadedFake

from scaledmail_async import ScaledmailClient
from scaledmail_async.testing import FakeScaledmail

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeScaledmail]:
    """The embedded fake on its own loop in a thread (the blocks run ``asyncio.run``)."""
    served = ThreadedFake(activate_after_polls=2)
    try:
        yield served.fake
    finally:
        served.close()


@pytest.fixture
def readme_env(fake: FakeScaledmail, monkeypatch: pytest.MonkeyPatch) -> FakeScaledmail:
    monkeypatch.setenv("SCALEDMAIL_API_KEY", fake.api_key)
    monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", fake.organization_id)
    defaults = ScaledmailClient.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "base_url", fake.base_url)
    return fake


def _run_in_thread(code: str) -> dict[str, Any]:
    """Exec ``code`` in a fresh thread (no running event loop there) and return its namespace."""
    result: Future[dict[str, Any]] = Future()

    def target() -> None:
        namespace: dict[str, Any] = {"__name__": "__readme__"}
        try:
            exec(compile(code, "README.md", "exec"), namespace)
        except BaseException as exc:
            result.set_exception(exc)
        else:
            result.set_result(namespace)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "README example did not finish within 120 s"
    return result.result()


PYTHON_BLOCKS = _blocks("python")


def test_readme_has_the_examples_the_issue_asks_for() -> None:
    text = "\n".join(PYTHON_BLOCKS)
    for needle in (
        "get_order_details",  # a read
        "create_custom_order",  # a spend
        "OutcomeUnknownError",  # with its error handling
        "poll_orders",  # bulk polling
        "FakeScaledmail",  # the fake in the user's own tests
        "max_retries",  # configuration
    ):
        assert needle in text, needle
    assert "make demo" in README.read_text() and "make test" in README.read_text()


@pytest.mark.parametrize(
    "code", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))]
)
def test_python_example_runs_against_the_fake(
    code: str,
    readme_env: FakeScaledmail,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "RedisRateLimiter" in code:
        # The "several workers" example: a real redis-server of this test.
        server = request.getfixturevalue("redis_server")
        monkeypatch.setenv("SCALEDMAIL_REDIS_URL", server.url)
    before = readme_env.request_count()
    _run_in_thread(code)
    out = capsys.readouterr().out
    if "ScaledmailClient()" in code:
        # Examples written for the real API really talked to the (fake) server.
        assert readme_env.request_count() > before
        assert out.strip(), "the example printed nothing"
    assert readme_env.api_key not in out


def test_the_spend_example_buys_exactly_once(readme_env: FakeScaledmail) -> None:
    (spend,) = [
        b for b in PYTHON_BLOCKS if "create_custom_order" in b and "PurchaseJournal" not in b
    ]
    before = readme_env.applied_count("create_custom_order")
    _run_in_thread(spend)
    assert readme_env.applied_count("create_custom_order") - before <= 1


def _cli_lines() -> list[str]:
    lines: list[str] = []
    for block in _blocks("sh"):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("scaledmail "):
                lines.append(line)
    return lines


def test_cli_examples_run_against_the_fake(readme_env: FakeScaledmail) -> None:
    lines = _cli_lines()
    assert lines, "README has no CLI example"
    env = dict(os.environ)
    env["SCALEDMAIL_BASE_URL"] = readme_env.base_url
    order_ids = [
        o.id
        for o in readme_env.state.org_orders(readme_env.organization_id)
        if o.packages and not o.cancelled
    ][:2]
    assert len(order_ids) == 2
    for line in lines:
        line = line.replace("recXXXXXXXXXXXXXX", order_ids[0]).replace(
            "recYYYYYYYYYYYYYY", order_ids[1]
        )
        args = _split(line)[1:]
        if args[:2] == ["orders", "watch"]:
            args += ["--interval", "0.2", "--timeout", "60"]
        proc = subprocess.run(
            [sys.executable, "-m", "scaledmail_async", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"{line!r} exited {proc.returncode}: {proc.stderr}"
        assert proc.stdout.strip(), line
        assert readme_env.api_key not in proc.stdout + proc.stderr


def _split(line: str) -> list[str]:
    import shlex

    return shlex.split(line)
