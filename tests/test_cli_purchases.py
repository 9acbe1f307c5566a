"""``scaledmail purchases list|reconcile`` over a purchase journal.

``list`` runs on a journal file populated directly (``SQLitePurchaseJournal.claim``/``resolve``);
``reconcile`` runs once with a stub client (exit codes, arguments, output) and once end to end
against the embedded fake in a background thread (the CLI calls ``asyncio.run`` itself).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import attrs
import click
import pytest
from click.testing import CliRunner, Result
from threaded_fake import ThreadedFake

import scaledmail_async.cli._cmd_purchases as cli_commands
from scaledmail_async import ScaledmailClient
from scaledmail_async._journal import (
    JournalEntry,
    SQLitePurchaseJournal,
    fingerprint,
    key_id,
    new_entry,
)
from scaledmail_async.cli._app import build_cli
from scaledmail_async.cli._errors import EXIT_OK, EXIT_OUTCOME_UNKNOWN, EXIT_USAGE
from scaledmail_async.testing import FakeScaledmail

T = TypeVar("T")
API_KEY = "sk_test_purchases_cli"
ORG = "recORGANIZATION01"


# --------------------------------------------------------------------------- helpers


def _entry(
    operation: str,
    *,
    tag: str | None = None,
    domains: tuple[str, ...] = (),
    at: float,
    api_key: str = API_KEY,
    organization_id: str = ORG,
    body: Any = None,
) -> JournalEntry:
    return new_entry(
        operation=operation,
        tag=tag,
        domains=domains,
        fingerprint=fingerprint(api_key, operation, body or {"tag": tag, "domains": domains}),
        key_id=key_id(api_key),
        organization_id=organization_id,
        now=at,
    )


async def _record(
    journal: SQLitePurchaseJournal,
    entry: JournalEntry,
    state: str | None = None,
    *,
    order_id: str | None = None,
    note: str = "",
) -> JournalEntry:
    """Claim ``entry``, mark it sent and (``state``) resolve it, as the client would."""
    await journal.claim(entry)
    await journal.mark_sent(entry.id, entry.created_at + 0.5)
    if state is None:
        got = await journal.get(entry.id)
        assert got is not None
        return got
    return await journal.resolve(entry.id, state, order_id=order_id, note=note)  # type: ignore[arg-type]


@attrs.frozen
class Populated:
    path: Path
    applied: JournalEntry
    not_applied: JournalEntry
    unknown: JournalEntry
    pending: JournalEntry


@pytest.fixture
def journal_file(tmp_path: Path) -> Populated:
    path = tmp_path / "purchases.db"
    base = 1_773_480_000.0  # 2026-03-14T09:20:00Z

    async def populate() -> Populated:
        journal = SQLitePurchaseJournal(path)
        try:
            applied = await _record(
                journal,
                _entry("create_custom_order", tag="acme-01", domains=("a1.com", "a2.com"), at=base),
                "applied",
                order_id="recORDER00000001",
            )
            not_applied = await _record(
                journal,
                _entry(
                    "buy_domains",
                    domains=("b1.com", "b2.com", "b3.com", "b4.com", "b5.com"),
                    at=base + 60,
                ),
                "not_applied",
                note="HTTP 400: Domain not available: b1.com",
            )
            unknown = await _record(
                journal,
                _entry("create_order", tag="acme-02", domains=("c1.com",), at=base + 120),
                "unknown",
                note="connection reset after sending",
            )
            pending = await _record(
                journal, _entry("buy_pre_warm_inboxes", tag="acme-03", at=base + 180)
            )
        finally:
            await journal.aclose()
        return Populated(path, applied, not_applied, unknown, pending)

    return asyncio.run(populate())


Invoke = Callable[..., Result]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Invoke:
    for name in (
        "SCALEDMAIL_JOURNAL",
        "SCALEDMAIL_API_KEY",
        "SCALEDMAIL_BASE_URL",
        "SCALEDMAIL_ORGANIZATION_ID",
        "SCALEDMAIL_REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    cli = build_cli()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env={"SCALEDMAIL_LOG": "", **(env or {})})

    return invoke


def _json(result: Result) -> Any:
    assert result.stdout.strip(), result.output
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- list


def test_list_prints_every_entry_as_json(run: Invoke, journal_file: Populated) -> None:
    result = run("purchases", "list", "--journal", str(journal_file.path))
    assert result.exit_code == 0, result.output
    rows = _json(result)
    assert [r["id"] for r in rows] == [
        journal_file.applied.id,
        journal_file.not_applied.id,
        journal_file.unknown.id,
        journal_file.pending.id,
    ]
    first = rows[0]
    assert first["operation"] == "create_custom_order" and first["tag"] == "acme-01"
    assert first["domains"] == ["a1.com", "a2.com"] and first["state"] == "applied"
    assert first["order_id"] == "recORDER00000001" and first["organization_id"] == ORG
    assert first["created_at"] == journal_file.applied.created_at
    assert first["sent_at"] == pytest.approx(journal_file.applied.created_at + 0.5)
    assert rows[1]["tag"] is None and rows[1]["state"] == "not_applied"
    assert "Domain not available" in rows[1]["note"]
    assert rows[3]["state"] == "pending" and rows[3]["order_id"] is None
    # No fingerprint, no key hash, never the key.
    assert all("fingerprint" not in r and "key_id" not in r for r in rows)
    assert API_KEY not in result.output


def test_list_state_filter_is_repeatable(run: Invoke, journal_file: Populated) -> None:
    path = str(journal_file.path)
    one = _json(run("purchases", "list", "--journal", path, "--state", "unknown"))
    assert [r["id"] for r in one] == [journal_file.unknown.id]
    two = _json(
        run("purchases", "list", "--journal", path, "--state", "applied", "--state", "pending")
    )
    assert [r["state"] for r in two] == ["applied", "pending"]
    none = _json(run("purchases", "list", "--journal", path, "--state", "not_applied"))
    assert [r["domains"][0] for r in none] == ["b1.com"]
    bad = run("purchases", "list", "--journal", path, "--state", "lost")
    assert bad.exit_code == EXIT_USAGE and "lost" in bad.output


def test_list_as_a_table(run: Invoke, journal_file: Populated) -> None:
    path = str(journal_file.path)
    result = run("purchases", "list", "--journal", path, "--format", "table")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for heading in ("created_at", "operation", "tag", "domains", "state", "order_id"):
        assert heading in out
    assert "2026-03-14T09:20:00Z" in out and "recORDER00000001" in out
    assert "acme-01" in out and "a1.com, a2.com" in out and "not_applied" in out
    assert "b1.com, b2.com, b3.com (+2 more)" in out
    filtered = run("--table", "purchases", "list", "--journal", path, "--state", "applied")
    assert filtered.exit_code == 0 and "acme-01" in filtered.stdout
    assert "acme-02" not in filtered.stdout
    both = run("purchases", "list", "--journal", path, "--json", "--table")
    assert both.exit_code == EXIT_USAGE


def test_list_reads_the_journal_from_the_environment(
    run: Invoke, journal_file: Populated, tmp_path: Path
) -> None:
    env = {"SCALEDMAIL_JOURNAL": str(journal_file.path)}
    result = run("purchases", "list", env=env)  # no API key needed: nothing is sent
    assert result.exit_code == 0, result.output
    assert len(_json(result)) == 4
    empty = tmp_path / "other.db"
    asyncio.run(_touch(empty))
    # --journal wins over the environment.
    override = run("purchases", "list", "--journal", str(empty), env=env)
    assert override.exit_code == 0 and _json(override) == []


async def _touch(path: Path) -> None:
    journal = SQLitePurchaseJournal(path)
    await journal.entries()
    await journal.aclose()


@pytest.mark.parametrize("command", ["list", "reconcile"])
def test_no_journal_is_a_usage_error_naming_both(run: Invoke, command: str) -> None:
    result = run("purchases", command, env={"SCALEDMAIL_API_KEY": API_KEY})
    assert result.exit_code == EXIT_USAGE
    assert "--journal" in result.stderr and "SCALEDMAIL_JOURNAL" in result.stderr
    blank = run("purchases", command, "--journal", " ", env={"SCALEDMAIL_JOURNAL": "  "})
    assert blank.exit_code == EXIT_USAGE and "SCALEDMAIL_JOURNAL" in blank.stderr


def test_a_journal_file_that_does_not_exist_is_not_created(run: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for command in ("list", "reconcile"):
        result = run("purchases", command, "--journal", str(missing))
        assert result.exit_code == EXIT_USAGE
        assert "no purchase journal" in result.stderr and "typo.db" in result.stderr
    assert not missing.exists()


def test_a_redis_journal_never_shows_its_password(run: Invoke) -> None:
    url = "redis://:s3cretpw@127.0.0.1:1/0"
    result = run("purchases", "list", "--journal", url)
    assert result.exit_code != 0
    assert "s3cretpw" not in result.output


def test_help_lists_the_group(run: Invoke) -> None:
    assert "purchases" in run("--help").stdout
    group = run("purchases", "--help")
    assert group.exit_code == 0 and "list" in group.stdout and "reconcile" in group.stdout
    assert "SCALEDMAIL_JOURNAL" in run("purchases", "list", "--help").stdout


# --------------------------------------------------------------------------- reconcile, stubbed


@attrs.frozen
class StubReconciliation:
    state: str
    order_id: str | None
    evidence: str
    entry: JournalEntry
    conclusive_at: float | None


class StubClient:
    """Stands in for ScaledmailClient: records how ``reconcile`` was called."""

    def __init__(self, journal: Any, outcomes: dict[str, str]) -> None:
        self.journal = journal
        self.outcomes = outcomes
        self.calls: list[Any] = []

    async def __aenter__(self) -> StubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def _result(self, entry: JournalEntry) -> StubReconciliation:
        state = self.outcomes.get(entry.tag or entry.id, "applied")
        order = "recFOUND" if state == "applied" else None
        return StubReconciliation(
            state,
            order,
            f"stub: {state}",
            attrs.evolve(entry, state=state, order_id=order),  # type: ignore[arg-type]
            None if state == "unknown" else time.time(),
        )

    async def reconcile(self, target: JournalEntry | str) -> StubReconciliation:
        self.calls.append(target)
        if isinstance(target, str):
            (entry,) = await self.journal.find_tag(target)
        else:
            entry = target
        return await self._result(entry)

    async def reconcile_pending(self) -> list[StubReconciliation]:
        self.calls.append("pending")
        live = await self.journal.entries(states=("pending", "unknown"))
        return [await self._result(e) for e in live]


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    made: dict[str, Any] = {"outcomes": {}}

    def factory(settings: Any, api_key: str, journal: Any) -> StubClient:
        client = StubClient(journal, made["outcomes"])
        made["client"], made["api_key"], made["settings"] = client, api_key, settings
        return client

    monkeypatch.setattr(cli_commands, "_journal_client", factory)
    return made


def test_reconcile_pending_all_conclusive_exits_0(
    run: Invoke, journal_file: Populated, stub: dict[str, Any]
) -> None:
    env = {"SCALEDMAIL_API_KEY": API_KEY, "SCALEDMAIL_JOURNAL": str(journal_file.path)}
    result = run("purchases", "reconcile", "--base-url", "http://127.0.0.1:9/api/v1", env=env)
    assert result.exit_code == EXIT_OK, result.output
    assert stub["client"].calls == ["pending"] and stub["api_key"] == API_KEY
    assert stub["settings"].base_url == "http://127.0.0.1:9/api/v1"
    rows = _json(result)
    assert [r["entry_id"] for r in rows] == [journal_file.unknown.id, journal_file.pending.id]
    assert rows[0] == {
        "entry_id": journal_file.unknown.id,
        "operation": "create_order",
        "tag": "acme-02",
        "domains": ["c1.com"],
        "state": "applied",
        "order_id": "recFOUND",
        "evidence": "stub: applied",
        "conclusive_at": rows[0]["conclusive_at"],
        "payment_pending": False,
    }
    assert "conclusive" in result.stderr


def test_reconcile_any_unknown_exits_8(
    run: Invoke, journal_file: Populated, stub: dict[str, Any]
) -> None:
    stub["outcomes"]["acme-03"] = "unknown"
    stub["outcomes"]["acme-02"] = "not_applied"
    env = {"SCALEDMAIL_API_KEY": API_KEY}
    result = run("purchases", "reconcile", "--journal", str(journal_file.path), env=env)
    assert result.exit_code == EXIT_OUTCOME_UNKNOWN, result.output
    assert [r["state"] for r in _json(result)] == ["not_applied", "unknown"]
    assert "still unknown" in result.stderr and "acme-03" in result.stderr
    table = run("purchases", "reconcile", "--journal", str(journal_file.path), "--table", env=env)
    assert table.exit_code == EXIT_OUTCOME_UNKNOWN
    assert "reconciliation" in table.stdout and "stub: unknown" in table.stdout


def test_reconcile_arguments_are_entry_ids_or_tags(
    run: Invoke, journal_file: Populated, stub: dict[str, Any]
) -> None:
    env = {"SCALEDMAIL_API_KEY": API_KEY}
    path = str(journal_file.path)
    result = run(
        "purchases", "reconcile", journal_file.unknown.id, "acme-03", "--journal", path, env=env
    )
    assert result.exit_code == EXIT_OK, result.output
    first, second = stub["client"].calls
    assert isinstance(first, JournalEntry) and first.id == journal_file.unknown.id
    assert second == "acme-03"
    assert [r["tag"] for r in _json(result)] == ["acme-02", "acme-03"]
    stub.pop("client")
    missing = run("purchases", "reconcile", "acme-03", "nope-tag", "--journal", path, env=env)
    assert missing.exit_code == EXIT_USAGE and "nope-tag" in missing.stderr
    assert "client" not in stub  # nothing was reconciled


def test_reconcile_with_nothing_pending(run: Invoke, tmp_path: Path, stub: dict[str, Any]) -> None:
    path = tmp_path / "empty.db"
    asyncio.run(_touch(path))
    result = run(
        "purchases", "reconcile", "--journal", str(path), env={"SCALEDMAIL_API_KEY": API_KEY}
    )
    assert result.exit_code == EXIT_OK and _json(result) == []
    assert "nothing to reconcile" in result.stderr


def test_reconcile_needs_an_api_key(run: Invoke, journal_file: Populated) -> None:
    result = run("purchases", "reconcile", "--journal", str(journal_file.path))
    assert result.exit_code == 3 and "SCALEDMAIL_API_KEY" in result.stderr


# --------------------------------------------------------------------------- reconcile, for real


@pytest.fixture
def server() -> Iterator[ThreadedFake]:
    threaded = ThreadedFake(
        api_key=f"sk_test_purchases_{uuid.uuid4().hex}", rate_limit=1000, critical_limit=1000
    )
    try:
        yield threaded
    finally:
        threaded.close()


async def _buy(fake: FakeScaledmail, name: str, tag: str) -> str:
    body = {
        "tag": tag,
        "providers": {
            "google": {"domains": [{"domain": name, "first_name": "Lea", "last_name": "Moss"}]}
        },
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            fake.base_url + "/create-custom-order",
            params={"organization_id": fake.organization_id, "provider": "buy"},
            headers={"Authorization": f"Bearer {fake.api_key}"},
            json=body,
        ) as response,
    ):
        assert response.status == 200, await response.text()
        order_id: str = (await response.json())["payment_id"]
        return order_id


@pytest.mark.skipif(
    not hasattr(ScaledmailClient, "reconcile"),
    reason="ScaledmailClient.reconcile (issue 12) is not written yet",
)
def test_reconcile_against_the_fake(run: Invoke, server: ThreadedFake, tmp_path: Path) -> None:
    fake = server.fake
    path = tmp_path / "purchases.db"
    tag = f"cli-{uuid.uuid4().hex[:8]}"

    def pick() -> str:
        while True:
            name = f"recon{uuid.uuid4().hex[:8]}.com"
            if fake.state.name_status(name) == "available":
                return name

    name = server.call(pick)

    async def journal_attempt() -> JournalEntry:
        journal = SQLitePurchaseJournal(path)
        try:
            entry = _entry(
                "create_custom_order",
                tag=tag,
                domains=(name,),
                at=time.time() - 5,
                api_key=fake.api_key,
                organization_id=fake.organization_id,
            )
            return await _record(journal, entry, "unknown", note="connection reset")
        finally:
            await journal.aclose()

    entry = asyncio.run(journal_attempt())
    order_id = asyncio.run(_buy(fake, name, tag))  # the purchase the client never heard about
    env = {
        "SCALEDMAIL_API_KEY": fake.api_key,
        "SCALEDMAIL_BASE_URL": fake.base_url,
        "SCALEDMAIL_ORGANIZATION_ID": fake.organization_id,
        "SCALEDMAIL_JOURNAL": str(path),
    }
    result = run("purchases", "reconcile", env=env)
    assert result.exit_code == EXIT_OK, result.output
    (row,) = _json(result)
    assert row["entry_id"] == entry.id and row["state"] == "applied"
    assert row["order_id"] == order_id
    listed = _json(run("purchases", "list", "--state", "applied", env=env))
    assert [(r["id"], r["order_id"]) for r in listed] == [(entry.id, order_id)]
    again = run("purchases", "reconcile", tag, "--format", "table", env=env)
    assert again.exit_code == EXIT_OK, again.output
    assert order_id in again.stdout
    assert server.call(lambda: fake.applied_count("create_custom_order")) == 1
    assert fake.api_key not in result.output + again.output


def test_click_is_the_cli_toolkit() -> None:
    # The group is a plain click.Group (registered by build_cli).
    group = build_cli().commands["purchases"]
    assert isinstance(group, click.Group)
    assert set(group.commands) == {"list", "reconcile"}


def test_list_a_redis_journal(run: Invoke, redis_server: Any) -> None:
    from scaledmail_async._journal_redis import RedisPurchaseJournal

    url: str = redis_server.url

    async def populate() -> JournalEntry:
        journal = RedisPurchaseJournal.from_url(url)
        try:
            entry = _entry("buy_domains", domains=("r1.com",), at=time.time())
            await journal.claim(entry)
            return await journal.resolve(entry.id, "applied")
        finally:
            await journal.aclose()

    entry = asyncio.run(populate())
    result = run("purchases", "list", env={"SCALEDMAIL_JOURNAL": url})
    assert result.exit_code == 0, result.output
    assert [(r["id"], r["state"], r["domains"]) for r in _json(result)] == [
        (entry.id, "applied", ["r1.com"])
    ]
