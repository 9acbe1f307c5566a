"""``scaledmail fake-server`` as a real subprocess: its fault, rate-limit and seed flags, and the
admin routes that steer a running fake from another process.

Each test starts ``python -m scaledmail_async fake-server --port 0 ...`` (the address is read
from what it prints), talks to it with the SDK (a unique test key per server, so no two tests
share a client-side limiter) and stops it with SIGTERM.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import click
import pytest
from click.testing import CliRunner

from scaledmail_async import (
    APIConnectionError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ScaledmailClient,
)
from scaledmail_async.cli._app import build_cli

README = Path(__file__).resolve().parents[1] / "README.md"


@dataclass
class FakeProcess:
    """A running ``scaledmail fake-server`` subprocess."""

    proc: subprocess.Popen[str]
    api_key: str
    base_url: str = ""
    organization_id: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.base_url.removesuffix("/api/v1")

    def client(self, **options: Any) -> ScaledmailClient:
        options.setdefault("max_retries", 0)
        options.setdefault("rate_limit", None)
        return ScaledmailClient(
            api_key=self.api_key,
            base_url=self.base_url,
            organization_id=self.organization_id,
            **options,
        )

    async def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                self.url + path,
                data=None if body is None else json.dumps(body),
            ) as response,
        ):
            return response.status, await response.json()


def _start(*flags: str, api_key: str | None = None) -> FakeProcess:
    key = api_key or f"sk_test_cli_{uuid.uuid4().hex}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scaledmail_async",
            "fake-server",
            "--port",
            "0",
            "--api-key",
            key,
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = FakeProcess(proc, key)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 20
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            _stop(server)
            raise AssertionError(f"fake-server did not start: {server.lines}") from None
        if not line:
            _stop(server)
            raise AssertionError(f"fake-server exited: {server.lines} {proc.stderr}")
        server.lines.append(line.rstrip("\n"))
        if line.startswith("Fake Scaledmail API listening at "):
            server.base_url = line.rsplit(" ", 1)[1].strip()
        if "export SCALEDMAIL_ORGANIZATION_ID=" in line:
            server.organization_id = line.strip().split("=", 1)[1]
        if line.startswith("Admin: "):
            return server


def _stop(server: FakeProcess) -> str:
    server.proc.terminate()
    _, err = server.proc.communicate(timeout=15)
    return err


@pytest.fixture
def start() -> Iterator[Any]:
    started: list[FakeProcess] = []

    def run(*flags: str, api_key: str | None = None) -> FakeProcess:
        server = _start(*flags, api_key=api_key)
        started.append(server)
        return server

    yield run
    for server in started:
        if server.proc.poll() is None:
            _stop(server)
        assert server.api_key not in "\n".join(server.lines)


# --------------------------------------------------------------------------- seed


async def _seeded_view(server: FakeProcess) -> dict[str, Any]:
    async with server.client() as client:
        orgs = await client.get_organizations()
        orders = await client.get_orders()
        packages = await client.get_packages()
    return {
        "organizations": [(o.id, o.name) for o in orgs.organizations],
        "orders": [(p.id, p.amount) for p in orders.payments],
        "packages": [p.id for p in packages.packages],
    }


async def test_the_same_seed_serves_the_same_seeded_data(start: Any) -> None:
    first = await _seeded_view(start("--seed", "11"))
    again = await _seeded_view(start("--seed", "11"))
    other = await _seeded_view(start("--seed", "12"))
    assert first == again
    assert first["organizations"] != other["organizations"]
    assert first["orders"] != other["orders"]


async def _outcomes(server: FakeProcess, calls: int) -> list[str]:
    seen: list[str] = []
    async with server.client() as client:
        for _ in range(calls):
            try:
                await client.get_packages()
            except InternalServerError:
                seen.append("503")
            else:
                seen.append("ok")
    return seen


async def test_random_faults_are_replayed_by_the_seed(start: Any) -> None:
    flags = ("--rate-limit", "off", "--fault", "503:operation=get_packages,rate=0.5")
    first = await _outcomes(start("--seed", "5", *flags), 16)
    again = await _outcomes(start("--seed", "5", *flags), 16)
    assert first == again
    assert "503" in first and "ok" in first  # both happen at a 50% rate over 16 calls


# --------------------------------------------------------------------------- faults


async def test_fault_flags_inject_faults_in_order(start: Any) -> None:
    server = start(
        "--no-rate-limit",
        "--fault",
        "429:operation=get_orders,count=2,retry_after=0",
        "--fault",
        "reset_before:operation=get-packages",
        "--fault",
        "status:status=404,operation=get_organizations",
    )
    assert "Fault: 429:retry_after=0.0,operation=get_orders,count=2" in server.lines
    async with server.client() as client:
        for _ in range(2):
            with pytest.raises(RateLimitError) as caught:
                await client.get_orders()
            assert caught.value.status_code == 429
            assert caught.value.headers["X-Request-Id"].startswith("req_")
        assert (await client.get_orders()).payments  # count=2: the third is normal
        with pytest.raises(NotFoundError):
            await client.get_organizations()
        with pytest.raises(APIConnectionError):
            await client.get_packages()  # the connection was reset
        assert (await client.get_packages()).packages
    status, state = await server.admin("GET", "/_fake/state")
    assert status == 200
    kinds = [(hit["kind"], hit["operation"]) for hit in state["faults"]["injected"]]
    assert kinds == [
        ("status", "get_orders"),
        ("status", "get_orders"),
        ("status", "get_organizations"),
        ("reset_before", "get_packages"),
    ]
    assert state["faults"]["pending"] == []


# --------------------------------------------------------------------------- rate limits


@pytest.mark.parametrize("algorithm", ["sliding_window", "fixed-window", "token_bucket"])
async def test_rate_limit_flags_refuse_beyond_the_limit(start: Any, algorithm: str) -> None:
    # 2 per minute: the three requests fall in one window of any algorithm.
    server = start("--rate-limit", "2/min", "--rate-limit-algorithm", algorithm)
    async with server.client() as client:
        await client.get_packages()
        await client.get_packages()
        with pytest.raises(RateLimitError) as caught:
            await client.get_packages()
    assert caught.value.body["limit"] == "2 requests per minute"
    _, limits = await server.admin("GET", "/_fake/rate-limits")
    assert limits["algorithm"] == algorithm.replace("-", "_")
    assert limits["global"] == {"limit": 2, "window": 60.0, "label": "2 requests per minute"}


async def test_token_bucket_burst_flag(start: Any) -> None:
    server = start(
        "--rate-limit", "5/min", "--rate-limit-algorithm", "token_bucket", "--burst", "1"
    )
    async with server.client() as client:
        await client.get_packages()
        with pytest.raises(RateLimitError):  # a bucket of one token: the second is refused
            await client.get_packages()


async def test_rate_limit_off_and_critical_limit(start: Any) -> None:
    server = start("--rate-limit", "off", "--critical-limit", "1/min")
    async with server.client() as client:
        for _ in range(8):  # no global limit
            await client.get_packages()
        await client.suggest_domains(body={"domain": "tidewater"})
        with pytest.raises(RateLimitError) as caught:
            await client.suggest_domains(body={"domain": "tidewater"})
    assert caught.value.body["limit"] == "1 requests per minute"


# --------------------------------------------------------------------------- admin routes


async def test_admin_routes_steer_a_running_fake(start: Any) -> None:
    server = start("--seed", "3")
    status, state = await server.admin("GET", "/_fake/state")
    assert status == 200 and state["seed"] == 3 and state["api_keys"] == 1
    assert state["organizations"][0]["id"] == server.organization_id
    async with server.client() as client:
        order_id = (await client.get_orders()).payments[0].id
        status, queued = await server.admin(
            "POST",
            "/_fake/faults",
            ["404:operation=get_order_details", {"kind": 500, "operation": ["get_packages"]}],
        )
        assert status == 200 and len(queued["queued"]) == 2
        with pytest.raises(NotFoundError):
            await client.get_order_details(order_id)
        assert (await client.get_order_details(order_id)).id == order_id
        status, _ = await server.admin(
            "POST", "/_fake/faults", {"kind": "delay", "seconds": "soon"}
        )
        assert status == 400  # refused as a whole: nothing queued
        status, cleared = await server.admin("DELETE", "/_fake/faults")
        assert status == 200 and cleared == {"cleared": 1}
        assert (await client.get_packages()).packages  # the 500 was dropped
        status, limits = await server.admin(
            "POST",
            "/_fake/rate-limits",
            {"rate_limit": "1/min", "rate_limit_algorithm": "fixed_window"},
        )
        assert status == 200 and limits["algorithm"] == "fixed_window"
        await client.get_packages()
        with pytest.raises(RateLimitError):
            await client.get_packages()
        status, error = await server.admin(
            "POST", "/_fake/rate-limits", {"rate_limit_algorithm": "leaky_bucket"}
        )
        assert status == 400 and "leaky_bucket" in error["error"]
    _, state = await server.admin("GET", "/_fake/state")
    assert state["rate_limits"]["algorithm"] == "fixed_window"  # the refused change left it
    assert server.api_key not in json.dumps(state)


# --------------------------------------------------------------------------- bad flags


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--fault", "stauts:status=503"], "--fault"),
        (["--fault", "429:count=0"], "--fault"),
        (["--fault", "429:operation=get_ordrs"], "get_ordrs"),
        (["--fault", "delay:seconds=soon"], "seconds"),
        (["--fault", "503:rate=1.5"], "rate"),
        (["--fault", "503:rate=0.5,count=2"], "count and rate"),
        (["--fault", "reset_before:status=500"], "--fault"),
        (["--fault", "429:operation"], "PARAM=VALUE"),
        (["--rate-limit", "2/fortnight"], "--rate-limit"),
        (["--rate-limit", "0/s"], "--rate-limit"),
        (["--critical-limit", "many"], "--critical-limit"),
        (["--rate-limit-algorithm", "leaky_bucket"], "leaky_bucket"),
        (["--burst", "2"], "token_bucket"),
        (["--burst", "0", "--rate-limit-algorithm", "token_bucket"], "--burst"),
        (["--retry-after-header", "minutes"], "--retry-after-header"),
        (["--seed", "seven"], "--seed"),
        (["--api-key", ""], "api_keys"),
    ],
)
def test_bad_flag_values_are_usage_errors(
    flags: list[str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scaledmail_async.testing as testing

    def must_not_serve(*args: Any, **kwargs: Any) -> None:
        from scaledmail_async.testing import FakeOptions

        FakeOptions(**{k: v for k, v in kwargs.items() if k not in ("on_ready", "faults")})
        raise AssertionError(f"fake-server accepted {flags}")

    monkeypatch.setattr(testing, "run_fake_server", must_not_serve)
    result = CliRunner().invoke(build_cli(), ["fake-server", *flags])
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_help_lists_the_flags() -> None:
    result = CliRunner().invoke(build_cli(), ["fake-server", "--help"])
    assert result.exit_code == 0
    for flag in ("--fault", "--rate-limit-algorithm", "--burst", "--seed", "/_fake/faults"):
        assert flag in result.output


# --------------------------------------------------------------------------- README


def _readme_fake_server_command() -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^\$ (scaledmail fake-server .*?)(?<!\\)\n", text, re.S | re.M)
    assert match is not None, "README shows no `scaledmail fake-server` command"
    return shlex.split(match.group(1).replace("\\\n", " "))


async def test_the_readme_fake_server_command_runs(start: Any) -> None:
    args = _readme_fake_server_command()
    assert args[:2] == ["scaledmail", "fake-server"]
    flags = args[2:]
    port = flags.index("--port")
    flags[port + 1] = "0"
    server = start(*flags)
    _, state = await server.admin("GET", "/_fake/state")
    assert state["seed"] == 7
    assert state["rate_limits"]["algorithm"] == "token_bucket"
    assert state["rate_limits"]["burst"] == 2
    assert [f["operation"] for f in state["faults"]["pending"]] == [
        ["get_orders"],
        ["create_custom_order"],
    ]
    assert [s["operation"] for s in state["faults"]["random"]] == [["get_order_details"]]
    async with server.client() as client:
        with pytest.raises(InternalServerError):
            await client.get_orders()


def test_fake_server_click_command_is_registered() -> None:
    cli = build_cli()
    assert isinstance(cli.commands["fake-server"], click.Command)
