"""Issue 16: one resolution for every setting with an environment variable, for the library and
the CLI alike (``scaledmail_async._env``): argument, else a non-blank variable, else the default.
A value from the environment gets the checks an argument gets, and its errors name the variable.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from threaded_fake import ThreadedFake

from scaledmail_async import ConfigurationError, ScaledmailClient
from scaledmail_async._env import DEFAULT_BASE_URL, resolve
from scaledmail_async.cli._app import build_cli
from scaledmail_async.testing import FakeScaledmail


@pytest.fixture
def fake_in_thread() -> Iterator[FakeScaledmail]:
    """A fake served from its own loop in a thread: the CLI and scripts run their own loops."""
    threaded = ThreadedFake(rate_limit=1000)
    try:
        yield threaded.fake
    finally:
        threaded.close()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SCALEDMAIL_BASE_URL",
        "SCALEDMAIL_API_KEY",
        "SCALEDMAIL_ORGANIZATION_ID",
        "SCALEDMAIL_REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)


async def test_base_url_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeScaledmail() as fake:
        monkeypatch.setenv("SCALEDMAIL_BASE_URL", fake.base_url)
        monkeypatch.setenv("SCALEDMAIL_API_KEY", fake.api_key)
        monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", fake.organization_id)
        async with ScaledmailClient() as client:
            assert client.base_url == fake.base_url
            await client.get_orders()
        assert fake.request_count("get_orders") == 1
        (record,) = fake.requests_for("get_orders")
        assert record.query["organization_id"] == fake.organization_id


def test_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALEDMAIL_BASE_URL", "http://127.0.0.1:1/api/v1")
    monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", "recFromEnv")
    client = ScaledmailClient(
        "sk_test_x", base_url="https://staging.example.com/api/v1", organization_id="recArg"
    )
    assert client.base_url == "https://staging.example.com/api/v1"
    assert client.organization_id == "recArg"


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_variable_is_ignored(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("SCALEDMAIL_BASE_URL", blank)
    monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", blank)
    client = ScaledmailClient("sk_test_x")
    assert client.base_url == DEFAULT_BASE_URL
    assert client.organization_id is None


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("http://api.example.com/api/v1", "plain http://"),
        ("http://api.localhost/api/v1", "plain http://"),
        ("ftp://127.0.0.1/api/v1", "absolute http"),
        ("https://user:pw@api.example.com/api/v1", "credentials"),
        ("https://api.example.com:99999/api/v1", "not a valid URL"),
    ],
)
def test_the_environment_gets_the_checks_an_argument_gets(
    monkeypatch: pytest.MonkeyPatch, value: str, match: str
) -> None:
    monkeypatch.setenv("SCALEDMAIL_BASE_URL", value)
    with pytest.raises(ConfigurationError, match=match) as env_error:
        ScaledmailClient("sk_test_x")
    assert "SCALEDMAIL_BASE_URL" in str(env_error.value)
    assert isinstance(env_error.value, ValueError)
    monkeypatch.delenv("SCALEDMAIL_BASE_URL")
    with pytest.raises(ConfigurationError, match=match) as arg_error:
        ScaledmailClient("sk_test_x", base_url=value)
    assert "base_url" in str(arg_error.value)


def test_resolution_order() -> None:
    assert resolve("a", argument_name="x", env="SCALEDMAIL_TEST_UNSET", default="d").value == "a"
    got = resolve(None, argument_name="x", env="SCALEDMAIL_TEST_UNSET", default="d")
    assert (got.value, got.source) == ("d", "the default")


def _cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(build_cli(), args, env=env)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_cli_and_library_agree_on_each_setting(fake_in_thread: FakeScaledmail) -> None:
    fake = fake_in_thread
    env = {
        "SCALEDMAIL_API_KEY": fake.api_key,
        "SCALEDMAIL_BASE_URL": fake.base_url,
        "SCALEDMAIL_ORGANIZATION_ID": fake.organization_id,
        "SCALEDMAIL_LOG": "",
    }
    before = fake.request_count("get_orders")
    code, out = _cli(["orders", "get-orders"], env)
    assert code == 0, out
    assert fake.request_count("get_orders") == before + 1
    assert fake.requests_for("get_orders")[-1].query["organization_id"] == fake.organization_id

    # an option wins over the variable, for the CLI as for the library's argument
    code, out = _cli(
        ["--organization-id", "recOption", "orders", "get-orders"],
        env,
    )
    assert fake.requests_for("get_orders")[-1].query["organization_id"] == "recOption"

    # the same refusal, naming the variable, in both
    bad = {**env, "SCALEDMAIL_BASE_URL": "http://api.example.com/api/v1"}
    code, out = _cli(["orders", "get-orders"], bad)
    assert code == 2, out
    assert "SCALEDMAIL_BASE_URL" in out and "plain http://" in out

    # a blank variable is ignored by both: the CLI then talks to production, which the test
    # does not reach; the library's choice is checked instead
    blank = {**env, "SCALEDMAIL_BASE_URL": "  "}
    code, out = _cli(["--base-url", fake.base_url, "orders", "get-orders"], blank)
    assert code == 0, out

    # no key anywhere: both refuse before sending, naming the variable
    no_key = {k: v for k, v in env.items() if k != "SCALEDMAIL_API_KEY"}
    code, out = _cli(["orders", "get-orders"], {**no_key, "SCALEDMAIL_API_KEY": " "})
    assert code == 3 and "SCALEDMAIL_API_KEY" in out


def test_a_bare_client_in_a_script_talks_to_the_fake(fake_in_thread: FakeScaledmail) -> None:
    # The "done when": SCALEDMAIL_BASE_URL=<fake url> python -c "..."
    fake = fake_in_thread
    before = fake.request_count("get_organizations")
    script = (
        "import asyncio\n"
        "from scaledmail_async import ScaledmailClient\n"
        "async def main():\n"
        "    async with ScaledmailClient() as c:\n"
        "        print(len((await c.get_organizations()).organizations))\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env={
            "PATH": "/usr/bin:/bin",
            "SCALEDMAIL_API_KEY": fake.api_key,
            "SCALEDMAIL_BASE_URL": fake.base_url,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert fake.request_count("get_organizations") == before + 1
