"""Bulk helpers (issue 4): map_concurrent, poll_orders, search/suggest helpers, inventory."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest

from scaledmail_async import bulk
from scaledmail_async._client import ScaledmailClient
from scaledmail_async._types import UNSET, Unset
from scaledmail_async.bulk import (
    PollEvent,
    PollTimeout,
    Result,
    inventory,
    iter_suggested_domains,
    map_concurrent,
    order_is_active,
    poll_orders,
    search_domains_all,
    update_redirects,
)
from scaledmail_async.errors import (
    ClientClosedError,
    InternalServerError,
    NotFoundError,
    RequestValidationError,
)
from scaledmail_async.models import OrderDetails, OrderDomain, OrderPackage
from scaledmail_async.testing import FakeScaledmail
from scaledmail_async.testing._state import DomainPlan

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _details(
    order_id: str, status: str = "Active", package: str = "Active", domain: str = "Active"
) -> OrderDetails:
    return OrderDetails(
        id=order_id,
        status=status,
        packages=[
            OrderPackage(
                id=f"pk-{order_id}",
                status=package,
                domains=[OrderDomain(id=f"dm-{order_id}", name=f"{order_id}.com", status=domain)],
            )
        ],
    )


class ScriptedOrders:
    """A stand-in client: ``get_order_details`` walks a per-order script of details/exceptions
    (the last entry repeats); records every call and the in-flight maximum."""

    def __init__(
        self,
        scripts: dict[str, list[OrderDetails | Exception]] | None = None,
        *,
        default: Callable[[str], OrderDetails | Exception] | None = None,
        delay: float = 0.0,
        serial: bool = False,
    ) -> None:
        self.scripts = scripts or {}
        self.default = default
        self.delay = delay
        self.lock = asyncio.Lock() if serial else None
        self.calls: list[str] = []
        self.times: dict[str, list[float]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.kwargs: list[dict[str, Any]] = []

    async def get_order_details(self, order_id: str, **kwargs: Any) -> OrderDetails:
        self.kwargs.append(kwargs)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.lock is not None:
                async with self.lock:  # a "slow limiter": one call at a time
                    await asyncio.sleep(self.delay)
            else:
                await asyncio.sleep(self.delay)
            self.calls.append(order_id)
            self.times.setdefault(order_id, []).append(asyncio.get_running_loop().time())
            script = self.scripts.get(order_id)
            if script is not None:
                n = len(self.times[order_id]) - 1
                step = script[min(n, len(script) - 1)]
            elif self.default is not None:
                step = self.default(order_id)
            else:
                raise AssertionError(f"unexpected order {order_id}")
            if isinstance(step, Exception):
                raise step
            return step
        finally:
            self.in_flight -= 1


def _not_found(order_id: str) -> NotFoundError:
    return NotFoundError(
        "Order not found",
        status_code=404,
        method="GET",
        url=f"/orders/{order_id}",
        body={"error": "Order not found"},
    )


def _server_error() -> InternalServerError:
    return InternalServerError("boom", status_code=500, method="GET", url="/orders/x", body=None)


async def _collect(poller: AsyncIterator[PollEvent]) -> list[PollEvent]:
    return [event async for event in poller]


def _tasks() -> int:
    return len(asyncio.all_tasks())


# --------------------------------------------------------------------------------------------
# map_concurrent
# --------------------------------------------------------------------------------------------


async def test_map_concurrent_order_failures_and_bound() -> None:
    in_flight = 0
    peak = 0
    progress: list[tuple[int, int]] = []

    async def fn(n: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.001 * ((n * 7) % 5))
            if n % 4 == 0:
                raise ValueError(f"bad {n}")
            return n * 10
        finally:
            in_flight -= 1

    before = _tasks()
    results = await map_concurrent(
        fn, (i for i in range(30)), concurrency=3, on_progress=lambda d, t: progress.append((d, t))
    )
    assert _tasks() == before
    assert [r.item for r in results] == list(range(30))
    for r in results:
        if r.item % 4 == 0:
            assert not r.ok
            assert isinstance(r.error, ValueError)
            assert r.exception is r.error
            assert str(r.error) == f"bad {r.item}"
            with pytest.raises(ValueError):
                r.unwrap()
        else:
            assert r.ok and r.exception is None
            assert r.value == r.item * 10
            assert r.unwrap() == r.item * 10
    assert peak == 3
    assert progress == [(i, 30) for i in range(1, 31)]


async def test_map_concurrent_uses_a_fixed_pool() -> None:
    seen_tasks: set[asyncio.Task[Any]] = set()

    async def fn(n: int) -> None:
        seen_tasks.add(cast("asyncio.Task[Any]", asyncio.current_task()))
        await asyncio.sleep(0)

    results = await map_concurrent(fn, range(500), concurrency=4)
    assert len(results) == 500
    assert len(seen_tasks) == 4
    assert await map_concurrent(fn, [], concurrency=4) == []
    with pytest.raises(ValueError):
        await map_concurrent(fn, [1], concurrency=0)


async def test_map_concurrent_cancellation_stops_the_workers() -> None:
    started = 0
    cancelled = 0
    gate = asyncio.Event()

    async def fn(n: int) -> None:
        nonlocal started, cancelled
        started += 1
        if started == 2:
            gate.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled += 1
            raise

    before = _tasks()
    task = asyncio.create_task(map_concurrent(fn, range(100), concurrency=2))
    await gate.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert started == 2
    assert cancelled == 2
    assert _tasks() == before


class _Fatal(BaseException):
    pass


async def test_map_concurrent_never_swallows_base_exceptions() -> None:
    async def fn(n: int) -> int:
        if n == 3:
            raise _Fatal()
        await asyncio.sleep(0.001)
        return n

    before = _tasks()
    with pytest.raises(_Fatal):
        await map_concurrent(fn, range(10), concurrency=2)
    assert _tasks() == before


# --------------------------------------------------------------------------------------------
# poll_orders: pure logic with a scripted client
# --------------------------------------------------------------------------------------------


async def test_poll_yields_changes_only_and_finishes() -> None:
    client = ScriptedOrders(
        {
            "A": [
                _details("A", "", "", ""),
                _details("A", "", "", ""),
                _details("A", "In Progress", "", ""),
                _details("A", "Active", "Active", ""),
                _details("A", "Active", "Active", ""),
                _details("A", "Active", "Active", "Active"),
            ],
            "B": [_details("B")],
        }
    )
    progress: list[tuple[int, int]] = []
    poller = poll_orders(
        cast(Any, client),
        ["A", "B", "A"],
        interval=0.0,
        jitter=0.0,
        on_progress=lambda d, t: progress.append((d, t)),
        organization_id="recOrg",
    )
    events = await _collect(poller)
    a = [e for e in events if e.order_id == "A"]
    assert [(e.changes, e.first, e.done, e.outcome, e.polls) for e in a] == [
        (frozenset({"status", "packages", "domains"}), True, False, "pending", 1),
        (frozenset({"status"}), False, False, "pending", 3),
        (frozenset({"status", "packages"}), False, False, "pending", 4),
        (frozenset({"domains"}), False, True, "completed", 6),
    ]
    b = [e for e in events if e.order_id == "B"]
    assert len(b) == 1
    assert b[0].done and b[0].first and b[0].outcome == "completed" and b[0].ok
    assert client.calls.count("A") == 6
    assert client.calls.count("B") == 1
    assert poller.completed == ["B", "A"]
    assert poller.pending == [] and not poller.timed_out and poller.total == 2
    assert progress == [(1, 2), (2, 2)]
    assert all(kw == {"organization_id": "recOrg"} for kw in client.kwargs)


async def test_poll_failures_cancelled_and_transient_errors() -> None:
    client = ScriptedOrders(
        {
            "gone": [_not_found("gone")],
            "flaky": [_server_error(), _server_error(), _details("flaky")],
            "broken": [_server_error()],
            "cancelled": [
                _details("cancelled", "In Progress", "", ""),
                _details("cancelled", "canceled"),
            ],
        }
    )
    poller = poll_orders(
        cast(Any, client),
        ["gone", "flaky", "broken", "cancelled"],
        interval=0.0,
        jitter=0.0,
        max_errors=3,
    )
    events = await _collect(poller)
    by_id: dict[str, list[PollEvent]] = {}
    for e in events:
        by_id.setdefault(e.order_id, []).append(e)
    (gone,) = by_id["gone"]
    assert isinstance(gone.error, NotFoundError)
    assert gone.done and gone.outcome == "failed" and gone.details is None and not gone.ok
    assert client.calls.count("gone") == 1  # a 404 is final
    flaky = by_id["flaky"]
    assert [e.outcome for e in flaky] == ["pending", "pending", "completed"]
    assert [e.error is not None for e in flaky] == [True, True, False]
    broken = by_id["broken"]
    assert [e.done for e in broken] == [False, False, True]
    assert client.calls.count("broken") == 3
    assert [e.outcome for e in by_id["cancelled"]] == ["pending", "cancelled"]
    assert poller.completed == ["flaky"]
    assert poller.cancelled == ["cancelled"]
    assert set(poller.failed) == {"gone", "broken"}
    assert isinstance(poller.failed["gone"], NotFoundError)


async def test_poll_timeout_reports_the_pending_orders() -> None:
    client = ScriptedOrders(
        {"done": [_details("done")], "slow": [_details("slow", "In Progress", "", "")]}
    )
    poller = poll_orders(
        cast(Any, client), ["done", "slow"], interval=0.01, timeout=0.15, raise_on_timeout=True
    )
    events: list[PollEvent] = []
    with pytest.raises(PollTimeout) as info:
        async for event in poller:
            events.append(event)
    assert info.value.pending == ["slow"]
    assert info.value.completed == ["done"]
    assert "1 order(s) not done" in str(info.value) and "slow" in str(info.value)
    assert isinstance(info.value, TimeoutError)
    assert poller.pending == ["slow"] and poller.timed_out
    assert {e.order_id for e in events} == {"done", "slow"}
    assert client.calls.count("slow") > 2  # it kept being polled until the timeout
    last = events[-1]
    assert (last.order_id, last.done, last.outcome) == ("slow", True, "timeout")
    assert last.error is info.value

    # By default the iteration just ends, the unfinished orders reported as their last event.
    default = poll_orders(cast(Any, client), ["done", "slow"], interval=0.01, timeout=0.15)
    seen = await _collect(default)
    timeouts = [e for e in seen if e.outcome == "timeout"]
    assert [e.order_id for e in timeouts] == ["slow"]
    assert isinstance(timeouts[0].error, TimeoutError) and timeouts[0].done
    assert default.pending == ["slow"] and default.timed_out

    quiet = poll_orders(
        cast(Any, client), ["slow"], interval=0.01, timeout=0.05, raise_on_timeout=False
    )
    await _collect(quiet)
    assert quiet.pending == ["slow"] and quiet.timed_out


async def test_poll_timeout_cuts_a_hanging_request() -> None:
    client = ScriptedOrders(default=lambda oid: _details(oid), delay=30.0)
    before = _tasks()
    poller = poll_orders(cast(Any, client), ["x"], timeout=0.05, raise_on_timeout=False)
    events = await _collect(poller)
    assert [(e.order_id, e.outcome, e.details) for e in events] == [("x", "timeout", None)]
    assert poller.pending == ["x"]
    assert _tasks() == before


async def test_poll_respects_the_interval_per_order() -> None:
    client = ScriptedOrders(default=lambda oid: _details(oid, "In Progress", "", ""))
    poller = poll_orders(
        cast(Any, client),
        ["a", "b", "c"],
        interval=0.05,
        jitter=0.5,
        timeout=0.4,
        raise_on_timeout=False,
    )
    await _collect(poller)
    for times in client.times.values():
        assert len(times) >= 3
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.05 - 1e-3  # never more often than once per interval


async def test_poll_is_fair_with_a_slow_limiter() -> None:
    ids = [f"order-{i:02d}" for i in range(50)]
    client = ScriptedOrders(
        default=lambda oid: _details(oid, "In Progress", "", ""), delay=0.002, serial=True
    )
    poller = poll_orders(
        cast(Any, client), ids, interval=0.0, timeout=0.5, concurrency=4, raise_on_timeout=False
    )
    await _collect(poller)
    counts = Counter(client.calls)
    assert set(counts) == set(ids)  # every id got polled: none starves
    assert max(counts.values()) - min(counts.values()) <= 1  # round-robin
    assert client.max_in_flight <= 4
    assert sorted(poller.pending) == sorted(ids)


async def test_poll_keeps_the_task_count_flat_for_2000_orders() -> None:
    ids = [f"rec{i:05d}" for i in range(2000)]
    client = ScriptedOrders(default=lambda oid: _details(oid))
    before = _tasks()
    peak = 0
    done = 0
    async with poll_orders(cast(Any, client), ids, interval=0.0, concurrency=8) as poller:
        async for event in poller:
            peak = max(peak, _tasks())
            done += event.done
    assert done == 2000
    assert peak <= before + 8
    assert _tasks() == before
    assert len(poller.completed) == 2000


async def test_poll_aclose_and_break_stop_the_workers() -> None:
    client = ScriptedOrders(default=lambda oid: _details(oid, "In Progress", "", ""))
    before = _tasks()
    poller = poll_orders(cast(Any, client), [f"o{i}" for i in range(20)], interval=0.01)
    async for _ in poller:
        break
    assert _tasks() > before
    await poller.aclose()
    await poller.aclose()  # idempotent
    assert _tasks() == before
    calls = len(client.calls)
    await asyncio.sleep(0.05)
    assert len(client.calls) == calls  # nothing polls any more
    async with poll_orders(cast(Any, client), ["a", "b"], interval=0.01) as p2:
        async for _ in p2:
            break
    assert _tasks() == before


async def test_poll_cancelling_the_consumer_stops_the_workers() -> None:
    client = ScriptedOrders(default=lambda oid: _details(oid, "In Progress", "", ""))
    before = _tasks()

    async def consume() -> None:
        async for _ in poll_orders(cast(Any, client), ["a", "b", "c"], interval=0.01):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _tasks() == before


async def test_poll_propagates_closed_client_and_predicate_errors() -> None:
    client = ScriptedOrders({"a": [ClientClosedError("closed")]})
    with pytest.raises(ClientClosedError):
        await _collect(poll_orders(cast(Any, client), ["a"], interval=0.0))

    def bad_until(details: OrderDetails) -> bool:
        raise KeyError("oops")

    client = ScriptedOrders(default=lambda oid: _details(oid))
    before = _tasks()
    with pytest.raises(KeyError):
        await _collect(poll_orders(cast(Any, client), ["a", "b"], until=bad_until))
    assert _tasks() == before


async def test_poll_custom_until_and_input_checks() -> None:
    client = ScriptedOrders(
        {"a": [_details("a", "In Progress", "", ""), _details("a", "Active", "", "")]}
    )
    poller = poll_orders(
        cast(Any, client), ["a"], until=lambda d: d.status == "Active", interval=0.0
    )
    events = await _collect(poller)
    assert events[-1].done and events[-1].outcome == "completed"
    with pytest.raises(RequestValidationError) as info:
        poll_orders(cast(Any, client), ["a", " "])
    assert info.value.field == "order_ids[1]"
    with pytest.raises(ValueError):
        poll_orders(cast(Any, client), ["a"], concurrency=0)
    with pytest.raises(ValueError):
        poll_orders(cast(Any, client), ["a"], timeout=0)
    assert await _collect(poll_orders(cast(Any, client), [])) == []


def test_order_is_active() -> None:
    assert order_is_active(_details("a"))
    assert order_is_active(_details("a", "active", "ACTIVE", " Active "))
    assert not order_is_active(_details("a", "In Progress"))
    assert not order_is_active(_details("a", package="In Progress"))
    assert not order_is_active(_details("a", domain=""))
    assert not order_is_active(OrderDetails(id="a", status="Active"))
    assert not order_is_active(OrderDetails(id="a", status="Active", packages=[]))


# --------------------------------------------------------------------------------------------
# Against the fake server
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def fake(api_key: str) -> AsyncIterator[FakeScaledmail]:
    async with FakeScaledmail(
        api_key=api_key, rate_limits_enabled=False, activate_after_polls=3, seed=7
    ) as server:
        yield server


@pytest.fixture
async def client(fake: FakeScaledmail) -> AsyncIterator[ScaledmailClient]:
    async with ScaledmailClient(
        fake.api_key,
        organization_id=fake.organization_id,
        base_url=fake.base_url,
        rate_limit=None,
        critical_rate_limit=None,
        max_retries=0,
    ) as c:
        yield c


def _new_order(fake: FakeScaledmail, name: str, *, polls_done: int) -> str:
    """An order that turns Active on its ``4 - polls_done``-th poll (activate_after_polls=3)."""
    plan = DomainPlan(name=name, provider="google", mailboxes=[])
    order = fake.state.create_order(
        fake.organization_id,
        [plan],
        tag=name[:20],
        amount=7,
        description="SM - Google",
        source="test",
    )
    order.polls = polls_done
    return order.id


async def test_poll_orders_against_the_fake(fake: FakeScaledmail, client: ScaledmailClient) -> None:
    fast = _new_order(fake, "fastlane.com", polls_done=3)
    medium = _new_order(fake, "midlane.com", polls_done=2)
    slow = _new_order(fake, "slowlane.com", polls_done=0)
    missing = "recDoesNotExist00"
    events: list[PollEvent] = []
    async with poll_orders(client, [slow, missing, medium, fast], interval=0.01) as poller:
        async for event in poller:
            events.append(event)
    assert poller.completed == [fast, medium, slow]
    assert isinstance(poller.failed[missing], NotFoundError)
    assert poller.pending == []
    assert fake.request_count("get_order_details") == 1 + 2 + 4 + 1
    first_slow = next(e for e in events if e.order_id == slow)
    assert first_slow.details is not None and first_slow.details.status == "In Progress"
    last_slow = [e for e in events if e.order_id == slow][-1]
    assert last_slow.done and last_slow.details is not None
    assert last_slow.details.packages[0].domains[0].status == "Active"  # type: ignore[index]
    (gone,) = [e for e in events if e.order_id == missing]
    assert gone.done and gone.outcome == "failed"
    for record in fake.requests_for("get_order_details"):
        assert record.query.get("organization_id") == fake.organization_id


async def test_poll_orders_timeout_against_the_fake(
    fake: FakeScaledmail, client: ScaledmailClient
) -> None:
    fake.options.activate_after_polls = None
    stuck = _new_order(fake, "stuckdomain.com", polls_done=0)
    done = _new_order(fake, "quickdomain.com", polls_done=0)
    fake.state.activate_order(done)
    with pytest.raises(PollTimeout) as info:
        await _collect(
            poll_orders(client, [stuck, done], interval=0.02, timeout=0.3, raise_on_timeout=True)
        )
    assert info.value.pending == [stuck]
    assert info.value.completed == [done]


async def test_search_domains_all_batches_and_orders(
    fake: FakeScaledmail, client: ScaledmailClient
) -> None:
    names = [f"brightname{i:02d}.com" for i in range(25)]
    asked = [*names[:5], "BrightName03.com", " brightname04.com ", *names[5:]]
    progress: list[tuple[int, int]] = []
    results = await search_domains_all(
        client, asked, on_progress=lambda d, t: progress.append((d, t))
    )
    assert fake.request_count("search_domains") == 3
    sent = [r.json["domains"] for r in fake.requests_for("search_domains")]
    assert [len(b) for b in sent] == [10, 10, 5]
    assert [n for batch in sent for n in batch] == names
    assert [r.domain for r in results] == names
    assert results.missing == [] and results.extra == []
    assert progress == [(10, 25), (20, 25), (25, 25)]
    with pytest.raises(RequestValidationError) as info:
        await search_domains_all(client, ["a.com", ""])
    assert info.value.field == "names[1]"
    with pytest.raises(ValueError):
        await search_domains_all(client, ["a.com"], batch_size=11)
    assert fake.request_count("search_domains") == 3


async def test_search_domains_all_reports_missing_and_extra() -> None:
    class Partial:
        calls: list[Any] = []

        async def search_domains(self, *, body: dict[str, Any], **kw: Any) -> list[Any]:
            self.calls.append(body)
            return [
                _Avail(d.upper()) if i % 2 == 0 else _Avail("other-" + d)
                for i, d in enumerate(body["domains"])
            ]

    partial = Partial()
    results = await search_domains_all(
        cast(Any, partial), ["a.com", "b.com", "c.com"], batch_size=2
    )
    assert len(partial.calls) == 2
    assert [r.domain for r in results] == ["A.COM", "C.COM"]
    assert results.missing == ["b.com"]
    assert [r.domain for r in results.extra] == ["other-b.com"]


class _Avail:
    def __init__(self, domain: str) -> None:
        self.domain = domain


async def test_iter_suggested_domains_walks_three_pages(
    fake: FakeScaledmail, client: ScaledmailClient
) -> None:
    probe = await client.suggest_domains(body={"domain": "harborly", "tlds": [".com"]}, limit=50)
    total = probe.total
    assert isinstance(total, int) and total > 6
    limit = math.ceil(total / 3)
    assert math.ceil(total / limit) == 3
    fake.reset_counters()
    progress: list[tuple[int, int]] = []
    seen = [
        d.domain
        async for d in iter_suggested_domains(
            client,
            "harborly",
            tlds=[".com"],
            limit=limit,
            on_progress=lambda d, t: progress.append((d, t)),
        )
    ]
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert fake.request_count("suggest_domains") == 3
    pages = [r.query["page"] for r in fake.requests_for("suggest_domains")]
    assert pages == ["1", "2", "3"]
    assert len(seen) == total and len(set(seen)) == total
    assert seen == [d.domain for d in probe.domains]
    fake.reset_counters()
    capped = [d async for d in iter_suggested_domains(client, "harborly", limit=2, max_pages=2)]
    assert len(capped) == 4
    assert fake.request_count("suggest_domains") == 2


async def test_iter_suggested_domains_without_total_pages() -> None:
    class Pages:
        def __init__(self) -> None:
            self.pages: list[int] = []

        async def suggest_domains(self, *, body: Any, page: int, limit: int, **kw: Any) -> Any:
            self.pages.append(page)
            items = [_Avail(f"x{page}-{i}.com") for i in range(limit if page < 3 else 1)]
            return _Page(items)

    pages = Pages()
    got = [d async for d in iter_suggested_domains(cast(Any, pages), "x", limit=4)]
    assert pages.pages == [1, 2, 3]
    assert len(got) == 9


class _Page:
    """A suggest-domains page without ``total_pages`` or ``limit`` (both not sent: ``UNSET``)."""

    total_pages: int | Unset = UNSET
    limit: int | Unset = UNSET

    def __init__(self, domains: list[_Avail]) -> None:
        self.domains = domains


async def test_update_redirects(fake: FakeScaledmail, client: ScaledmailClient) -> None:
    names = [d.name for d in fake.state.org_domains(fake.organization_id)][:3]
    assert len(names) == 3
    wanted = {names[0]: "https://a.example", "unknown-domain.com": "x.io", names[1]: ""}
    progress: list[tuple[int, int]] = []
    results = await update_redirects(
        client, wanted, concurrency=2, on_progress=lambda d, t: progress.append((d, t))
    )
    assert [r.item for r in results] == list(wanted)
    assert results[0].ok and results[2].ok
    assert isinstance(results[1].error, NotFoundError)
    bodies = {
        r.path.rsplit("/", 1)[-1]: r.json for r in fake.requests_for("update_domain_redirect")
    }
    assert bodies[names[0]] == {"new_redirect": "https://a.example"}
    assert bodies[names[1]] == {"new_redirect": ""}
    assert progress[-1] == (3, 3)


async def test_inventory_walks_and_collects_partial_failures(
    fake: FakeScaledmail, client: ScaledmailClient
) -> None:
    progress: list[tuple[int, int]] = []
    full = await inventory(client, on_progress=lambda d, t: progress.append((d, t)))
    assert full.ok
    assert [o.id for o in full.organizations] == fake.organization_ids
    n_domains = 0
    for org_id in fake.organization_ids:
        assert {d.id for d in full.domains[org_id]} == {
            d.id for d in fake.state.org_domains(org_id)
        }
        n_domains += len(full.domains[org_id])
        assert org_id in full.purchased_domains
    assert len(full.mailboxes) == n_domains
    assert progress[-1][0] == progress[-1][1] == 1 + 2 * len(fake.organization_ids) + n_domains
    for record in fake.requests_for("get_purchased_domains"):
        assert record.query["available"] == "false"

    fake.reset_counters()
    fake.faults.add("status", operation="get_domains", status=500)
    fake.faults.add("status", operation="get_mailboxes_by_domain_id", status=500)
    partial = await inventory(client, concurrency=1)
    assert len(partial.errors) == 2
    org_error, mailbox_error = partial.errors
    assert org_error.operation == "get_domains" and org_error.domain_id is None
    assert isinstance(org_error.error, InternalServerError)
    assert org_error.organization_id not in partial.domains
    assert mailbox_error.operation == "get_mailboxes_by_domain_id"
    assert mailbox_error.domain_id is not None
    assert mailbox_error.domain_id not in partial.mailboxes
    assert len(partial.domains) == len(fake.organization_ids) - 1
    assert len(partial.purchased_domains) == len(fake.organization_ids)

    no_boxes = await inventory(client, include_mailboxes=False)
    assert no_boxes.mailboxes == {}


def test_result_is_generic_and_frozen() -> None:
    r: Result[str, int] = Result(item="a", value=1)
    assert r.ok and r.unwrap() == 1
    with pytest.raises(AttributeError):
        r.value = 2  # type: ignore[misc]


def test_bulk_exports() -> None:
    for name in bulk.__all__:
        assert hasattr(bulk, name)
