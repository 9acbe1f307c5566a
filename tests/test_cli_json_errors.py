"""The CLI's errors as JSON on stderr when JSON output is asked for (``--json`` / ``--format
json``), against the embedded fake: the object's fields, the unchanged exit codes, prose by
default, and never the API key."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from threaded_fake import ThreadedFake

from scaledmail_async import errors
from scaledmail_async._journal import SQLitePurchaseJournal, fingerprint, key_id, new_entry
from scaledmail_async.cli._app import build_cli
from scaledmail_async.cli._errors import (
    EXIT_API_STATUS,
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_NOT_FOUND,
    EXIT_OUTCOME_UNKNOWN,
    EXIT_RATE_LIMITED,
    EXIT_USAGE,
    error_json,
)
from scaledmail_async.cli._settings import requested_output
from scaledmail_async.testing import FakeScaledmail

#: Every JSON error object has these keys.
KEYS = {"type", "status", "message", "request_id", "exit_code", "operation"}


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedFake]:
    threaded = ThreadedFake(
        api_key=f"sk_test_json_{uuid.uuid4().hex}",
        rate_limit=1000,
        critical_limit=1000,
        activate_after_polls=1,
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
        "SCALEDMAIL_JOURNAL": "",
    }


Invoke = Callable[..., Result]


@pytest.fixture
def run(env: dict[str, str], fake: FakeScaledmail) -> Iterator[Invoke]:
    results: list[Result] = []

    def invoke(*args: str, extra_env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(build_cli(), list(args), env={**env, **(extra_env or {})})
        results.append(result)
        return result

    yield invoke
    for result in results:
        assert fake.api_key not in result.output


def _error(result: Result) -> dict[str, Any]:
    """The one JSON object on stderr (nothing else there, nothing on stdout)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    assert KEYS <= set(data), data
    assert data["exit_code"] == result.exit_code
    assert result.stdout == ""
    return data


def _last(server: ThreadedFake, operation_id: str) -> Any:
    return server.call(lambda: server.fake.requests_for(operation_id)[-1])


# --------------------------------------------------------------------------- API errors


@pytest.mark.parametrize(
    "flags", [("--json",), ("--format", "json"), ("--format=json",)], ids=["json", "fmt", "fmt="]
)
def test_not_found_is_a_json_object_with_the_request_id(
    run: Invoke, server: ThreadedFake, flags: tuple[str, ...]
) -> None:
    result = run("orders", "get-order-details", "recDoesNotExist00", *flags)
    assert result.exit_code == EXIT_NOT_FOUND
    data = _error(result)
    record = _last(server, "get_order_details")
    assert data["type"] == "NotFoundError"
    assert data["status"] == 404
    assert data["request_id"] == record.request_id and data["request_id"].startswith("req_")
    assert data["operation"] == "get_order_details"
    assert data["detail"] == "Order not found"
    assert "recDoesNotExist00" in data["message"] and data["hint"]


def test_the_root_flag_works_as_well(run: Invoke) -> None:
    result = run("--json", "orders", "get-order-details", "recDoesNotExist00")
    assert result.exit_code == EXIT_NOT_FOUND
    assert _error(result)["type"] == "NotFoundError"


def test_prose_stays_the_default(run: Invoke) -> None:
    for flags in ((), ("--table",), ("--format", "table")):
        result = run("orders", "get-order-details", "recDoesNotExist00", *flags)
        assert result.exit_code == EXIT_NOT_FOUND
        assert result.stderr.startswith("scaledmail: error: get_order_details"), result.stderr
        assert "Check the id" in result.stderr
        with pytest.raises(ValueError):
            json.loads(result.stderr)


def test_authentication_error_never_shows_the_key(run: Invoke) -> None:
    secret = "sk_live_DO_NOT_PRINT_" + uuid.uuid4().hex
    result = run("orders", "get-orders", "--json", extra_env={"SCALEDMAIL_API_KEY": secret})
    assert result.exit_code == EXIT_AUTH
    data = _error(result)
    assert data["type"] == "AuthenticationError" and data["status"] == 401
    assert data["request_id"] is not None
    assert secret not in result.output


def test_rate_limited_has_retry_after(run: Invoke, server: ThreadedFake) -> None:
    server.call(
        lambda: server.fake.faults.add(
            "status", operation="get_packages", status=429, retry_after=0
        )
    )
    result = run("packages", "get-packages", "--max-retries", "0", "--json")
    assert result.exit_code == EXIT_RATE_LIMITED
    data = _error(result)
    assert data["type"] == "RateLimitError" and data["status"] == 429
    assert "retry_after" in data


def test_server_error(run: Invoke, server: ThreadedFake) -> None:
    server.call(lambda: server.fake.faults.add("status", operation="get_orders", status=500))
    result = run("orders", "get-orders", "--max-retries", "0", "--json")
    assert result.exit_code == EXIT_API_STATUS
    data = _error(result)
    assert data["type"] == "InternalServerError" and data["status"] == 500


def test_connection_error_has_no_status(run: Invoke) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(
        "--base-url",
        f"http://127.0.0.1:{port}/api/v1",
        "--max-retries",
        "0",
        "--json",
        "orders",
        "get-orders",
    )
    assert result.exit_code == EXIT_CONNECTION
    data = _error(result)
    assert data["type"] == "APIConnectionError"
    assert data["status"] is None and data["request_id"] is None


# --------------------------------------------------------------------------- bad input


def test_bad_input_names_the_field_and_sends_nothing(run: Invoke, server: ThreadedFake) -> None:
    before = server.call(lambda: server.fake.request_count("search_domains"))
    eleven = {"domains": [f"name{i}.com" for i in range(11)]}
    result = run("domains", "search-domains", "--body", json.dumps(eleven), "--json")
    assert result.exit_code == EXIT_USAGE
    data = _error(result)
    assert data["type"] == "RequestValidationError"
    assert data["field"] == "body.domains" and data["status"] is None
    assert data["operation"] == "search_domains"
    assert server.call(lambda: server.fake.request_count("search_domains")) == before


def test_bad_spend_input_before_the_confirmation(run: Invoke) -> None:
    result = run("domains", "buy-domains", "--body", '{"domains": []}', "--json")
    assert result.exit_code == EXIT_USAGE
    data = _error(result)
    assert data["type"] == "RequestValidationError" and data["operation"] == "buy_domains"


def test_spend_without_a_terminal_or_yes(run: Invoke) -> None:
    result = run("domains", "buy-domains", "--body", '{"domains": ["x1y2z3.com"]}', "--json")
    assert result.exit_code == EXIT_USAGE
    data = _error(result)
    assert data["type"] == "UsageError" and "--yes" in data["message"]


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (("domains", "search-domains", "--body", '{"domains": [', "--json"), "BadParameter"),
        (("orders", "get-order-details", "--json"), "MissingParameter"),
        (("--json", "orders", "get-orders", "--bogus"), "NoSuchOption"),
        (("--json", "--bogus", "orders", "get-orders"), "NoSuchOption"),
        (("--json", "orders", "no-such-command"), "NoSuchCommand|UsageError"),
        (("orders", "get-orders", "--json", "--timeout", "-1"), "BadParameter"),
    ],
)
def test_click_usage_errors_are_json_too(run: Invoke, args: tuple[str, ...], kind: str) -> None:
    result = run(*args)
    assert result.exit_code == EXIT_USAGE
    data = _error(result)
    assert data["type"] in kind.split("|")  # click 8.2 added NoSuchCommand
    assert data["command"].startswith("scaledmail")
    assert "--help" in data["hint"] or "-h" in data["hint"]


def test_click_usage_errors_stay_prose_by_default(run: Invoke) -> None:
    result = run("orders", "get-order-details")
    assert result.exit_code == EXIT_USAGE
    assert "Missing argument" in result.stderr and not result.stderr.startswith("{")


def test_missing_api_key(run: Invoke) -> None:
    result = run("orders", "get-orders", "--json", extra_env={"SCALEDMAIL_API_KEY": ""})
    assert result.exit_code == EXIT_AUTH
    data = _error(result)
    assert data["type"] == "MissingAPIKeyError"
    assert "SCALEDMAIL_API_KEY" in data["message"] and data["status"] is None


def test_missing_journal(run: Invoke, tmp_path: Path) -> None:
    result = run("purchases", "list", "--json")
    assert result.exit_code == EXIT_USAGE
    assert _error(result)["type"] == "ConfigurationError"
    typo = run("purchases", "list", "--journal", str(tmp_path / "typo.db"), "--json")
    assert typo.exit_code == EXIT_USAGE
    assert "typo.db" in _error(typo)["message"]


def test_orders_watch_ends_with_one_json_error(run: Invoke, fake: FakeScaledmail) -> None:
    result = run(
        "orders", "watch", "recNoSuchOrder000", "--interval", "0", "--timeout", "20", "--json"
    )
    assert result.exit_code == EXIT_NOT_FOUND
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no progress display around it
    data = json.loads(lines[0])
    assert data["type"] == "NotFoundError" and data["status"] == 404
    assert data["request_id"].startswith("req_")
    assert [o["order_id"] for o in data["orders"]] == ["recNoSuchOrder000"]
    assert json.loads(result.stdout)[0]["outcome"] == "failed"  # the results as before


def test_reconcile_still_unknown_is_one_json_error(
    run: Invoke, fake: FakeScaledmail, tmp_path: Path
) -> None:
    path = tmp_path / "purchases.db"
    tag = "json-" + uuid.uuid4().hex[:8]

    async def populate() -> None:
        journal = SQLitePurchaseJournal(path)
        try:
            entry = new_entry(
                operation="create_custom_order",
                tag=tag,
                domains=("jsonunknown.com",),
                fingerprint=fingerprint(fake.api_key, "create_custom_order", {"tag": tag}),
                key_id=key_id(fake.api_key),
                organization_id=fake.organization_id,
                now=time.time(),
            )
            await journal.claim(entry)
            await journal.mark_sent(entry.id, time.time())  # sent just now: not settled yet
        finally:
            await journal.aclose()

    asyncio.run(populate())
    result = run("purchases", "reconcile", "--journal", str(path), "--json")
    assert result.exit_code == EXIT_OUTCOME_UNKNOWN, result.output
    data = json.loads(result.stderr)
    assert data["type"] == "OutcomeUnknownError" and data["exit_code"] == EXIT_OUTCOME_UNKNOWN
    assert [e["tag"] for e in data["entries"]] == [tag]
    assert json.loads(result.stdout)[0]["state"] == "unknown"  # the results as before


def test_subprocess_json_error(env: dict[str, str], fake: FakeScaledmail) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "scaledmail_async", "--json", "orders", "get-order-details", "rec0"],
        env=env | {"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == EXIT_NOT_FOUND
    data = json.loads(completed.stderr)
    assert data["type"] == "NotFoundError" and data["exit_code"] == EXIT_NOT_FOUND
    assert fake.api_key not in completed.stdout + completed.stderr


# --------------------------------------------------------------------------- units


def test_error_json_redacts_the_secret_everywhere() -> None:
    secret = "sk_live_" + uuid.uuid4().hex
    exc = errors.NotFoundError(
        f"nope {secret}",
        status_code=404,
        method="GET",
        url=f"https://x.test/?k={secret}",
        body={"error": f"no {secret}"},
        headers={"x-request-id": "abc"},
        operation="get_orders",
    )
    data = error_json(exc, secret=secret)
    assert secret not in json.dumps(data)
    assert data["request_id"] == "abc" and data["exit_code"] == EXIT_NOT_FOUND


def test_requested_output_reads_the_last_choice() -> None:
    assert requested_output(["orders", "get-orders"]) is None
    assert requested_output(["--json", "orders"]) == "json"
    assert requested_output(["orders", "--format", "json", "--table"]) == "table"
    assert requested_output(["--format=json"]) == "json"
    assert requested_output(["orders", "--", "--json"]) is None


def test_the_root_group_is_a_click_group() -> None:
    assert isinstance(build_cli(), click.Group)
