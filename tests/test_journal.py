"""The purchase journal, the duplicate guard, reconciliation and the exactly-once call.

Real components only: the embedded fake over HTTP, a real SQLite file, real OS processes killed
with SIGKILL. No test asserts a wall-clock duration; the hang bounds are generous.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sqlite3
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from scaledmail_async import (
    DuplicatePurchaseError,
    JournalUnavailableError,
    OutcomeUnknownError,
    ScaledmailClient,
    SQLitePurchaseJournal,
)
from scaledmail_async._journal import fingerprint, key_id, new_entry
from scaledmail_async._reconcile import Reads
from scaledmail_async.models import CreateCustomOrderBody, SequencerDict
from scaledmail_async.testing import FakeScaledmail

WORKER = str(Path(__file__).with_name("journal_worker.py"))
HANG = 60.0


def custom_body(
    domain: str, tag: str | None = None, sequencer: SequencerDict | None = None
) -> CreateCustomOrderBody:
    body: CreateCustomOrderBody = {
        "providers": {
            "google": {"domains": [{"domain": domain, "first_name": "Ada", "last_name": "Ng"}]}
        },
    }
    if sequencer is not None:
        body["sequencer"] = sequencer
    if tag is not None:
        body["tag"] = tag
    return body


def client_of(fake: FakeScaledmail, journal: Any, **options: Any) -> ScaledmailClient:
    options.setdefault("rate_limit", None)
    options.setdefault("max_retries", 0)
    return ScaledmailClient(
        fake.api_key,
        base_url=fake.base_url,
        organization_id=fake.organization_id,
        journal=journal,
        **options,
    )


async def start_worker(cfg: dict[str, Any]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        WORKER,
        json.dumps(cfg),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_for(condition: Any, what: str) -> None:
    for _ in range(int(HANG / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def worker_cfg(fake: FakeScaledmail, path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": fake.api_key,
        "base_url": fake.base_url,
        "organization_id": fake.organization_id,
        "journal": str(path),
        **extra,
    }


# --------------------------------------------------------------------------- the journal


async def test_every_spend_is_journaled_before_it_is_sent(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        async with client_of(fake, journal) as client:
            answer = await client.create_custom_order(
                provider="buy",
                body=custom_body(
                    "journal-one.com",
                    "job-1",
                    sequencer={"provider": "instantly", "username": "u", "password": "S3cr3t!"},
                ),
            )
            with pytest.raises(DuplicatePurchaseError) as dup:
                await client.create_custom_order(
                    provider="buy", body=custom_body("journal-one.com", "job-1")
                )
            # a spend without a tag gets a minted one, recorded
            await client.create_custom_order(provider="buy", body=custom_body("journal-two.com"))
        assert fake.applied_count("create_custom_order") == 2
        minted = fake.requests_for("create_custom_order")[-1].json["tag"]
    assert dup.value.entry.tag == "job-1" and dup.value.entry.order_id == answer.id
    assert "allow_duplicate=True" in str(dup.value)
    first, second = await journal.entries()
    assert (first.operation, first.tag, first.state, first.order_id) == (
        "create_custom_order",
        "job-1",
        "applied",
        answer.id,
    )
    assert first.domains == ("journal-one.com",)
    assert first.sent_at is not None and first.created_at <= first.sent_at <= first.updated_at
    assert second.tag == minted and minted.startswith("sm-") and len(minted) <= 20
    # no secret, no card data, no key in the file
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()))  # noqa: ASYNC240
    assert b"S3cr3t!" not in raw and fake.api_key.encode() not in raw
    assert stat.S_IMODE((tmp_path / "p.db").stat().st_mode) == 0o600


async def test_allow_duplicate_buys_again_on_purpose(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        async with client_of(fake, journal) as client:
            await client.create_custom_order(provider="buy", body=custom_body("dup-a.com", "t"))
            await client.create_custom_order(
                provider="buy", body=custom_body("dup-b.com", "t"), allow_duplicate=True
            )
        assert fake.applied_count("create_custom_order") == 2


async def test_buy_domains_guard_is_per_domain(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, critical_limit=None, taken_ratio=0.0) as fake:
        async with client_of(fake, journal) as client:
            await client.buy_domains(body={"domains": ["guard-a.com", "guard-b.com"]})
            with pytest.raises(DuplicatePurchaseError):
                await client.buy_domains(body={"domains": ["guard-c.com", "Guard-B.com"]})
            await client.buy_domains(body={"domains": ["guard-c.com"]})
        assert fake.applied_count("buy_domains") == 2


async def test_a_rejected_spend_frees_its_evidence(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        for _ in range(2):
            fake.faults.add(
                "status", status=400, body={"error": "bad"}, operation="create_custom_order"
            )
        async with client_of(fake, journal) as client:
            for _ in range(2):  # the second is not a duplicate: the first was not applied
                with pytest.raises(Exception) as info:
                    await client.create_custom_order(
                        provider="buy", body=custom_body("free-me.com", "free-me")
                    )
                assert not isinstance(info.value, DuplicatePurchaseError)
            await client.create_custom_order(
                provider="buy", body=custom_body("free-me.com", "free-me")
            )
    states = [e.state for e in await journal.entries()]
    assert states == ["not_applied", "not_applied", "applied"]


async def test_an_ambiguous_failure_is_unknown_with_the_entry(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        fake.faults.add("reset_after", operation="create_custom_order")
        async with client_of(fake, journal) as client:
            with pytest.raises(OutcomeUnknownError) as info:
                await client.create_custom_order(
                    provider="buy", body=custom_body("amb-1.com", "amb-1")
                )
            entry = info.value.entry
            assert entry is not None and entry.state == "unknown" and entry.tag == "amb-1"
            found = await client.reconcile(entry)
            assert found.state == "applied" and found.order_id
            assert (await journal.get(entry.id)).state == "applied"  # type: ignore[union-attr]


async def test_unable_to_charge_is_applied_with_payment_pending(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0, unable_to_charge=True) as fake:
        async with client_of(fake, journal) as client:
            with pytest.raises(Exception, match="unable to charge"):
                await client.create_custom_order(
                    provider="buy", body=custom_body("charge-1.com", "charge-1")
                )
    (entry,) = await journal.entries()
    assert entry.state == "applied" and entry.payment_pending


# --------------------------------------------------------------------------- store failures


async def test_a_read_only_journal_sends_nothing(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores file modes; the locked-database test covers the path")
    path = tmp_path / "ro.db"
    SQLitePurchaseJournal(path)  # nothing created until used
    path.write_bytes(b"")
    path.chmod(0o400)
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        async with client_of(fake, SQLitePurchaseJournal(path)) as client:
            with pytest.raises(JournalUnavailableError, match="Nothing was sent"):
                await client.create_custom_order(provider="buy", body=custom_body("ro-1.com"))
        assert fake.request_count("create_custom_order") == 0


async def test_a_locked_journal_sends_nothing(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    journal = SQLitePurchaseJournal(path, busy_timeout=0.2)
    await journal.entries()  # create it
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
            async with client_of(fake, journal) as client:
                with pytest.raises(JournalUnavailableError, match="locked"):
                    await client.create_custom_order(
                        provider="buy", body=custom_body("locked-1.com")
                    )
            assert fake.request_count("create_custom_order") == 0
    finally:
        holder.rollback()
        holder.close()


async def test_a_directory_that_cannot_hold_the_file_sends_nothing(tmp_path: Path) -> None:
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        bad = SQLitePurchaseJournal(tmp_path / "missing-dir" / "p.db")
        async with client_of(fake, bad) as client:
            with pytest.raises(JournalUnavailableError):
                await client.create_custom_order(provider="buy", body=custom_body("nodir.com"))
        assert fake.request_count("create_custom_order") == 0


# --------------------------------------------------------------------------- real crashes


async def test_sigkill_after_the_request_left_reconciles_to_applied(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        # the purchase is applied, its answer held forever: the process dies waiting for it
        fake.faults.add("delay", after=True, seconds=math.inf, operation="create_custom_order")
        proc = await start_worker(worker_cfg(fake, path, tag="crash-1", domain="crash-one.com"))

        async def applied() -> bool:
            return fake.applied_count("create_custom_order") == 1

        await wait_for(applied, "the purchase to be applied")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        # a restarted job, with the same journal
        journal = SQLitePurchaseJournal(path)
        (before,) = await journal.entries()
        assert before.state == "pending" and before.sent_at is not None
        async with client_of(fake, journal) as client:
            (result,) = await client.reconcile_pending()
            assert result.state == "applied" and result.order_id
            with pytest.raises(DuplicatePurchaseError):
                await client.create_custom_order(
                    provider="buy", body=custom_body("crash-one.com", "crash-1")
                )
        assert fake.applied_count("create_custom_order") == 1
        details = [r for r in fake.requests if r.operation_id == "create_custom_order"]
        assert len(details) == 1


async def test_sigkill_before_the_request_left_is_not_applied_without_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "early.db"
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        # 1 request per 10 s: after one read the spend waits in the limiter
        proc = await start_worker(
            worker_cfg(fake, path, tag="early-1", domain="early-one.com", rate=0.1, pre_calls=1)
        )
        journal = SQLitePurchaseJournal(path)

        async def claimed() -> bool:
            try:
                return len(await journal.entries()) == 1
            except JournalUnavailableError:
                return False

        await wait_for(claimed, "the spend to be journaled")
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert fake.request_count("create_custom_order") == 0
        reads_before = len(fake.requests)
        async with client_of(fake, journal) as client:
            (result,) = await client.reconcile_pending()
        assert result.state == "not_applied" and "never sent" in result.evidence
        assert len(fake.requests) == reads_before  # resolved with no API read
        (entry,) = await journal.entries()
        assert entry.state == "not_applied"


async def test_two_processes_one_tag_one_request(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        SQLitePurchaseJournal(path)
        cfgs = [worker_cfg(fake, path, tag="race-1", domain="race-one.com") for _ in range(4)]
        procs = [await start_worker(cfg) for cfg in cfgs]
        results = []
        for proc in procs:
            out, err = await asyncio.wait_for(proc.communicate(), HANG)
            assert proc.returncode == 0, err.decode()
            results.append(json.loads(out.decode().strip().splitlines()[-1])["result"])
        assert sorted(results) == ["applied", "duplicate", "duplicate", "duplicate"]
        assert fake.request_count("create_custom_order") == 1


# --------------------------------------------------------------------------- reconciliation


async def test_reconciliation_waits_out_delayed_visibility(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0, visibility_delay=1.0) as fake:
        fake.faults.add("reset_after", operation="create_custom_order")
        async with client_of(fake, journal, settle_window=30.0) as client:
            with pytest.raises(OutcomeUnknownError) as info:
                await client.create_custom_order(provider="buy", body=custom_body("late-1.com"))
            early = await client.reconcile(info.value.entry)
            assert early.state == "unknown" and early.conclusive_at is not None
            await asyncio.sleep(1.2)
            late = await client.reconcile(info.value.entry)
            assert late.state == "applied" and late.order_id


async def test_absence_past_the_settle_window_is_not_applied(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        # processed? no: the fault answers 502 without applying; the SDK cannot know that
        fake.faults.add("html_error", status=502, operation="create_custom_order")
        async with client_of(fake, journal, settle_window=0.0) as client:
            with pytest.raises(OutcomeUnknownError) as info:
                await client.create_custom_order(provider="buy", body=custom_body("gone-1.com"))
            result = await client.reconcile(info.value.entry)
        assert result.state == "not_applied"
        assert fake.applied_count("create_custom_order") == 0


@pytest.mark.parametrize("skew", [-90.0, 90.0])
async def test_reconciliation_allows_for_clock_skew(tmp_path: Path, skew: float) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0, clock_skew=skew) as fake:
        fake.faults.add("reset_after", operation="create_custom_order")
        async with client_of(fake, journal, clock_skew=120.0) as client:
            with pytest.raises(OutcomeUnknownError) as info:
                await client.create_custom_order(provider="buy", body=custom_body("skew-1.com"))
            result = await client.reconcile(info.value.entry)
        assert result.state == "applied"


async def test_reconciliation_reads_only_the_orders_since_the_attempt(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        async with client_of(fake, journal) as client:
            for i in range(30):  # 30 earlier orders of this account
                await client.create_custom_order(
                    provider="buy", body=custom_body(f"many-{i}.com"), allow_duplicate=True
                )
            await asyncio.sleep(1.1)  # the server's timestamps have millisecond resolution
            fake.faults.add("reset_after", operation="create_custom_order")
            with pytest.raises(OutcomeUnknownError) as info:
                await client.create_custom_order(provider="buy", body=custom_body("many-x.com"))
            reads = Reads(client)
            from scaledmail_async._reconcile import reconcile_entry

            result = await reconcile_entry(
                client, info.value.entry, reads, settle_window=60.0, clock_skew=0.5
            )
        assert result.state == "applied"
        assert reads.requests == 2  # the list, and the one order created since the attempt


async def test_a_tag_without_a_journal_is_searched(tmp_path: Path) -> None:
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        async with client_of(fake, None) as client:
            await client.create_custom_order(provider="buy", body=custom_body("nj-1.com", "nj-1"))
            assert (await client.reconcile("nj-1")).state == "applied"
            assert (await client.reconcile("never-used")).state == "unknown"


# --------------------------------------------------------------------------- exactly once


async def test_exactly_once_returns_the_purchase_found(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        fake.faults.add("reset_after", operation="create_custom_order")
        async with client_of(fake, journal) as client:
            answer = await client.create_custom_order(
                provider="buy", body=custom_body("eo-1.com", "eo-1"), exactly_once=True
            )
        assert answer.id and answer.additional_properties["reconciled"] is True
        assert fake.applied_count("create_custom_order") == 1


async def test_exactly_once_resends_only_when_provably_absent(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        fake.faults.add("html_error", status=502, operation="create_custom_order")
        async with client_of(fake, journal, settle_window=0.5) as client:
            answer = await client.create_custom_order(
                provider="buy", body=custom_body("eo-2.com", "eo-2"), exactly_once=True
            )
        assert answer.id
        assert fake.request_count("create_custom_order") == 2
        assert fake.applied_count("create_custom_order") == 1
    states = [e.state for e in await journal.entries()]
    assert states == ["not_applied", "applied"]


async def test_exactly_once_gives_up_at_the_deadline_with_the_entry(tmp_path: Path) -> None:
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        fake.faults.add("html_error", status=502, operation="create_custom_order")
        async with client_of(fake, journal, settle_window=600.0) as client:
            with pytest.raises(OutcomeUnknownError) as info:
                await client.create_custom_order(
                    provider="buy",
                    body=custom_body("eo-3.com", "eo-3"),
                    exactly_once=True,
                    deadline=1.0,
                )
        assert info.value.entry is not None and info.value.entry.state == "unknown"
        assert fake.request_count("create_custom_order") == 1


def test_fingerprint_and_key_id_hide_the_secrets() -> None:
    a = fingerprint("sk_live_A", "buy_pre_warm_inboxes", {"sequencer": {"password": "pw"}})
    b = fingerprint("sk_live_A", "buy_pre_warm_inboxes", {"sequencer": {"password": "pw2"}})
    c = fingerprint("sk_live_B", "buy_pre_warm_inboxes", {"sequencer": {"password": "pw"}})
    assert len({a, b, c}) == 3 and "pw" not in a
    assert "sk_live_A" not in key_id("sk_live_A")
    entry = new_entry(
        operation="buy_domains",
        tag=None,
        domains=["x.com"],
        fingerprint=a,
        key_id=key_id("k"),
        organization_id=None,
    )
    assert entry.evidence == ("domain:x.com",)


async def test_the_environment_variable_sets_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALEDMAIL_JOURNAL", str(tmp_path / "env.db"))
    client = ScaledmailClient("sk_test_env")
    assert isinstance(client.journal, SQLitePurchaseJournal)
    assert client.journal.path == tmp_path / "env.db"
    await client.aclose()


async def test_an_entry_without_a_journal_is_searched_by_its_own_evidence() -> None:
    # A buy_domains entry reconciled by a client without a journal is looked for in the
    # purchased domains (its x-reconcile), not by a tag it never had.
    async with FakeScaledmail(rate_limit=None, critical_limit=None, taken_ratio=0.0) as fake:
        async with client_of(fake, None) as client:
            await client.buy_domains(body={"domains": ["evidence-by-domain.com"]})
            entry = new_entry(
                operation="buy_domains",
                tag=None,
                domains=["evidence-by-domain.com"],
                fingerprint="f" * 64,
                key_id=key_id(fake.api_key),
                organization_id=fake.organization_id,
            )
            found = await client.reconcile(entry)
        assert found.state == "applied" and "evidence-by-domain.com" in found.evidence
