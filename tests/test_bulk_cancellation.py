"""Cancellation keeps what was done (issue 17, item 5).

A bulk helper cancelled mid-batch (``task.cancel()``, ``asyncio.timeout``, a ``TaskGroup``,
Ctrl-C under ``asyncio.run``) delivers every finished item: through ``on_result``, through its
iterator, and on the exception (``exc.partial``, read by ``partial_results``), which stays the
plain ``CancelledError``. Each spend cut off after its request was sent is logged at WARNING with
its operation and tag, and its journal entry stays ``pending`` for reconciliation.

Real servers only: a local aiohttp app of this file whose chosen requests hang until the test
ends, the embedded fake (with its ``delay`` fault holding a spend's answer after applying it),
a real SQLite journal, and a real Python process interrupted with SIGINT. No test asserts a
wall-clock duration; every wait is bounded by a generous ``HANG``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from threaded_fake import ThreadedFake

from scaledmail_async import ScaledmailClient, SQLitePurchaseJournal
from scaledmail_async._converter import unstructure
from scaledmail_async._limiter import RateLimiter
from scaledmail_async.bulk import (
    DomainSearchResults,
    Inventory,
    PollEvent,
    PollSummary,
    Result,
    inventory,
    iter_suggested_domains,
    map_concurrent,
    partial_results,
    poll_orders,
    search_domains_all,
    update_redirects,
)
from scaledmail_async.models import (
    CreateCustomOrderBody,
    OrderDetails,
    OrderDomain,
    OrderPackage,
)
from scaledmail_async.testing import FakeScaledmail

StartServer = Callable[[web.Application], Awaitable[str]]

#: The bound of every wait (never reached when things work; no duration is asserted).
HANG = 60.0
ORG = "rec0rganization01"


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(int(HANG / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def custom_body(tag: str) -> CreateCustomOrderBody:
    return {
        "providers": {
            "google": {
                "domains": [{"domain": f"{tag}.com", "first_name": "Ada", "last_name": "Ng"}]
            }
        },
        "tag": tag,
    }


def _details(order_id: str) -> dict[str, Any]:
    details = OrderDetails(
        id=order_id,
        status="Active",
        packages=[
            OrderPackage(
                id=f"pk-{order_id}",
                status="Active",
                domains=[OrderDomain(id=f"dm-{order_id}", name=f"{order_id}.com", status="Active")],
            )
        ],
    )
    return dict(unstructure(details))


class Shop:
    """A local Scaledmail-shaped API: every request answers at once, except the ones whose key
    (a tag, an order id, a domain, a page) is in ``hang``: those are held until the test ends.
    ``held`` lists the keys of the requests being held, in arrival order."""

    def __init__(self) -> None:
        self.hang: set[str] = set()
        self.held: list[str] = []
        self.release = asyncio.Event()
        self.url = ""

    async def _maybe_hold(self, key: str) -> None:
        if key in self.hang:
            self.held.append(key)
            await self.release.wait()

    async def create_custom_order(self, request: web.Request) -> web.Response:
        tag = (await request.json())["tag"]
        await self._maybe_hold(tag)
        return web.json_response({"payment_id": f"pay-{tag}", "tag": tag})

    async def buy_domains(self, request: web.Request) -> web.Response:
        domains = (await request.json())["domains"]
        for name in domains:
            await self._maybe_hold(name)
        return web.json_response({"success": True, "domains": domains})

    async def order_details(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        await self._maybe_hold(order_id)
        return web.json_response(_details(order_id))

    async def suggest_domains(self, request: web.Request) -> web.Response:
        page = int(request.query["page"])
        await self._maybe_hold(f"page-{page}")
        items = [{"domain": f"idea{page}-{i}.com", "status": "available"} for i in range(3)]
        return web.json_response(
            {"domains": items, "total": 9, "page": page, "limit": 3, "total_pages": 3}
        )

    async def search_domains(self, request: web.Request) -> web.Response:
        names: list[str] = (await request.json())["domains"]
        for name in names:
            await self._maybe_hold(name)
        # The server gives no result for "fast9.com" (it shows in ``missing``).
        return web.json_response(
            [{"domain": n, "status": "available"} for n in names if n != "fast9.com"]
        )

    async def swap_redirect(self, request: web.Request) -> web.Response:
        domain = request.match_info["domain"]
        await self._maybe_hold(domain)
        return web.json_response({"success": True, "message": f"{domain} redirected"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/create-custom-order", self.create_custom_order)
        app.router.add_post("/api/v1/buy-domains", self.buy_domains)
        app.router.add_get("/api/v1/orders/{order_id}", self.order_details)
        app.router.add_post("/api/v1/suggest-domains", self.suggest_domains)
        app.router.add_post("/api/v1/search-domains", self.search_domains)
        app.router.add_post("/api/v1/swap-redirect/{domain}", self.swap_redirect)
        return app


@pytest.fixture
async def shop(serve: StartServer) -> AsyncIterator[Shop]:
    served = Shop()
    served.url = await serve(served.app())
    yield served
    served.release.set()  # the held handlers end before the server closes


def client_of(base_url: str, api_key: str, **options: Any) -> ScaledmailClient:
    options.setdefault("rate_limit", None)
    options.setdefault("max_retries", 0)
    options.setdefault("organization_id", ORG)
    return ScaledmailClient(api_key, base_url=base_url, **options)


def cut_off_warnings(caplog: pytest.LogCaptureFixture, operation: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "scaledmail_async"
        and r.levelno == logging.WARNING
        and operation in r.getMessage()
    ]


def field(record: logging.LogRecord, name: str) -> Any:
    """A structured field the SDK put on a log record (``extra=``), or ``None``."""
    return record.__dict__.get(name)


def assert_names_how_to_reconcile(record: logging.LogRecord, operation: str, key: str) -> None:
    text = record.getMessage()
    assert operation in text and key in text, text
    assert "UNKNOWN" in text, text
    assert "reconcile" in text and "scaledmail purchases reconcile" in text, text


ITEMS = ["ok-0", "hang-a", "ok-1", "ok-2", "hang-b", "ok-3", "ok-4"]
OK = [t for t in ITEMS if t.startswith("ok-")]
HUNG = [t for t in ITEMS if t.startswith("hang-")]


# --------------------------------------------------------------------------------------------
# map_concurrent: the callback, the exception, the warning per spend in flight
# --------------------------------------------------------------------------------------------


async def test_cancelled_map_concurrent_delivers_every_finished_item(
    shop: Shop, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scaledmail_async")
    shop.hang.update(HUNG)
    seen: list[Result[str, Any]] = []
    async with client_of(shop.url, api_key) as client:

        async def buy(tag: str) -> Any:
            return await client.create_custom_order(provider="buy", body=custom_body(tag))

        task = asyncio.create_task(
            map_concurrent(buy, ITEMS, concurrency=len(ITEMS), on_result=seen.append)
        )
        await wait_until(lambda: len(seen) == len(OK) and len(shop.held) == 2, "5 done, 2 held")
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert task.cancelled()
    exc = info.value
    assert type(exc) is asyncio.CancelledError  # the cancellation itself, not a stand-in
    # The callback saw each finished item once, as it finished.
    assert sorted(r.item for r in seen) == sorted(OK)
    # The exception carries them, in input order, with their values.
    done = partial_results(exc)
    assert exc.partial is done  # type: ignore[attr-defined]
    assert [r.item for r in done] == OK
    assert [r.unwrap().payment_id for r in done] == [f"pay-{t}" for t in OK]
    # One WARNING per spend cut off mid-request, naming it and how to reconcile it.
    warned = cut_off_warnings(caplog, "create_custom_order")
    assert sorted(str(field(r, "scaledmail_tag")) for r in warned) == sorted(HUNG)
    for record in warned:
        assert field(record, "scaledmail_operation") == "create_custom_order"
        assert_names_how_to_reconcile(
            record, "create_custom_order", field(record, "scaledmail_tag")
        )


async def test_asyncio_timeout_still_raises_timeout_error_with_the_partial(
    shop: Shop, api_key: str
) -> None:
    shop.hang.update(HUNG)
    seen: list[Result[str, Any]] = []
    async with client_of(shop.url, api_key) as client:

        async def buy(tag: str) -> Any:
            return await client.create_custom_order(provider="buy", body=custom_body(tag))

        cm = asyncio.timeout(None)

        async def expire_when_ready() -> None:
            await wait_until(lambda: len(seen) == len(OK) and len(shop.held) == 2, "5 done")
            cm.reschedule(asyncio.get_running_loop().time())

        trigger = asyncio.create_task(expire_when_ready())
        with pytest.raises(TimeoutError) as info:
            async with cm:
                await map_concurrent(buy, ITEMS, concurrency=len(ITEMS), on_result=seen.append)
        await trigger
    # asyncio.timeout recognised its own cancellation: TimeoutError, and the task is not left
    # cancelling; the finished items hang off the TimeoutError's cause.
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0
    assert [r.item for r in partial_results(info.value)] == OK


async def test_a_task_group_sees_only_the_real_error(shop: Shop, api_key: str) -> None:
    shop.hang.update(HUNG)
    seen: list[Result[str, Any]] = []
    async with client_of(shop.url, api_key) as client:

        async def buy(tag: str) -> Any:
            return await client.create_custom_order(provider="buy", body=custom_body(tag))

        async def fail_when_ready() -> None:
            await wait_until(lambda: len(seen) == len(OK) and len(shop.held) == 2, "5 done")
            raise RuntimeError("a sibling failed")

        with pytest.raises(ExceptionGroup) as info:
            async with asyncio.TaskGroup() as group:
                group.create_task(
                    map_concurrent(buy, ITEMS, concurrency=len(ITEMS), on_result=seen.append)
                )
                group.create_task(fail_when_ready())
    # The helper's cancellation is a cancellation to the TaskGroup, not an error of its own.
    assert [type(e) for e in info.value.exceptions] == [RuntimeError]
    assert sorted(r.item for r in seen) == sorted(OK)


async def test_ctrl_c_under_asyncio_run_leaves_the_partial_on_the_keyboard_interrupt() -> None:
    # asyncio.run answers SIGINT by cancelling the main task, then raises KeyboardInterrupt from
    # that CancelledError: partial_results follows the link (tested for real in the subprocess
    # test below; here the shape of the chain, without a signal).
    cancelled = asyncio.CancelledError()
    cancelled.partial = ["done"]  # type: ignore[attr-defined]
    try:
        try:
            raise cancelled
        except asyncio.CancelledError:
            raise KeyboardInterrupt()  # noqa: B904 - exactly what asyncio.Runner.run does
    except KeyboardInterrupt as interrupt:
        assert partial_results(interrupt) == ["done"]
    assert partial_results(None) is None
    assert partial_results(ValueError("no helper")) is None


# --------------------------------------------------------------------------------------------
# The other helpers
# --------------------------------------------------------------------------------------------


async def test_update_redirects_cancelled_keeps_the_finished_domains(
    shop: Shop, api_key: str
) -> None:
    shop.hang.add("slow.com")
    redirects = {"a.com": "https://a.example", "slow.com": "", "b.com": "https://b.example"}
    seen: list[Result[str, Any]] = []
    async with client_of(shop.url, api_key) as client:
        task = asyncio.create_task(
            update_redirects(client, redirects, concurrency=3, on_result=seen.append)
        )
        await wait_until(lambda: len(seen) == 2 and shop.held == ["slow.com"], "2 done, 1 held")
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert type(info.value) is asyncio.CancelledError
    assert [r.item for r in partial_results(info.value)] == ["a.com", "b.com"]
    assert sorted(r.item for r in seen) == ["a.com", "b.com"]


async def test_iter_suggested_domains_cancelled_keeps_what_it_yielded(
    shop: Shop, api_key: str
) -> None:
    shop.hang.add("page-2")
    got: list[str] = []
    async with client_of(shop.url, api_key) as client:

        async def consume() -> None:
            async for item in iter_suggested_domains(client, "idea", limit=3):
                got.append(item.domain)

        task = asyncio.create_task(consume())
        await wait_until(lambda: len(got) == 3 and shop.held == ["page-2"], "page 1, page 2 held")
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert type(info.value) is asyncio.CancelledError
    assert got == ["idea1-0.com", "idea1-1.com", "idea1-2.com"]
    assert [d.domain for d in partial_results(info.value)] == got


async def test_search_domains_all_cancelled_keeps_the_answered_batches(
    shop: Shop, api_key: str
) -> None:
    fast = [f"fast{i}.com" for i in range(10)]
    slow = [f"slow{i}.com" for i in range(5)]
    shop.hang.add("slow0.com")
    async with client_of(shop.url, api_key) as client:
        task = asyncio.create_task(search_domains_all(client, fast + slow))
        await wait_until(lambda: shop.held == ["slow0.com"], "the second batch held")
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert type(info.value) is asyncio.CancelledError
    partial = partial_results(info.value)
    assert isinstance(partial, DomainSearchResults)
    assert [d.domain for d in partial] == fast[:9]
    assert partial.missing == ["fast9.com"]
    assert partial.not_searched == slow


async def test_inventory_cancelled_keeps_every_finished_call(api_key: str) -> None:
    progress: list[tuple[int, int]] = []
    async with FakeScaledmail(rate_limits_enabled=False) as fake:
        async with client_of(fake.base_url, fake.api_key, organization_id=None) as client:
            full_progress: list[tuple[int, int]] = []
            # What a whole walk finds, for comparison.
            full = await inventory(client, on_progress=lambda d, t: full_progress.append((d, t)))
            calls = full_progress[-1][1]
            # The first mailbox listing to arrive is held; every other call answers.
            fake.faults.add("delay", seconds=math.inf, operation="get_mailboxes_by_domain_id")
            task = asyncio.create_task(
                inventory(client, on_progress=lambda d, t: progress.append((d, t)))
            )
            await wait_until(
                lambda: bool(progress) and progress[-1] == (calls - 1, calls),
                "every call but the held one",
            )
            task.cancel()
            with pytest.raises(asyncio.CancelledError) as info:
                await task
    assert type(info.value) is asyncio.CancelledError
    partial = partial_results(info.value)
    assert isinstance(partial, Inventory)
    assert len(partial.organizations) == len(full.organizations) == 2
    assert partial.domains == full.domains and partial.purchased_domains.keys() == {
        o.id for o in full.organizations
    }
    assert len(partial.mailboxes) == len(full.mailboxes) - 1  # all but the held domain's
    assert partial.mailboxes.items() <= full.mailboxes.items()


async def test_poll_orders_cancelled_while_waiting_keeps_the_summary(
    shop: Shop, api_key: str
) -> None:
    fast = ["fast-1", "fast-2", "fast-3"]
    shop.hang.add("slow-1")
    events: list[PollEvent] = []
    holder: dict[str, Any] = {}
    async with client_of(shop.url, api_key) as client:

        async def consume() -> None:
            async with poll_orders(client, [*fast, "slow-1"], interval=0, timeout=None) as poller:
                holder["poller"] = poller
                async for event in poller:
                    events.append(event)

        task = asyncio.create_task(consume())
        await wait_until(lambda: len(events) == 3 and shop.held == ["slow-1"], "3 done, 1 held")
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert type(info.value) is asyncio.CancelledError
    assert sorted(e.order_id for e in events if e.done) == fast
    summary = partial_results(info.value)
    assert isinstance(summary, PollSummary)
    assert sorted(summary.completed) == fast and summary.pending == ["slow-1"]
    assert summary.undelivered == [] and holder["poller"].undelivered == []


async def test_poll_orders_cancelled_in_the_body_keeps_the_events_not_yielded(
    shop: Shop, api_key: str
) -> None:
    fast = ["fast-1", "fast-2", "fast-3"]
    shop.hang.add("slow-1")
    events: list[PollEvent] = []
    holder: dict[str, Any] = {}
    never = asyncio.Event()
    async with client_of(shop.url, api_key) as client:

        async def consume() -> None:
            async with poll_orders(client, [*fast, "slow-1"], interval=0, timeout=None) as poller:
                holder["poller"] = poller
                async for event in poller:
                    events.append(event)
                    await never.wait()  # a slow consumer: the other events wait in the buffer

        task = asyncio.create_task(consume())
        await wait_until(
            lambda: (
                "poller" in holder
                and len(holder["poller"].completed) == 3
                and shop.held == ["slow-1"]
            ),
            "3 done, 1 held",
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert type(info.value) is asyncio.CancelledError
    poller = holder["poller"]
    assert len(events) == 1
    # Every done order's event was either yielded or kept as undelivered: none is lost.
    assert sorted(e.order_id for e in events + poller.undelivered if e.done) == fast
    summary = partial_results(info.value)
    assert isinstance(summary, PollSummary)
    assert summary.undelivered == poller.undelivered
    assert sorted(summary.completed) == fast and summary.pending == ["slow-1"]


# --------------------------------------------------------------------------------------------
# Spends cut off: the warning, the journal, the limiter
# --------------------------------------------------------------------------------------------


async def test_a_cut_off_spend_without_a_journal_or_tag_names_its_domains(
    shop: Shop, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scaledmail_async")
    shop.hang.add("held-1.com")
    async with client_of(shop.url, api_key) as client:
        task = asyncio.create_task(client.buy_domains(body={"domains": ["held-1.com"]}))
        await wait_until(lambda: shop.held == ["held-1.com"], "the purchase held")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (record,) = cut_off_warnings(caplog, "buy_domains")
    text = record.getMessage()
    assert "held-1.com" in text and "UNKNOWN" in text and "get_purchased_domains" in text


class GatedLimiter(RateLimiter):
    """Grants the first ``free`` requests at once; every later one waits until cancelled."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.waiting = 0

    async def acquire(self, group: str | None = None, *, timeout: float | None = None) -> float:  # noqa: ASYNC109
        if self.free > 0:
            self.free -= 1
            return 0.0
        self.waiting += 1
        await asyncio.Event().wait()
        return 0.0  # pragma: no cover - never granted

    def report_rate_limited(self, group: str | None, retry_after: float | None) -> float:
        return 0.0


async def test_a_spend_still_waiting_for_the_limiter_is_not_warned_and_not_applied(
    shop: Shop, api_key: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.WARNING, logger="scaledmail_async")
    tags = ["hang-a", "hang-b"]
    shop.hang.update(tags)
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    limiter = GatedLimiter(free=1)  # whichever spend asks first is sent; the other one waits
    async with client_of(shop.url, api_key, limiter=limiter, journal=journal) as client:

        async def buy(tag: str) -> Any:
            return await client.create_custom_order(provider="buy", body=custom_body(tag))

        task = asyncio.create_task(map_concurrent(buy, tags, concurrency=2))
        await wait_until(lambda: len(shop.held) == 1 and limiter.waiting == 1, "one each")
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert partial_results(info.value) == []
    (sent,) = shop.held
    (queued,) = set(tags) - {sent}
    # Only the spend whose request left is announced; the queued one provably sent nothing.
    warned = cut_off_warnings(caplog, "create_custom_order")
    assert [field(r, "scaledmail_tag") for r in warned] == [sent]
    by_tag = {e.tag: e for e in await journal.entries()}
    assert by_tag[sent].state == "pending" and by_tag[sent].sent_at is not None
    assert by_tag[queued].state == "not_applied" and by_tag[queued].sent_at is None


async def test_journaled_spends_cut_off_stay_pending_and_reconcile(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scaledmail_async")
    journal = SQLitePurchaseJournal(tmp_path / "p.db")
    tags = [f"jr-{i}" for i in range(7)]
    seen: list[Result[str, Any]] = []
    async with FakeScaledmail(rate_limit=None, taken_ratio=0.0) as fake:
        # The first two purchases to arrive are applied, then their answers are held.
        fake.faults.add(
            "delay", count=2, after=True, seconds=math.inf, operation="create_custom_order"
        )
        async with client_of(
            fake.base_url, fake.api_key, organization_id=fake.organization_id, journal=journal
        ) as client:

            async def buy(tag: str) -> Any:
                return await client.create_custom_order(provider="buy", body=custom_body(tag))

            task = asyncio.create_task(
                map_concurrent(buy, tags, concurrency=len(tags), on_result=seen.append)
            )
            await wait_until(
                lambda: len(seen) == 5 and fake.applied_count("create_custom_order") == 7,
                "5 answered, 2 applied and held",
            )
            task.cancel()
            with pytest.raises(asyncio.CancelledError) as info:
                await task
            finished = sorted(r.item for r in partial_results(info.value))
            assert finished == sorted(r.item for r in seen)
            cut_off = sorted(set(tags) - set(finished))
            assert len(cut_off) == 2

            entries = {e.tag: e for e in await journal.entries()}
            assert {t for t, e in entries.items() if e.state == "applied"} == set(finished)
            for tag in cut_off:  # journaled, sent, not resolved: what reconciliation is for
                assert entries[tag].state == "pending" and entries[tag].sent_at is not None
            warned = cut_off_warnings(caplog, "create_custom_order")
            assert sorted(str(field(r, "scaledmail_tag")) for r in warned) == cut_off
            for record in warned:
                entry = entries[field(record, "scaledmail_tag")]
                assert field(record, "scaledmail_journal_entry") == entry.id
                assert_names_how_to_reconcile(record, "create_custom_order", entry.id)

            outcomes = await client.reconcile_pending()
            assert sorted((o.entry.tag, o.state) for o in outcomes if o.entry) == [
                (t, "applied") for t in cut_off
            ]
    assert {e.state for e in await journal.entries()} == {"applied"}


# --------------------------------------------------------------------------------------------
# Ctrl-C for real: a Python program running map_concurrent, interrupted with SIGINT
# --------------------------------------------------------------------------------------------

PROGRAM = r"""
import asyncio
import json
import sys

from scaledmail_async import ScaledmailClient, SQLitePurchaseJournal
from scaledmail_async.bulk import map_concurrent, partial_results

base_url, api_key, org, journal_path = sys.argv[1:5]
TAGS = [f"sig-{i}" for i in range(7)]


def body(tag):
    domain = {"domain": f"{tag}.com", "first_name": "Ada", "last_name": "Ng"}
    return {"providers": {"google": {"domains": [domain]}}, "tag": tag}


def report(where, results):
    print(where, json.dumps(sorted(r.item for r in results)), flush=True)


async def main():
    journal = SQLitePurchaseJournal(journal_path)
    async with ScaledmailClient(
        api_key, base_url=base_url, organization_id=org, rate_limit=None, max_retries=0,
        journal=journal,
    ) as client:

        async def buy(tag):
            return await client.create_custom_order(provider="buy", body=body(tag))

        def finished(result):
            print("finished", result.item, flush=True)

        try:
            await map_concurrent(buy, TAGS, concurrency=len(TAGS), on_result=finished)
        except asyncio.CancelledError as exc:
            report("report-in-main", partial_results(exc))
            raise
    print("not interrupted", flush=True)


try:
    asyncio.run(main())
except KeyboardInterrupt as exc:
    report("report-after-run", partial_results(exc))
    sys.exit(130)
"""


def test_sigint_during_map_concurrent_reports_the_finished_items(tmp_path: Path) -> None:
    program = tmp_path / "bulk_job.py"
    program.write_text(PROGRAM)
    db = tmp_path / "p.db"
    served = ThreadedFake(rate_limit=None, taken_ratio=0.0)
    proc: subprocess.Popen[str] | None = None
    try:
        fake = served.fake
        served.call(
            lambda: fake.faults.add(
                "delay", count=2, after=True, seconds=math.inf, operation="create_custom_order"
            )
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                str(program),
                fake.base_url,
                fake.api_key,
                fake.organization_id,
                str(db),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        stdout, stderr = proc.stdout, proc.stderr
        assert stdout is not None and stderr is not None
        lines: queue.Queue[str] = queue.Queue()

        def read_lines() -> None:
            for line in iter(stdout.readline, ""):
                lines.put(line)

        errors: list[str] = []
        readers = [
            threading.Thread(target=read_lines, daemon=True),
            threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True),
        ]
        for reader in readers:
            reader.start()
        finished: list[str] = []
        for _ in range(int(HANG / 0.05)):
            if len(finished) == 5:
                break
            if proc.poll() is not None:
                for reader in readers:
                    reader.join(timeout=HANG)
                raise AssertionError(f"the program exited early: {''.join(errors)}")
            try:
                line = lines.get(timeout=0.05)
            except queue.Empty:
                continue
            assert line.startswith("finished "), line
            finished.append(line.split()[1])
        else:
            raise AssertionError(f"the program reported {finished} only")
        for _ in range(int(HANG / 0.02)):  # the other two were applied and are held
            if served.call(lambda: fake.applied_count("create_custom_order")) == 7:
                break
            threading.Event().wait(0.02)
        else:
            raise AssertionError("the held purchases never reached the fake")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=HANG)
        for reader in readers:
            reader.join(timeout=HANG)
        err = "".join(errors)
        out: list[str] = []
        while not lines.empty():
            out.append(lines.get_nowait())
        assert proc.returncode == 130, (out, err)
        expected = json.dumps(sorted(finished))
        assert f"report-in-main {expected}\n" in out, (out, err)
        assert f"report-after-run {expected}\n" in out, (out, err)
        assert "not interrupted\n" not in out
        cut_off = sorted({f"sig-{i}" for i in range(7)} - set(finished))
        for tag in cut_off:  # the two spends cut off are named on stderr (a WARNING)
            (line,) = [ln for ln in err.splitlines() if f"'{tag}'" in ln]
            assert "create_custom_order" in line and "UNKNOWN" in line
            assert "scaledmail purchases reconcile" in line
        assert "Traceback" not in err, err

        async def reconcile() -> list[tuple[str | None, str]]:
            journal = SQLitePurchaseJournal(db)
            entries = await journal.entries()
            pending = sorted(e.tag or "" for e in entries if e.state == "pending")
            assert pending == cut_off
            async with client_of(
                fake.base_url,
                fake.api_key,
                organization_id=fake.organization_id,
                journal=journal,
            ) as client:
                outcomes = await client.reconcile_pending()
            return sorted((o.entry.tag if o.entry else None, o.state) for o in outcomes)

        assert asyncio.run(reconcile()) == [(t, "applied") for t in cut_off]
    finally:
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=HANG)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        served.close()
