"""The fake's reads that lag its writes (``visibility_delay``), its skewed clock (``clock_skew``)
and the "hold after applying" fault (``delay`` with ``after=True``): what reconciliation of
purchases is tested against. Real fake over HTTP (aiohttp, and the SDK client for reads)."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from fake_api import Api as FakeApi
from fake_api import ManualClock, Resp

from scaledmail_async import ScaledmailClient
from scaledmail_async.cli._app import build_cli
from scaledmail_async.errors import NotFoundError
from scaledmail_async.testing import FakeOptions, FakeScaledmail

DELAY = 30.0


class Api(FakeApi):
    """Raw calls to the fake, with the reads the visibility tests look at."""

    async def order_ids(self) -> set[str]:
        return {p["id"] for p in (await self.ok("GET", "/orders"))["payments"]}

    async def domain_names(self) -> set[str]:
        return {d["domain"] for d in (await self.ok("GET", "/domains"))["domains"]}

    async def purchased(self, **params: str) -> dict[str, Any]:
        data = await self.ok("GET", "/purchased-domains", params=params)
        return {p["domain"]: p for p in data["domains"]}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def lagging(clock: ManualClock) -> AsyncIterator[FakeScaledmail]:
    """A fake whose reads show a spend's results only ``DELAY`` seconds (fake clock) later."""
    async with FakeScaledmail(
        rate_limits_enabled=False, visibility_delay=DELAY, clock=clock
    ) as fake:
        yield fake


@pytest.fixture
def api(lagging: FakeScaledmail, session: aiohttp.ClientSession) -> Api:
    return Api(lagging, session)


def available(fake: FakeScaledmail, count: int, prefix: str = "vis") -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = f"{prefix}{uuid.uuid4().hex[:10]}.com"
        if fake.state.name_status(name) == "available":
            names.append(name)
    return names


def google(name: str) -> dict[str, Any]:
    return {"domain": name, "first_name": "Lea", "last_name": "Moss"}


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "options",
    [
        {"visibility_delay": -1.0},
        {"visibility_delay": math.inf},
        {"visibility_delay": math.nan},
        {"visibility_delay": True},
        {"clock_skew": math.inf},
        {"clock_skew": math.nan},
        {"clock_skew": "60"},
    ],
)
def test_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"visibility_delay|clock_skew"):
        FakeOptions(**options)


def test_options_default_to_a_consistent_exact_clock() -> None:
    options = FakeOptions()
    assert options.visibility_delay == 0.0 and options.clock_skew == 0.0
    assert FakeOptions(visibility_delay=2, clock_skew=-30.5).clock_skew == -30.5


# --------------------------------------------------------------------------- visibility delay


async def test_custom_order_shows_only_after_the_delay(api: Api, clock: ManualClock) -> None:
    fake = api.fake
    (name,) = available(fake, 1)
    body = {"tag": "vis-custom", "providers": {"google": {"domains": [google(name)]}}}
    created = await api.ok("POST", "/create-custom-order", params={"provider": "buy"}, body=body)
    order_id = created["payment_id"]
    # Applied at once: the record, the order, the registration, the registry.
    fake.assert_applied("create_custom_order", 1)
    assert fake.requests_for("create_custom_order")[0].applied
    order = fake.state.orders[order_id]
    assert order.tag == "vis-custom" and order.visible_at == clock.now + DELAY
    assert fake.state.name_status(name) == "taken"
    # ... but no read shows it yet.
    assert order_id not in await api.order_ids()
    missing = await api.call("GET", f"/orders/{order_id}")
    assert missing.status == 404 and missing.body == {"error": "Order not found"}
    assert order.polls == 0  # a 404 is not a poll of the lifecycle
    assert name not in await api.domain_names()
    assert name not in await api.purchased()
    domain_id = next(d.id for d in fake.state.domains.values() if d.name == name)
    assert (await api.call("GET", f"/mailboxes/{domain_id}")).status == 404
    # The write paths see it: the same purchase again is refused.
    again = await api.call("POST", "/create-custom-order", params={"provider": "buy"}, body=body)
    assert again.status == 400 and name in again.body["error"]
    fake.assert_applied("create_custom_order", 1)
    clock.now += DELAY - 0.01
    assert order_id not in await api.order_ids()
    assert (await api.call("GET", f"/orders/{order_id}")).status == 404
    clock.now += 0.01
    assert order_id in await api.order_ids()
    details = await api.ok("GET", f"/orders/{order_id}")
    assert details["tag"] == "vis-custom"
    assert [d["name"] for p in details["packages"] for d in p["domains"]] == [name]
    assert name in await api.domain_names()
    assert (await api.purchased())[name]["domain_id"] == domain_id
    assert (await api.call("GET", f"/mailboxes/{domain_id}")).status == 200


async def test_create_order_shows_only_after_the_delay(api: Api, clock: ManualClock) -> None:
    fake = api.fake
    packages = (await api.ok("GET", "/packages"))["packages"]
    small = next(p for p in packages if p.get("google", {}).get("mailbox") == 4)
    spare = list(await api.purchased(available="true"))[:2]
    body = {"tag": "vis-package", "domains": [{"domain": n} for n in spare]}
    path = f"/create-order/{small['id']}"
    created = await api.ok("POST", path, params={"provider": "scaledmail"}, body=body)
    order_id = created["payment_id"]
    fake.assert_applied("create_order", 1)
    assert fake.state.orders[order_id].tag == "vis-package"
    assert order_id not in await api.order_ids()
    assert (await api.call("GET", f"/orders/{order_id}")).status == 404
    assert not set(spare) & await api.domain_names()
    # Reads still see the registrations unattached (as before the purchase) ...
    before = await api.purchased(available="true")
    assert all(before[n]["domain_id"] is None for n in spare)
    # ... while the write path knows they are in use.
    used = await api.call("POST", path, params={"provider": "scaledmail"}, body=body)
    assert used.status == 400 and "already in use" in used.body["error"]
    clock.now += DELAY
    assert order_id in await api.order_ids()
    assert (await api.ok("GET", f"/orders/{order_id}"))["tag"] == "vis-package"
    assert set(spare) <= await api.domain_names()
    after = await api.purchased()
    assert all(after[n]["domain_id"] for n in spare)
    assert not set(spare) & set(await api.purchased(available="true"))


async def test_pre_warm_purchase_shows_only_after_the_delay(api: Api, clock: ManualClock) -> None:
    fake = api.fake
    item = (await api.ok("GET", "/pre-warm-inboxes"))["google"][0]
    body = {"tag": "vis-prewarm", "domains": [{"id": item["id"], "domain": item["domain"]}]}
    created = await api.ok("POST", "/buy-pre-warm-inboxes", body=body)
    order_id = created["payment_id"]
    fake.assert_applied("buy_pre_warm_inboxes", 1)
    # The stock changed at once (a second buy is refused) ...
    stock = await api.ok("GET", "/pre-warm-inboxes")
    assert item["id"] not in {i["id"] for i in stock["google"]}
    assert (await api.call("POST", "/buy-pre-warm-inboxes", body=body)).status == 400
    # ... the order is not readable yet.
    assert order_id not in await api.order_ids()
    assert (await api.call("GET", f"/orders/{order_id}")).status == 404
    assert item["domain"] not in await api.domain_names()
    clock.now += DELAY
    assert order_id in await api.order_ids()
    assert (await api.ok("GET", f"/orders/{order_id}"))["tag"] == "vis-prewarm"
    assert item["domain"] in await api.domain_names()


async def test_bought_domains_show_only_after_the_delay(api: Api, clock: ManualClock) -> None:
    fake = api.fake
    first, second = available(fake, 2)
    done = await api.ok("POST", "/buy-domains", body={"domains": [first, second]})
    assert done["success"] is True
    fake.assert_applied("buy_domains", 1)
    assert not {first, second} & set(await api.purchased())
    assert not {first, second} & set(await api.purchased(available="true"))
    assert not {first, second} & await api.domain_names()
    # Registered at once: buying the same name again fails as "not available".
    again = await api.call("POST", "/buy-domains", body={"domains": [first]})
    assert again.status == 400 and again.body == {"error": f"Domain not available: {first}"}
    fake.assert_applied("buy_domains", 1)
    clock.now += DELAY / 2
    assert not {first, second} & set(await api.purchased())
    clock.now += DELAY / 2
    listed = await api.purchased()
    assert {first, second} <= set(listed) and listed[first]["domain_id"] is None
    assert {first, second} <= set(await api.purchased(available="true"))


async def test_visibility_seen_through_the_sdk_client(api: Api) -> None:
    fake = api.fake
    (name,) = available(fake, 1)
    body = {"tag": "vis-sdk", "providers": {"google": {"domains": [google(name)]}}}
    created = await api.ok("POST", "/create-custom-order", params={"provider": "buy"}, body=body)
    order_id = created["payment_id"]
    async with ScaledmailClient(
        fake.api_key,
        organization_id=fake.organization_id,
        base_url=fake.base_url,
        rate_limit=None,
        max_retries=0,
    ) as client:
        with pytest.raises(NotFoundError):
            await client.get_order_details(order_id)
        assert order_id not in {p.id for p in (await client.get_orders()).payments or []}
        purchased = await client.get_purchased_domains(available=False)
        assert name not in {p.domain for p in purchased.domains or []}
        fake.state.reveal_all()
        details = await client.get_order_details(order_id)
        assert details.tag == "vis-sdk"
        assert order_id in {p.id for p in (await client.get_orders()).payments or []}


async def test_seeded_data_and_no_delay_are_visible_at_once(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeScaledmail(rate_limits_enabled=False, visibility_delay=DELAY) as fake:
        api = Api(fake, session)
        seeded = {o.id for o in fake.state.org_orders(fake.organization_id)}
        assert seeded and seeded == await api.order_ids()
    async with FakeScaledmail(rate_limits_enabled=False) as fake:
        api = Api(fake, session)
        (name,) = available(fake, 1)
        await api.ok("POST", "/buy-domains", body={"domains": [name]})
        assert name in await api.purchased()
        assert all(o.visible_at is None for o in fake.state.orders.values())


async def test_delay_is_stamped_at_creation(api: Api, clock: ManualClock) -> None:
    fake = api.fake
    first, second = available(fake, 2)
    await api.ok("POST", "/buy-domains", body={"domains": [first]})
    fake.options.visibility_delay = 0.0  # later spends only
    await api.ok("POST", "/buy-domains", body={"domains": [second]})
    listed = await api.purchased()
    assert second in listed and first not in listed
    clock.now += DELAY
    assert first in await api.purchased()


# --------------------------------------------------------------------------- clock skew


async def _skewed_order(
    session: aiohttp.ClientSession, skew: float
) -> tuple[FakeScaledmail, Api, str, Resp]:
    fake = FakeScaledmail(rate_limits_enabled=False, clock_skew=skew)
    await fake.start()
    api = Api(fake, session)
    (name,) = available(fake, 1)
    body = {"tag": "skewed", "providers": {"google": {"domains": [google(name)]}}}
    resp = await api.call("POST", "/create-custom-order", params={"provider": "buy"}, body=body)
    assert resp.status == 200, resp.text
    return fake, api, name, resp


@pytest.mark.parametrize("skew", [3600.0, -7200.0])
async def test_clock_skew_shifts_reported_timestamps(
    session: aiohttp.ClientSession, skew: float
) -> None:
    fake, api, name, created = await _skewed_order(session, skew)
    try:
        server_now = time.time() + skew
        order_id = created.body["payment_id"]
        details = await api.ok("GET", f"/orders/{order_id}")
        assert parse_iso(details["created_at"]).timestamp() == pytest.approx(server_now, abs=5)
        for package in details["packages"]:
            assert package["created_at"] == details["created_at"]
        payments = {p["id"]: p for p in (await api.ok("GET", "/orders"))["payments"]}
        assert payments[order_id]["created_at"] == details["created_at"]
        registration = (await api.purchased())[name]
        server_day = datetime.fromtimestamp(server_now, UTC).date()
        assert registration["created_at"] in {
            server_day.isoformat(),
            (server_day - timedelta(days=1)).isoformat(),
        }
        for resp in (created, await api.call("GET", "/orders"), await api.call("GET", "/nope")):
            date = parsedate_to_datetime(resp.headers["Date"])
            assert date.timestamp() == pytest.approx(server_now, abs=5)
    finally:
        await fake.close()


async def test_clock_skew_leaves_seeded_data_and_the_fake_clock(
    session: aiohttp.ClientSession,
) -> None:
    async with (
        FakeScaledmail(rate_limits_enabled=False, clock_skew=86_400) as skewed,
        FakeScaledmail(rate_limits_enabled=False) as exact,
    ):
        seeded = [(o.id, o.created_at) for o in skewed.state.orders.values()]
        assert seeded == [(o.id, o.created_at) for o in exact.state.orders.values()]
        resp = await Api(exact, session).call("GET", "/orders")
        date = parsedate_to_datetime(resp.headers["Date"])
        assert date.timestamp() == pytest.approx(time.time(), abs=5)
        assert skewed.state.wall_time() == pytest.approx(time.time() + 86_400, abs=1)


async def test_clock_skew_in_429_hints(session: aiohttp.ClientSession) -> None:
    skew = 600.0
    async with FakeScaledmail(
        rate_limit=1, rate_window=10.0, retry_after_header="http-date", clock_skew=skew
    ) as fake:
        api = Api(fake, session)
        assert (await api.call("GET", "/orders")).status == 200
        limited = await api.call("GET", "/orders")
        assert limited.status == 429
        hinted = parsedate_to_datetime(limited.headers["Retry-After"]).timestamp()
        assert hinted == pytest.approx(time.time() + skew + 10, abs=5)
        assert limited.body["retryAfter"] == pytest.approx(time.time() + skew + 10, abs=5)
        fake.faults.add("status", status=429, retry_after=2, retry_after_format="body")
        faulted = await api.call("GET", "/orders")
        assert faulted.body["retryAfter"] == pytest.approx(time.time() + skew + 2, abs=5)


# --------------------------------------------------------------------------- hold after applying


def _custom_body(name: str, tag: str) -> dict[str, Any]:
    return {"tag": tag, "providers": {"google": {"domains": [google(name)]}}}


async def test_hold_after_apply_applies_before_holding(session: aiohttp.ClientSession) -> None:
    async with FakeScaledmail(rate_limits_enabled=False) as fake:
        api = Api(fake, session)
        (name,) = available(fake, 1)
        fault = fake.faults.add("delay", after=True, seconds=0.5, operation="create_custom_order")
        assert fault.apply is True
        started = time.monotonic()
        call = asyncio.create_task(
            api.call(
                "POST",
                "/create-custom-order",
                params={"provider": "buy"},
                body=_custom_body(name, "held"),
            )
        )
        for _ in range(200):  # the purchase is applied while the answer is still held
            if fake.applied_count("create_custom_order"):
                break
            await asyncio.sleep(0.01)
        assert fake.applied_count("create_custom_order") == 1 and not call.done()
        assert [o.tag for o in fake.state.orders.values() if o.tag == "held"] == ["held"]
        resp = await call
        assert resp.status == 200 and time.monotonic() - started >= 0.45
        assert fake.state.orders[resp.body["payment_id"]].tag == "held"
        assert fault.hits[0].applied is True and fake.requests[-1].status == 200


async def test_hold_forever_until_the_client_disconnects(session: aiohttp.ClientSession) -> None:
    fake = FakeScaledmail(rate_limits_enabled=False, shutdown_timeout=0.2)
    await fake.start()
    try:
        api = Api(fake, session)
        (name,) = available(fake, 1)
        fault = fake.faults.add(
            "delay", after=True, seconds=math.inf, operation="create_custom_order"
        )
        with pytest.raises(asyncio.TimeoutError):
            await api.call(
                "POST",
                "/create-custom-order",
                params={"provider": "buy"},
                body=_custom_body(name, "held-forever"),
                client_timeout=0.3,
            )
        for _ in range(300):  # the server notices the disconnect and drops the held handler
            if fault.hits:
                break
            await asyncio.sleep(0.01)
        assert fault.hits and fault.hits[0].applied is True
        record = fake.requests_for("create_custom_order")[0]
        assert record.applied and record.status is None and record.fault == "delay"
        assert record.json["tag"] == "held-forever"
        assert len([o for o in fake.state.orders.values() if o.tag == "held-forever"]) == 1
        assert fake.state.name_status(name) == "taken"
    finally:
        await asyncio.wait_for(fake.close(), timeout=5)


async def test_hold_forever_then_server_close_does_not_hang(
    session: aiohttp.ClientSession,
) -> None:
    fake = FakeScaledmail(rate_limits_enabled=False, shutdown_timeout=0.2)
    await fake.start()
    (name,) = available(fake, 1)
    fake.faults.add("delay", after=True, seconds=math.inf, operation="create_custom_order")
    call = asyncio.create_task(
        Api(fake, session).call(
            "POST",
            "/create-custom-order",
            params={"provider": "buy"},
            body=_custom_body(name, "held-close"),
        )
    )
    for _ in range(300):
        if fake.applied_count("create_custom_order"):
            break
        await asyncio.sleep(0.01)
    assert fake.applied_count("create_custom_order") == 1
    await asyncio.wait_for(fake.close(), timeout=5)
    with pytest.raises(aiohttp.ClientError):
        await call


async def test_hold_combined_with_visibility_delay(
    session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    async with FakeScaledmail(
        rate_limits_enabled=False, visibility_delay=DELAY, clock=clock
    ) as fake:
        api = Api(fake, session)
        (name,) = available(fake, 1)
        fake.faults.add("delay", after=True, seconds=math.inf, operation="create_custom_order")
        with pytest.raises(asyncio.TimeoutError):
            await api.call(
                "POST",
                "/create-custom-order",
                params={"provider": "buy"},
                body=_custom_body(name, "held-late"),
                client_timeout=0.3,
            )
        (order,) = [o for o in fake.state.orders.values() if o.tag == "held-late"]
        assert order.id not in await api.order_ids()
        clock.now += DELAY
        assert order.id in await api.order_ids()


# --------------------------------------------------------------------------- command lines


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    seen: dict[str, Any] = {}

    def fake_run(host: str = "127.0.0.1", port: int = 8080, **options: Any) -> None:
        options.pop("on_ready", None)
        seen.update(options, host=host, port=port)

    import scaledmail_async.testing as testing
    import scaledmail_async.testing.__main__ as testing_main

    monkeypatch.setattr(testing, "run_fake_server", fake_run)
    monkeypatch.setattr(testing_main, "run_fake_server", fake_run)
    yield seen


def test_cli_fake_server_options(captured: dict[str, Any]) -> None:
    result = CliRunner().invoke(
        build_cli(), ["fake-server", "--visibility-delay", "2.5", "--clock-skew", "-30"]
    )
    assert result.exit_code == 0, result.output
    assert captured["visibility_delay"] == 2.5 and captured["clock_skew"] == -30.0
    options = {k: v for k, v in captured.items() if k not in ("host", "port")}
    assert FakeOptions(**options).visibility_delay == 2.5
    defaults = CliRunner().invoke(build_cli(), ["fake-server"])
    assert defaults.exit_code == 0
    assert captured["visibility_delay"] == 0.0 and captured["clock_skew"] == 0.0
    bad = CliRunner().invoke(build_cli(), ["fake-server", "--visibility-delay", "-1"])
    assert bad.exit_code == 2
    helped = CliRunner().invoke(build_cli(), ["fake-server", "--help"])
    assert "--visibility-delay" in helped.output and "--clock-skew" in helped.output


def test_python_m_testing_options(captured: dict[str, Any]) -> None:
    from scaledmail_async.testing.__main__ import main

    main(["--visibility-delay", "4", "--clock-skew", "90"])
    assert captured["visibility_delay"] == 4.0 and captured["clock_skew"] == 90.0
