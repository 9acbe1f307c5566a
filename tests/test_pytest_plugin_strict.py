"""The pytest plugin under pytest-asyncio's default *strict* mode (no ``asyncio_mode = "auto"``),
each way a project may load it: a real ``pytest`` subprocess on a temporary test file (the
README's example plus a test of the options fixture), in a directory of its own so that this
project's ``asyncio_mode = "auto"`` does not apply."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
PLUGIN_MODULE = "scaledmail_async.testing.pytest_plugin"


def _readme_pytest_example() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (example,) = [b for b in blocks if "scaledmail_client: ScaledmailClient" in b]
    return example


OTHER_TESTS = """
import pytest


@pytest.fixture
def scaledmail_fake_options():
    return {"seed": 4, "rate_limit": 100}


@pytest.mark.asyncio
@pytest.mark.scaledmail_fake(critical_limit=2)
async def test_options_fixture_and_marker(scaledmail_fake, scaledmail_client):
    assert scaledmail_fake.options.seed == 4
    assert scaledmail_fake.options.critical_limit == 2
    orgs = await scaledmail_client.get_organizations()
    assert orgs.organizations[0].id == scaledmail_fake.organization_id
"""


def _pytest(
    tmp_path: Path,
    *args: str,
    conftest: str | None = None,
    autoload: bool = True,
    test_file: str | None = None,
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # this dir's own rootdir
    (tmp_path / "test_example.py").write_text(_readme_pytest_example(), encoding="utf-8")
    (tmp_path / "test_other.py").write_text(test_file or OTHER_TESTS, encoding="utf-8")
    if conftest is not None:
        (tmp_path / "conftest.py").write_text(conftest, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SCALEDMAIL_"))}
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-o",
            "asyncio_mode=strict",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "-p",
            "no:cacheprovider",
            "-q",
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_ran(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert re.search(r"\b2 passed\b", output), output
    assert result.returncode == 0, output


@pytest.mark.parametrize(
    ("args", "conftest", "autoload"),
    [
        pytest.param((), None, True, id="autoloaded"),
        pytest.param(("-p", PLUGIN_MODULE), None, True, id="p-module"),
        pytest.param((), f"pytest_plugins = [{PLUGIN_MODULE!r}]\n", True, id="conftest"),
        pytest.param(("-p", "asyncio", "-p", "scaledmail"), None, False, id="no-autoload-p"),
        pytest.param(("-p", "asyncio", "-p", PLUGIN_MODULE), None, False, id="no-autoload-mod"),
        pytest.param(
            ("-p", "asyncio"),
            f"pytest_plugins = [{PLUGIN_MODULE!r}]\n",
            False,
            id="no-autoload-conftest",
        ),
    ],
)
def test_plugin_works_in_strict_mode(
    tmp_path: Path, args: tuple[str, ...], conftest: str | None, autoload: bool
) -> None:
    _assert_ran(_pytest(tmp_path, *args, conftest=conftest, autoload=autoload))


MODULE_LOOP_TESTS = """
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_in_a_module_loop(scaledmail_client, scaledmail_fake):
    assert (await scaledmail_client.get_orders()).payments


async def test_again(scaledmail_client):
    assert (await scaledmail_client.get_packages()).packages


def test_sync():
    pass
"""


def test_a_wider_loop_scope_with_the_fixture_loop_scope_option(tmp_path: Path) -> None:
    # What the README says: tests in a module loop set the fixtures' loop scope to match.
    result = _pytest(
        tmp_path,
        "-o",
        "asyncio_default_fixture_loop_scope=module",
        "test_other.py",
        test_file=MODULE_LOOP_TESTS,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and re.search(r"\b3 passed\b", output), output
