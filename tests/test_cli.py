"""The ``scaledmail`` CLI against the embedded fake server.

The CLI calls ``asyncio.run`` itself, so the fake runs in a background thread with its own event
loop (one server for the module); commands run in-process through click's ``CliRunner`` (and once
as a real subprocess, ``python -m scaledmail_async``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import pytest
from click.testing import CliRunner, Result
from threaded_fake import ThreadedFake

from scaledmail_async import errors
from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async.cli._app import build_cli
from scaledmail_async.cli._errors import (
    EXIT_API_STATUS,
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OUTCOME_UNKNOWN,
    EXIT_PAYMENT_PENDING,
    EXIT_RATE_LIMITED,
    EXIT_USAGE,
    describe_error,
    exit_code_for,
)
from scaledmail_async.testing import FakeScaledmail

T = TypeVar("T")


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedFake]:
    threaded = ThreadedFake(
        api_key=f"sk_test_cli_{uuid.uuid4().hex}",
        rate_limit=1000,
        critical_limit=1000,
        activate_after_polls=2,
    )
    try:
        yield threaded
    finally:
        threaded.close()


@pytest.fixture
def fake(server: ThreadedFake) -> Iterator[FakeScaledmail]:
    yield server.fake
    server.call(server.fake.faults.clear)


@pytest.fixture
def env(fake: FakeScaledmail) -> dict[str, str]:
    return {
        "SCALEDMAIL_API_KEY": fake.api_key,
        "SCALEDMAIL_BASE_URL": fake.base_url,
        "SCALEDMAIL_ORGANIZATION_ID": fake.organization_id,
        "SCALEDMAIL_LOG": "",
    }


@pytest.fixture
def cli() -> click.Group:
    return build_cli()


Invoke = Callable[..., Result]


@pytest.fixture
def run(cli: click.Group, env: dict[str, str]) -> Invoke:
    def invoke(
        *args: str, input: str | None = None, extra_env: dict[str, str] | None = None
    ) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, list(args), env={**env, **(extra_env or {})}, input=input)

    return invoke


def _last_request(server: ThreadedFake, operation_id: str) -> Any:
    return server.call(lambda: server.fake.requests_for(operation_id)[-1])


def _count(server: ThreadedFake, operation_id: str) -> int:
    return server.call(lambda: server.fake.request_count(operation_id))


def _available_names(server: ThreadedFake, count: int, prefix: str) -> list[str]:
    """Names the fake reports available (its availability is a seeded hash of the name)."""
    state = server.fake.state

    def pick() -> list[str]:
        names: list[str] = []
        while len(names) < count:
            name = f"{prefix}{uuid.uuid4().hex[:8]}.com"
            if state.name_status(name) == "available":
                names.append(name)
        return names

    return server.call(pick)


# --------------------------------------------------------------------------- the command tree


def test_help_lists_every_operation(run: Invoke) -> None:
    root = run("--help")
    assert root.exit_code == 0
    for command in ("demo", "fake-server"):
        assert command in root.stdout
    tags = {op.tag for op in OPERATIONS.values()}
    for tag in tags:
        group = run(tag.replace("_", "-"), "--help")
        assert group.exit_code == 0, group.output
        for op in OPERATIONS.values():
            name = op.operation_id.replace("_", "-")
            assert (name in group.stdout) == (op.tag == tag), (tag, name)
    assert "watch" in run("orders", "--help").stdout
    assert len(OPERATIONS) == 20


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_command_parameters_follow_the_spec(cli: click.Group, operation_id: str) -> None:
    op = OPERATIONS[operation_id]
    group = cli.commands[op.tag.replace("_", "-")]
    assert isinstance(group, click.Group)
    command = group.commands[operation_id.replace("_", "-")]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    assert [a.human_readable_name for a in arguments] == [n.upper() for n in op.path_params]
    options = {o.name: o for o in command.params if isinstance(o, click.Option)}
    for param in op.query_params:
        option = options["q_" + param.name]
        assert option.required == param.required
        flag = "--" + param.name.replace("_", "-")
        assert flag in option.opts
        if param.type == "boolean":
            assert option.secondary_opts == ["--no-" + param.name.replace("_", "-")]
        if param.enum:
            assert isinstance(option.type, click.Choice)
            assert list(option.type.choices) == list(param.enum)
    declared = {"q_" + p.name for p in op.query_params}
    assert {n for n in options if n and n.startswith("q_")} == declared
    assert ("body" in options) == (op.request_type is not None)
    if "body" in options:
        assert options["body"].required == op.body_required
    assert ("yes" in options) == op.spends_money
    # The key is never an option.
    assert not any("key" in opt for o in options.values() for opt in o.opts)


# --------------------------------------------------------------------------- reads and output


def test_get_orders_json_matches_the_fake(run: Invoke, server: ThreadedFake) -> None:
    result = run("orders", "get-orders")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    org = server.fake.organization_id
    expected = server.call(
        lambda: {o.id for o in server.fake.state.orders.values() if o.organization_id == org}
    )
    assert {p["id"] for p in data["payments"]} == expected
    assert _last_request(server, "get_orders").query["organization_id"] == org


def test_organization_flag_overrides_env(run: Invoke, server: ThreadedFake) -> None:
    other = server.fake.organization_ids[1]
    result = run("orders", "get-orders", "--organization-id", other)
    assert result.exit_code == 0, result.output
    assert _last_request(server, "get_orders").query["organization_id"] == other
    before = run("--organization-id", other, "domains", "get-domains")
    assert before.exit_code == 0, before.output
    assert _last_request(server, "get_domains").query["organization_id"] == other


def test_boolean_flags_are_sent_only_when_given(run: Invoke, server: ThreadedFake) -> None:
    assert run("domains", "get-purchased-domains", "--available").exit_code == 0
    assert _last_request(server, "get_purchased_domains").query["available"] == "true"
    result = run("domains", "get-purchased-domains", "--no-available")
    assert result.exit_code == 0
    assert _last_request(server, "get_purchased_domains").query["available"] == "false"
    names = {d["domain"] for d in json.loads(result.stdout)["domains"]}
    org = server.fake.organization_id
    expected = server.call(
        lambda: {p.domain for p in server.fake.state.purchased if p.organization_id == org}
    )
    assert names == expected
    assert run("domains", "get-purchased-domains").exit_code == 0
    assert "available" not in _last_request(server, "get_purchased_domains").query


def test_search_domains_body_inline_file_and_stdin(
    run: Invoke, server: ThreadedFake, tmp_path: Path
) -> None:
    body = {"domains": ["first-cli-name.com", "google.com"]}
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    for args, stdin in (
        (("--body", json.dumps(body)), None),
        (("--body", f"@{path}"), None),
        (("--body", "-"), json.dumps(body)),
    ):
        result = run("domains", "search-domains", *args, input=stdin)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert [d["domain"] for d in data] == body["domains"]
        assert data[1]["status"] == "taken"
        assert _last_request(server, "search_domains").json == body


def test_table_output(run: Invoke, server: ThreadedFake) -> None:
    org = server.fake.organization_id
    order_ids = server.call(
        lambda: [o.id for o in server.fake.state.orders.values() if o.organization_id == org]
    )
    for flag in (("--table",), ("--format", "table")):
        result = run("orders", "get-orders", *flag)
        assert result.exit_code == 0, result.output
        assert "description" in result.stdout
        for oid in order_ids:
            assert oid in result.stdout
        with pytest.raises(json.JSONDecodeError):
            json.loads(result.stdout)
    before = run("--table", "packages", "get-packages")
    assert before.exit_code == 0 and "tier" in before.stdout
    both = run("orders", "get-orders", "--json", "--table")
    assert both.exit_code == EXIT_USAGE


# --------------------------------------------------------------------------- errors


def test_not_found_exits_4(run: Invoke) -> None:
    result = run("orders", "get-order-details", "recDoesNotExist00")
    assert result.exit_code == EXIT_NOT_FOUND
    assert "get_order_details" in result.stderr
    assert "Check the id" in result.stderr
    assert result.stdout == ""


def test_authentication_error_exits_3_without_showing_the_key(run: Invoke) -> None:
    secret = "sk_live_DO_NOT_PRINT_" + uuid.uuid4().hex
    result = run("orders", "get-orders", extra_env={"SCALEDMAIL_API_KEY": secret})
    assert result.exit_code == EXIT_AUTH
    assert "401" in result.stderr and "SCALEDMAIL_API_KEY" in result.stderr
    assert secret not in result.output


def test_missing_key_exits_3(run: Invoke) -> None:
    result = run("orders", "get-orders", extra_env={"SCALEDMAIL_API_KEY": ""})
    assert result.exit_code == EXIT_AUTH
    assert "SCALEDMAIL_API_KEY" in result.stderr


def test_validation_errors_exit_2_before_sending(run: Invoke, server: ThreadedFake) -> None:
    before = _count(server, "search_domains")
    eleven = {"domains": [f"name{i}.com" for i in range(11)]}
    result = run("domains", "search-domains", "--body", json.dumps(eleven))
    assert result.exit_code == EXIT_USAGE
    assert "domains" in result.stderr
    bad_json = run("domains", "search-domains", "--body", '{"domains": [')
    assert bad_json.exit_code == EXIT_USAGE
    assert "not valid JSON" in bad_json.output
    missing_file = run("domains", "search-domains", "--body", "@/nonexistent/body.json")
    assert missing_file.exit_code == EXIT_USAGE
    bad_choice = run("domains", "update-domain-name", "x.com", "--provider", "nope", "--body", "{}")
    assert bad_choice.exit_code == EXIT_USAGE
    missing_body = run("domains", "search-domains")
    assert missing_body.exit_code == EXIT_USAGE
    assert _count(server, "search_domains") == before


def test_server_error_exits_6(run: Invoke, server: ThreadedFake) -> None:
    server.call(lambda: server.fake.faults.add("status", operation="get_orders", status=500))
    result = run("orders", "get-orders", "--max-retries", "0")
    assert result.exit_code == EXIT_API_STATUS
    assert "500" in result.stderr


def test_rate_limited_exits_5(run: Invoke, server: ThreadedFake) -> None:
    server.call(
        lambda: server.fake.faults.add(
            "status", operation="get_packages", status=429, retry_after=0
        )
    )
    result = run("packages", "get-packages", "--max-retries", "0")
    assert result.exit_code == EXIT_RATE_LIMITED
    assert "429" in result.stderr


def test_connection_error_exits_7(run: Invoke) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(
        "--base-url",
        f"http://127.0.0.1:{port}/api/v1",
        "--max-retries",
        "0",
        "orders",
        "get-orders",
    )
    assert result.exit_code == EXIT_CONNECTION
    assert "base-url" in result.stderr


# --------------------------------------------------------------------------- spending


def test_spending_needs_yes_without_a_terminal(run: Invoke, server: ThreadedFake) -> None:
    names = _available_names(server, 2, "cliyes")
    body = json.dumps({"domains": names})
    before = _count(server, "buy_domains")
    refused = run("domains", "buy-domains", "--body", body)
    assert refused.exit_code == EXIT_USAGE
    assert "--yes" in refused.stderr
    assert _count(server, "buy_domains") == before
    invalid = run("domains", "buy-domains", "--yes", "--body", json.dumps({"domains": []}))
    assert invalid.exit_code == EXIT_USAGE
    assert _count(server, "buy_domains") == before
    bought = run("domains", "buy-domains", "--yes", "--body", body)
    assert bought.exit_code == 0, bought.output
    assert json.loads(bought.stdout)["success"] is True
    assert server.call(lambda: server.fake.applied_count("buy_domains")) >= 1
    assert _count(server, "buy_domains") == before + 1
    org = server.fake.organization_id
    owned = server.call(
        lambda: {p.domain for p in server.fake.state.purchased if p.organization_id == org}
    )
    assert set(names) <= owned


def test_outcome_unknown_exits_8(run: Invoke, server: ThreadedFake) -> None:
    names = _available_names(server, 1, "clireset")
    server.call(lambda: server.fake.faults.add("reset_after", operation="buy_domains"))
    before = _count(server, "buy_domains")
    result = run("domains", "buy-domains", "--yes", "--body", json.dumps({"domains": names}))
    assert result.exit_code == EXIT_OUTCOME_UNKNOWN
    assert "reconcile" in result.stderr
    assert _count(server, "buy_domains") == before + 1  # never sent twice


def _custom_order_body(names: list[str], tag: str) -> str:
    domains = [{"domain": n, "first_name": "Ian", "last_name": "Park"} for n in names]
    return json.dumps({"tag": tag, "providers": {"smtp": {"domains": domains}}})


def test_payment_pending_exits_9(run: Invoke, server: ThreadedFake) -> None:
    names = _available_names(server, 1, "clipay")
    server.call(lambda: server.fake.faults.add("unable_to_charge", operation="create_custom_order"))
    body = _custom_order_body(names, "cli-pending")
    result = run("orders", "create-custom-order", "--provider", "buy", "--yes", "--body", body)
    assert result.exit_code == EXIT_PAYMENT_PENDING
    assert "web app" in result.stderr


# --------------------------------------------------------------------------- orders watch


def _create_order(run: Invoke, server: ThreadedFake, tag: str) -> str:
    names = _available_names(server, 2, "cliwatch")
    body = _custom_order_body(names, tag)
    result = run("orders", "create-custom-order", "--provider", "buy", "--yes", "--body", body)
    assert result.exit_code == 0, result.output
    order_id = json.loads(result.stdout)["id"]
    assert isinstance(order_id, str)
    return order_id


def test_orders_watch_until_active(run: Invoke, server: ThreadedFake) -> None:
    first = _create_order(run, server, "cli-watch-1")
    second = _create_order(run, server, "cli-watch-2")
    result = run("orders", "watch", first, second, "--interval", "0.05", "--timeout", "20")
    assert result.exit_code == 0, result.output
    outcomes = {r["order_id"]: r for r in json.loads(result.stdout)}
    assert set(outcomes) == {first, second}
    for item in outcomes.values():
        assert item["outcome"] == "completed"
        assert item["status"] == "Active"
        assert item["active_domains"] == item["domains"] == 2
    assert "all 2 order(s) active" in result.stderr


def test_orders_watch_reports_unknown_and_unfinished(run: Invoke, server: ThreadedFake) -> None:
    known = _create_order(run, server, "cli-watch-3")
    result = run(
        "orders", "watch", known, "recNoSuchOrder000", "--interval", "0.05", "--timeout", "20"
    )
    assert result.exit_code == EXIT_NOT_FOUND
    assert "recNoSuchOrder000" in result.stderr
    outcomes = {r["order_id"]: r["outcome"] for r in json.loads(result.stdout)}
    assert outcomes == {known: "completed", "recNoSuchOrder000": "failed"}

    options = server.fake.options
    saved = options.activate_after_polls
    server.call(lambda: setattr(options, "activate_after_polls", None))
    try:
        stuck = _create_order(run, server, "cli-watch-4")
        timed_out = run("orders", "watch", stuck, "--interval", "0.05", "--timeout", "0.5")
    finally:
        server.call(lambda: setattr(options, "activate_after_polls", saved))
    assert timed_out.exit_code == EXIT_FAILURE
    assert f"not active: {stuck}" in timed_out.stderr
    assert json.loads(timed_out.stdout)[0]["outcome"] == "pending"


# --------------------------------------------------------------------------- the real process


def test_python_dash_m_runs_the_cli(env: dict[str, str], fake: FakeScaledmail) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "scaledmail_async", "organizations", "get-organizations"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    ids = [o["id"] for o in json.loads(completed.stdout)["organizations"]]
    assert ids == fake.organization_ids


def test_sdk_import_does_not_need_the_cli_extra() -> None:
    code = (
        "import sys, scaledmail_async, scaledmail_async.cli, scaledmail_async._client, "
        "scaledmail_async.bulk\n"
        "print(sorted(m for m in ('click', 'rich') if m in sys.modules))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_missing_extra_exits_2_naming_it() -> None:
    code = (
        "import sys\nsys.modules['rich'] = None\n"
        "from scaledmail_async.cli import main\nmain(['--help'])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == EXIT_USAGE
    assert "scaledmail-async[cli]" in completed.stderr
    assert "rich" in completed.stderr


def test_spending_asks_for_confirmation_on_a_terminal(
    run: Invoke, server: ThreadedFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("scaledmail_async.cli._cmd_operations._stdin_is_terminal", lambda: True)
    names = _available_names(server, 1, "cliask")
    body = json.dumps({"domains": names})
    before = _count(server, "buy_domains")
    declined = run("domains", "buy-domains", "--body", body, input="n\n")
    assert declined.exit_code == EXIT_FAILURE
    assert "charges the connected card" in declined.output
    assert _count(server, "buy_domains") == before
    accepted = run("domains", "buy-domains", "--body", body, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert _count(server, "buy_domains") == before + 1


def test_bad_base_url_exits_2(run: Invoke) -> None:
    result = run("orders", "get-orders", "--base-url", "http://example.com/api/v1")
    assert result.exit_code == EXIT_USAGE
    assert "https://" in result.stderr


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.RequestValidationError("bad", field="tag"), EXIT_USAGE),
        (errors.AuthenticationError("x", status_code=401, method="GET", url="u", body={}), 3),
        (errors.PermissionDeniedError("x", status_code=403, method="GET", url="u", body={}), 3),
        (errors.NotFoundError("x", status_code=404, method="GET", url="u", body={}), 4),
        (errors.RateLimitError("x", status_code=429, method="GET", url="u", body={}), 5),
        (errors.ConflictError("x", status_code=409, method="GET", url="u", body={}), 6),
        (errors.InternalServerError("x", status_code=502, method="GET", url="u", body={}), 6),
        (errors.APIConnectionError("refused"), 7),
        (errors.APITimeoutError("slow"), 7),
        (errors.OutcomeUnknownError("?", operation="buy_domains", method="POST", url="u"), 8),
        (
            errors.PaymentPendingError("p", status_code=400, method="POST", url="u", body={}),
            EXIT_PAYMENT_PENDING,
        ),
        (RuntimeError("boom"), EXIT_FAILURE),
    ],
)
def test_exit_codes(exc: BaseException, code: int) -> None:
    assert exit_code_for(exc) == code
    message = describe_error(exc, secret="x")
    assert message.startswith("error: ")


def test_describe_error_redacts_the_key() -> None:
    secret = "sk_live_" + uuid.uuid4().hex
    exc = errors.APIConnectionError(f"could not connect with {secret}")
    assert secret not in describe_error(exc, secret=secret)


def test_fake_server_command_serves_until_terminated(cli: click.Group) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "scaledmail_async", "fake-server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(6)]
        exports = dict(
            line.strip().removeprefix("export ").split("=", 1) for line in lines if "export" in line
        )
        assert exports["SCALEDMAIL_BASE_URL"] == f"http://127.0.0.1:{port}/api/v1"
        result = CliRunner().invoke(cli, ["organizations", "get-organizations"], env=exports)
        assert result.exit_code == 0, result.output
        ids = [o["id"] for o in json.loads(result.stdout)["organizations"]]
        assert exports["SCALEDMAIL_ORGANIZATION_ID"] == ids[0]
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0
