"""The scripts of ``examples/`` run as a user runs them: as subprocesses, against the embedded fake.

Each script is run with ``--fake`` (it starts its own ``FakeScaledmail``), and where the point of
the script is what happens across runs or against a server whose state the test can read, against
a fake started here, through the environment variables the client reads
(``SCALEDMAIL_API_KEY``, ``SCALEDMAIL_BASE_URL``, ``SCALEDMAIL_ORGANIZATION_ID``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import attrs
import pytest

from scaledmail_async import ScaledmailClient, SQLitePurchaseJournal
from scaledmail_async.models import CreateCustomOrderBody, DomainSpecDict
from scaledmail_async.testing import FakeScaledmail

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
#: Every example script and the test(s) below that run it.
COVERED = {
    "order_poller.py",
    "resumable_provisioning.py",
    "service_with_bulk_job.py",
    "typed_bodies.py",
}


@attrs.frozen
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def _env(fake: FakeScaledmail | None = None) -> dict[str, str]:
    """The environment of a run: none of the caller's SCALEDMAIL_* settings; the fake's when
    given (as a user exports them, see ``scaledmail fake-server``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEDMAIL_")}
    env["PYTHONUNBUFFERED"] = "1"
    if fake is not None:
        env["SCALEDMAIL_API_KEY"] = fake.api_key
        env["SCALEDMAIL_BASE_URL"] = fake.base_url
        env["SCALEDMAIL_ORGANIZATION_ID"] = fake.organization_id
    return env


async def run_example(name: str, *args: str, cwd: Path, fake: FakeScaledmail | None = None) -> Run:
    """Run ``examples/<name>`` to its end, at most 60 s (the event loop keeps serving ``fake``
    meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / name),
        *args,
        cwd=cwd,
        env=_env(fake),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def test_every_example_is_run_here_and_listed() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == COVERED
    listed = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    docs = (ROOT / "docs" / "guide" / "examples.md").read_text(encoding="utf-8")
    for name in COVERED:
        assert name in listed, name
        assert f'--8<-- "examples/{name}"' in docs, name


# -- order_poller.py ---------------------------------------------------------------------------


async def test_order_poller_on_the_seeded_orders(tmp_path: Path) -> None:
    run = await run_example("order_poller.py", "--fake", "--interval", "0.2", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert sum("  completed  status=Active" in line for line in run.lines) == 3
    assert any("waiting for its setup form" in line for line in run.lines)
    assert run.lines[-1] == "done: 3 active, 0 cancelled, 0 failed, 0 not done"


async def test_order_poller_follows_a_new_order_until_it_is_active(tmp_path: Path) -> None:
    async with FakeScaledmail(activate_after_polls=2, rate_limit=50) as fake:
        async with ScaledmailClient(
            fake.api_key, base_url=fake.base_url, organization_id=fake.organization_id
        ) as client:
            domain: DomainSpecDict = {
                "domain": "pollerexampleone.com",
                "first_name": "Ada",
                "last_name": "Ng",
            }
            body: CreateCustomOrderBody = {
                "tag": "poller-example",
                "providers": {"google": {"domains": [domain]}},
            }
            order = await client.create_custom_order(provider="buy", body=body)
        assert order.id
        run = await run_example(
            "order_poller.py", order.id, "--interval", "0.1", cwd=tmp_path, fake=fake
        )
    assert run.returncode == 0, run.stderr
    events = [line for line in run.lines if line.startswith(order.id)]
    assert "pending    status=In Progress" in events[0]
    assert "completed  status=Active  domains active=1/1" in events[-1]
    assert run.lines[-1] == "done: 1 active, 0 cancelled, 0 failed, 0 not done"


# -- resumable_provisioning.py -----------------------------------------------------------------


async def _entries(path: Path) -> list[tuple[str, str]]:
    journal = SQLitePurchaseJournal(path)
    try:
        return [(e.operation, e.state) for e in await journal.entries()]
    finally:
        await journal.aclose()


async def test_provisioning_run_twice_buys_nothing_twice(tmp_path: Path) -> None:
    journal = tmp_path / "provisioning.db"
    args = ("--journal", str(journal), "--tag", "tide-test", "--domains", "3")
    async with FakeScaledmail() as fake:
        first = await run_example("resumable_provisioning.py", *args, cwd=tmp_path, fake=fake)
        second = await run_example("resumable_provisioning.py", *args, cwd=tmp_path, fake=fake)
        for op in ("buy_domains", "create_custom_order"):
            assert fake.request_count(op) == 1, op
            assert fake.applied_count(op) == 1, op
        assert fake.request_count("search_domains") == 1
        orders = [o for o in fake.state.orders.values() if o.tag == "tide-test"]
    assert first.returncode == 0, first.stderr
    assert any(line.startswith("bought 3 domain(s): ") for line in first.lines)
    assert first.lines[-2] == f"ordered: {orders[0].id} (tag tide-test)"
    assert first.lines[-1] == "purchases sent by this run: 2"
    assert second.returncode == 0, second.stderr
    assert second.lines == [
        f"already ordered: {orders[0].id} (tag tide-test)",
        "purchases sent by this run: 0",
    ]
    assert len(orders) == 1
    assert await _entries(journal) == [
        ("buy_domains", "applied"),
        ("create_custom_order", "applied"),
    ]


async def test_provisioning_with_its_own_fake_twice(tmp_path: Path) -> None:
    args = ("--fake", "--journal", str(tmp_path / "p.db"))
    first = await run_example("resumable_provisioning.py", *args, cwd=tmp_path)
    second = await run_example("resumable_provisioning.py", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.lines[-1] == "purchases sent by this run: 2"
    assert second.returncode == 0, second.stderr
    assert second.lines[-1] == "purchases sent by this run: 0"
    assert any(line.startswith("already ordered: rec") for line in second.lines)


async def test_provisioning_resumes_after_the_order_failed(tmp_path: Path) -> None:
    journal = tmp_path / "provisioning.db"
    args = ("--journal", str(journal), "--tag", "tide-retry")
    async with FakeScaledmail() as fake:
        fake.faults.add(
            "status", status=400, operation="create_custom_order", body={"error": "Try later"}
        )
        first = await run_example("resumable_provisioning.py", *args, cwd=tmp_path, fake=fake)
        second = await run_example("resumable_provisioning.py", *args, cwd=tmp_path, fake=fake)
        assert fake.request_count("search_domains") == 1  # the second run did not search again
        assert fake.applied_count("buy_domains") == 1
        assert fake.request_count("create_custom_order") == 2
        assert fake.applied_count("create_custom_order") == 1
    assert first.returncode == 1
    assert "Try later" in first.stderr
    assert second.returncode == 0, second.stderr
    assert second.lines[0].startswith("already bought: ")
    assert second.lines[-1] == "purchases sent by this run: 1"
    assert await _entries(journal) == [
        ("buy_domains", "applied"),
        ("create_custom_order", "not_applied"),
        ("create_custom_order", "applied"),
    ]


async def test_provisioning_finds_an_order_whose_answer_was_lost(tmp_path: Path) -> None:
    journal = tmp_path / "provisioning.db"
    async with FakeScaledmail() as fake:
        # The order is created, then the connection drops before the answer: outcome unknown.
        fake.faults.add("reset_after", operation="create_custom_order")
        run = await run_example(
            "resumable_provisioning.py", "--journal", str(journal), cwd=tmp_path, fake=fake
        )
        assert fake.request_count("create_custom_order") == 1
        assert fake.applied_count("create_custom_order") == 1
    assert run.returncode == 0, run.stderr
    assert run.lines[-2].endswith("(tag tidewater-dec) (found by reconciliation)")
    assert await _entries(journal) == [
        ("buy_domains", "applied"),
        ("create_custom_order", "applied"),
    ]


# -- service_with_bulk_job.py ------------------------------------------------------------------


async def _line(stream: asyncio.StreamReader, seen: list[str], prefix: str) -> str:
    """Read lines until one starts with ``prefix`` (every line read is kept in ``seen``)."""
    while True:
        raw = await asyncio.wait_for(stream.readline(), 30)
        assert raw, f"the service ended before printing {prefix!r}: {seen}"
        line = raw.decode().rstrip("\n")
        seen.append(line)
        if line.startswith(prefix):
            return line


async def test_service_answers_users_while_the_bulk_job_refreshes(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "service_with_bulk_job.py"),
        "--fake",
        "--port",
        "0",
        "--refresh-interval",
        "0.5",
        cwd=tmp_path,
        env=_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        url = (await _line(proc.stdout, seen, "listening on ")).removeprefix("listening on ")
        await _line(proc.stdout, seen, "refresh 1: 5/5 orders")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/organizations") as resp:
                assert resp.status == 200
                orgs = await resp.json()
            async with http.get(f"{url}/orders") as resp:
                assert resp.status == 200
                listing = await resp.json()
            order_id = listing["orders"][1]["id"]
            async with http.get(f"{url}/orders/{order_id}") as resp:
                assert resp.status == 200
                details = await resp.json()
            async with http.get(f"{url}/orders/recDoesNotExist00") as resp:
                assert resp.status == 404
            async with http.get(f"{url}/status") as resp:
                status = await resp.json()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert [o["name"] for o in orgs["organizations"]] == ["acme-outbound", "globex-growth"]
    assert len(listing["orders"]) == 5
    assert listing["refresh"]["refreshes"] >= 1
    assert details["id"] == order_id
    assert "total_domains" in details and "packages" in details  # the API's wire names
    assert status["orders"] == 5 and status["errors"] == 0
    tail = out.decode().splitlines()
    assert tail[-1] == "stopped"
    assert "stopping" in tail


# -- typed_bodies.py ---------------------------------------------------------------------------


async def test_typed_bodies(tmp_path: Path) -> None:
    run = await run_example("typed_bodies.py", "--fake", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.lines[1].startswith("30,000 emails a month: ")
    assert "tidewaterleads.com: available" in run.lines
    assert run.lines[-1] == "not an order: OrderDetails.from_dict: $.id: required field missing"


@pytest.mark.parametrize("name", sorted(COVERED))
async def test_help(name: str, tmp_path: Path) -> None:
    run = await run_example(name, "--help", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "--fake" in run.stdout
