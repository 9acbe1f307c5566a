"""The fault matrix's journal column: every spending operation x every fault kind, with a
purchase journal, then ``reconcile_pending()`` as a restarted job would run it.

For each cell the journal's final state must agree with what the server applied: ``applied``
exactly when the fake applied the purchase (once), ``not_applied`` when it did not; no entry is
left ``pending`` or ``unknown`` (the settle window is 0 here: absence is conclusive at once, so
reconciliation must decide), and no purchase is ever applied twice. Run with ``-s`` for the
summary line.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import BlockedAcceptServer, SleepRecorder, free_port, new_key
from test_fault_matrix import CASES, FaultCase

from scaledmail_async import ScaledmailClient, ScaledmailError, SQLitePurchaseJournal
from scaledmail_async.models import CreateCustomOrderBody, DomainSpecDict
from scaledmail_async.testing import FakeScaledmail

_names = itertools.count()

Spend = Callable[[ScaledmailClient, FakeScaledmail, int], Any]


def _custom(client: ScaledmailClient, fake: FakeScaledmail, n: int) -> Any:
    body: CreateCustomOrderBody = {
        "tag": f"jm-c{n}",
        "providers": {
            "google": {
                "domains": [{"domain": f"jmcell{n}.com", "first_name": "Lea", "last_name": "Moss"}]
            }
        },
    }
    return client.create_custom_order(provider="buy", body=body)


def _order(client: ScaledmailClient, fake: FakeScaledmail, n: int) -> Any:
    package = next(p for p in fake.state.packages if p.provider == "google")
    domains: list[DomainSpecDict] = [
        {"domain": f"jmorder{n}x{i}.com", "first_name": "Lea", "last_name": "Moss"}
        for i in range(package.domains)
    ]
    return client.create_order(
        package.id, provider="scaledmail", body={"tag": f"jm-o{n}", "domains": domains}
    )


def _domains(client: ScaledmailClient, fake: FakeScaledmail, n: int) -> Any:
    return client.buy_domains(body={"domains": [f"jmbuy{n}.com"]})


def _prewarm(client: ScaledmailClient, fake: FakeScaledmail, n: int) -> Any:
    item = fake.state.pre_warm[0]
    return client.buy_pre_warm_inboxes(
        body={
            "tag": f"jm-p{n}",
            "domains": [{"id": item.id, "domain": item.domain}],
            "sequencer": {
                "provider": "instantly",
                "username": "ops",
                "password": "pw",
                "link": "https://app.example/seq",
            },
        }
    )


SPENDS: dict[str, Spend] = {
    "create_custom_order": _custom,
    "create_order": _order,
    "buy_domains": _domains,
    "buy_pre_warm_inboxes": _prewarm,
}

_SUMMARY: dict[str, int] = {"cells": 0, "applied": 0, "not_applied": 0, "double": 0}


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    print(
        f"\njournal matrix: {_SUMMARY['cells']} cells, {_SUMMARY['applied']} applied, "
        f"{_SUMMARY['not_applied']} not applied, double purchases: {_SUMMARY['double']}, "
        "purchases missing from the journal: 0"
    )


@pytest.mark.parametrize("operation", sorted(SPENDS))
@pytest.mark.parametrize("case", CASES, ids=[c.name.replace(" ", "_") for c in CASES])
async def test_journal_agrees_with_the_server(
    case: FaultCase, operation: str, tmp_path: Path
) -> None:
    n = next(_names)
    journal = SQLitePurchaseJournal(tmp_path / "matrix.db")
    async with FakeScaledmail(
        api_key=new_key("JMATRIX"), rate_limits_enabled=False, taken_ratio=0.0
    ) as fake:
        base_url = fake.base_url
        blocked: BlockedAcceptServer | None = None
        if case.kind == "refused":
            base_url = f"http://127.0.0.1:{free_port()}/api/v1"
        elif case.kind == "connect_timeout":
            blocked = BlockedAcceptServer()
            blocked.fill()
            base_url = f"http://127.0.0.1:{blocked.port}/api/v1"
        else:
            params = dict(case.params)
            if case.kind == "unable_to_charge" and operation not in (
                "create_custom_order",
                "create_order",
            ):
                pytest.skip("only the order operations can be 'unable to charge'")
            fake.faults.add(case.kind, operation=operation, **params)
        options: dict[str, Any] = {
            "max_retries": 3,
            "timeout": 0.5,
            "connect_timeout": 0.05,
            "rate_limit": None,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "sleep": SleepRecorder(),
            "settle_window": 0.0,
        }
        try:
            async with ScaledmailClient(
                fake.api_key,
                base_url=base_url,
                organization_id=fake.organization_id,
                journal=journal,
                **options,
            ) as client:
                try:
                    await SPENDS[operation](client, fake, n)
                except ScaledmailError:
                    pass
        finally:
            if blocked is not None:
                blocked.close()
        # the restarted job: reconcile against the real server
        async with ScaledmailClient(
            fake.api_key,
            base_url=fake.base_url,
            organization_id=fake.organization_id,
            journal=journal,
            rate_limit=None,
            settle_window=0.0,
        ) as client:
            await client.reconcile_pending()
        applied = fake.applied_count(operation)
    (entry,) = await journal.entries()
    assert applied <= 1
    assert entry.state in ("applied", "not_applied"), (case.name, operation, entry)
    assert (entry.state == "applied") == (applied == 1), (case.name, operation, entry, applied)
    _SUMMARY["cells"] += 1
    _SUMMARY[entry.state] += 1
