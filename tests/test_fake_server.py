"""The fake Scaledmail server's own behaviour, checked with a plain aiohttp.ClientSession."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fake_api import Api, ManualClock, Resp

from scaledmail_async.testing import (
    DEFAULT_API_KEY,
    FAULT_KINDS,
    OPERATIONS,
    FakeScaledmail,
    RateLimiter,
    RateLimitRule,
)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def fake() -> AsyncIterator[FakeScaledmail]:
    async with FakeScaledmail(rate_limits_enabled=False) as f:
        yield f


@pytest.fixture
def api(fake: FakeScaledmail, session: aiohttp.ClientSession) -> Api:
    return Api(fake, session)


def google_spec(domain: str, **extra: Any) -> dict[str, Any]:
    return {"domain": domain, "first_name": "Lea", "last_name": "Moss", **extra}


def aliases(count: int, prefix: str = "a") -> list[dict[str, str]]:
    return [
        {"first_name": "Lea", "last_name": "Moss", "alias": f"{prefix}{i}"} for i in range(count)
    ]


async def available_names(api: Api, count: int, keyword: str = "tidewater") -> list[str]:
    found: list[str] = []
    page = 1
    while len(found) < count:
        data = await api.ok(
            "POST",
            "/suggest-domains",
            params={"page": str(page), "limit": "50"},
            body={"domain": keyword, "tlds": ["com", "net", "org"]},
        )
        found += [d["domain"] for d in data["domains"] if d["status"] == "available"]
        assert data["domains"], "ran out of suggestions"
        page += 1
    return found[:count]


async def custom_order(api: Api, provider: str = "buy", **body: Any) -> Resp:
    return await api.call(
        "POST", "/create-custom-order", params={"provider": provider}, body=body or None
    )


# --------------------------------------------------------------------------- auth, org, routing
async def test_missing_or_invalid_bearer_is_401(api: Api, session: aiohttp.ClientSession) -> None:
    assert await api.error(401, "GET", "/organizations", key=None) == {"message": "Unauthorized"}
    assert await api.error(401, "GET", "/orders", key="sk_wrong") == {"message": "Unauthorized"}
    url = api.fake.base_url + "/organizations"
    async with session.get(url, headers={"Authorization": f"Basic {api.fake.api_key}"}) as r:
        assert r.status == 401


async def test_several_keys_are_accepted_and_never_shown(session: aiohttp.ClientSession) -> None:
    async with FakeScaledmail(api_keys=["sk_one_secret", "sk_two_secret"]) as fake:
        api = Api(fake, session)
        await api.ok("GET", "/organizations", key="sk_one_secret")
        await api.ok("GET", "/organizations", key="sk_two_secret")
        await api.error(401, "GET", "/organizations", key=DEFAULT_API_KEY)
        shown = repr(fake) + repr(fake.options) + repr(fake.requests) + repr(fake.stats())
        assert "secret" not in shown
        assert fake.requests[0].key_hash and fake.requests[0].key_hash != fake.requests[1].key_hash


async def test_organization_id_required_and_checked(api: Api) -> None:
    body = await api.error(400, "GET", "/domains", org=None)
    assert body == {"error": "organization_id is required"}
    assert await api.error(404, "GET", "/orders", org="recNope") == {
        "error": "Organization not found"
    }
    # Not needed on these two.
    await api.ok("GET", "/organizations", org=None)
    await api.ok("GET", "/packages", org=None)


async def test_unknown_path_is_json_404_and_counted(api: Api) -> None:
    assert await api.error(404, "GET", "/nowhere") == {"error": "Not found"}
    assert api.fake.requests[-1].operation_id is None
    assert api.fake.request_count() == 1


async def test_every_operation_is_routed() -> None:
    assert len(OPERATIONS) == 20
    ids = {op.operation_id for op in OPERATIONS}
    assert "get_mailboxes_by_domain_id" in ids and "create_custom_order" in ids


# --------------------------------------------------------------------------- read shapes
async def test_organizations_and_packages_shapes(api: Api) -> None:
    orgs = await api.ok("GET", "/organizations")
    assert [set(o) for o in orgs["organizations"]] == [{"id", "name"}] * 2
    assert orgs["organizations"][0]["id"].startswith("rec")
    packages = await api.ok("GET", "/packages")
    assert packages["total"] == len(packages["packages"]) >= 4
    for p in packages["packages"]:
        assert p["id"].startswith("price_") and len(p["id"]) == 30
        assert p["mode"] == "subscription" and p["frequency"] == "/monthly"
        assert p["tier"] in {"low-sending", "medium-sending", "high-sending"}
        assert ("google" in p) != ("microsoft" in p)


async def test_pre_warm_inboxes_shape(api: Api) -> None:
    data = await api.ok("GET", "/pre-warm-inboxes")
    assert data["total"] == len(data["google"]) + len(data["outlook"]) == 5
    item = data["google"][0]
    assert set(item) == {
        "id",
        "domain",
        "warmup_age",
        "emailMailboxCount",
        "pricing",
        "emailMailbox",
    }
    assert set(item["pricing"]) == {"oneTimePrice", "monthlyPrice"}
    assert item["emailMailboxCount"] == 2 == len(item["emailMailbox"])
    assert data["outlook"][0]["emailMailboxCount"] == 25
    assert any("emailMailbox" not in i for i in data["outlook"])


async def test_domains_purchased_and_mailboxes(api: Api) -> None:
    domains = (await api.ok("GET", "/domains"))["domains"]
    assert domains and {d["status"] for d in domains} == {"Active"}
    d = domains[0]
    assert set(d) >= {"id", "domain", "payment_id", "status", "order_type", "total_mailboxes"}
    assert d["order_type"] in {"google", "outlook", "smtp"}
    assert d["total_mailboxes"] == len(d["mailbox"])
    purchased = (await api.ok("GET", "/purchased-domains"))["domains"]
    spare = (await api.ok("GET", "/purchased-domains", params={"available": "true"}))["domains"]
    assert 0 < len(spare) < len(purchased)
    assert all(p["domain_id"] is None for p in spare)
    assert any(p["domain_id"] == d["id"] for p in purchased)
    assert len(purchased[0]["created_at"]) == 10
    await api.error(400, "GET", "/purchased-domains", params={"available": "maybe"})
    boxes = (await api.ok("GET", f"/mailboxes/{d['id']}"))["mailboxes"]
    assert len(boxes) == d["total_mailboxes"]
    assert boxes[0]["email"].endswith("@" + d["domain"]) and boxes[0]["status"] == "Active"
    assert "password" not in boxes[0]
    with_pw = await api.ok("GET", f"/mailboxes/{d['id']}", params={"password": "true"})
    assert with_pw["mailboxes"][0]["password"]
    await api.error(404, "GET", "/mailboxes/recDoesNotExist1")


async def test_orders_and_details_shapes(api: Api) -> None:
    orders = await api.ok("GET", "/orders")
    assert orders["total"] == len(orders["payments"])
    statuses = {p["status"] for p in orders["payments"]}
    assert statuses == {"Active", "Cancelled"}
    first = orders["payments"][0]
    assert set(first) == {"id", "amount", "created_at", "status", "description"}
    assert first["created_at"].endswith(".000Z") and first["created_at"][10] == "T"
    with_domains = next(p for p in orders["payments"] if p["description"].startswith("SM"))
    details = await api.ok("GET", f"/orders/{with_domains['id']}")
    assert set(details) == {
        "id",
        "created_at",
        "amount",
        "tag",
        "status",
        "description",
        "invoices",
        "total_domains",
        "packages",
        "addons",
        "current_items",
    }
    package = details["packages"][0]
    assert package["type"] in {"Google", "Microsoft", "SMTP"}
    assert package["payment_id"] == details["id"]
    assert set(package["domains"][0]) == {"id", "name", "status"}
    assert details["total_domains"] == sum(p["total_domains"] for p in details["packages"])
    assert await api.error(404, "GET", "/orders/recNoSuchOrder1") == {"error": "Order not found"}
    await api.error(404, "DELETE", "/orders/recNoSuchOrder1")
    await api.error(404, "GET", "/orders/..%2Fpackages")


async def test_seed_is_deterministic() -> None:
    a, b, c = FakeScaledmail(seed=7), FakeScaledmail(seed=7), FakeScaledmail(seed=8)
    assert a.organization_ids == b.organization_ids != c.organization_ids
    assert sorted(a.state.orders) == sorted(b.state.orders)
    assert [p.domain for p in a.state.purchased] == [p.domain for p in b.state.purchased]


# --------------------------------------------------------------------------- search / suggest / buy
async def test_search_domains(api: Api) -> None:
    result = await api.ok(
        "POST", "/search-domains", body={"domains": ["google.com", "brandnewthing.com"]}
    )
    assert isinstance(result, list)
    taken = result[0]
    assert taken == {
        "domain": "google.com",
        "status": "taken",
        "price": None,
        "renewPrice": None,
        "blacklisted": [],
    }
    assert set(result[1]) == set(taken)
    names = [f"n{i}.com" for i in range(11)]
    assert (
        "10" in (await api.error(400, "POST", "/search-domains", body={"domains": names}))["error"]
    )
    await api.error(400, "POST", "/search-domains", body={"domains": []})
    await api.error(400, "POST", "/search-domains", body={"domains": ["not a domain"]})
    await api.error(400, "POST", "/search-domains", body=["x.com"])


async def test_search_limit_configurable(session: aiohttp.ClientSession) -> None:
    async with FakeScaledmail(rate_limits_enabled=False, max_domains_per_request=30) as fake:
        names = [f"name{i}.com" for i in range(30)]
        assert (
            len(await Api(fake, session).ok("POST", "/search-domains", body={"domains": names}))
            == 30
        )


async def test_suggest_domains_pagination_and_errors(api: Api) -> None:
    page1 = await api.ok(
        "POST", "/suggest-domains", params={"page": "1", "limit": "7"}, body={"domain": "Acme.com"}
    )
    assert page1["limit"] == 7 and page1["page"] == 1
    assert page1["total_pages"] == -(-page1["total"] // 7)
    assert len(page1["domains"]) == 7
    assert all(d["domain"].split(".")[0].count("acme") == 1 for d in page1["domains"])
    page2 = await api.ok(
        "POST", "/suggest-domains", params={"page": "2", "limit": "7"}, body={"domain": "acme"}
    )
    assert not {d["domain"] for d in page1["domains"]} & {d["domain"] for d in page2["domains"]}
    capped = await api.ok(
        "POST", "/suggest-domains", params={"limit": "500"}, body={"domain": "acme"}
    )
    assert capped["limit"] == 50 and len(capped["domains"]) == 50
    default = await api.ok("POST", "/suggest-domains", body={"domain": "acme", "tlds": ["io"]})
    assert {d["domain"].rsplit(".", 1)[1] for d in default["domains"]} == {"io"}
    assert default["page"] == 1
    odd = await api.ok("POST", "/suggest-domains", body={"domain": "acme", "tlds": [".qqq"]})
    assert {d["status"] for d in odd["domains"]} == {"error"}
    assert await api.error(400, "POST", "/suggest-domains", body={}) == {
        "error": "domain is required"
    }
    assert await api.error(400, "POST", "/suggest-domains", body={"domain": 5}) == {
        "error": "domain is required"
    }
    assert await api.error(400, "POST", "/suggest-domains", body={"domain": "...."}) == {
        "error": "Invalid domain"
    }


async def test_buy_domains_all_or_nothing(api: Api) -> None:
    names = await available_names(api, 2)
    before = len(api.fake.state.purchased)
    body = await api.error(400, "POST", "/buy-domains", body={"domains": [*names, "google.com"]})
    assert "google.com" in body["error"]
    assert len(api.fake.state.purchased) == before and api.fake.applied_count("buy_domains") == 0
    bought = await api.ok("POST", "/buy-domains", body={"domains": names})
    assert bought == {"success": True, "message": "2 domain(s) purchased successfully."}
    spare = (await api.ok("GET", "/purchased-domains", params={"available": "true"}))["domains"]
    assert set(names) <= {p["domain"] for p in spare}
    again = await api.ok("POST", "/search-domains", body={"domains": names})
    assert {r["status"] for r in again} == {"taken"}
    eleven = [f"zz{i}unused.com" for i in range(11)]
    await api.error(400, "POST", "/buy-domains", body={"domains": eleven})
    assert api.fake.applied_count("buy_domains") == 1


# --------------------------------------------------------------------------- swaps
async def test_swap_domain_request_and_completion(api: Api) -> None:
    domain = (await api.ok("GET", "/domains"))["domains"][0]["domain"]
    spare = (await api.ok("GET", "/purchased-domains", params={"available": "true"}))["domains"]
    new = spare[0]["domain"]
    path = f"/swap-domain/{domain}"
    assert "provider" in (await api.error(400, "POST", path, body={"new_domain": new}))["error"]
    await api.error(400, "POST", path, params={"provider": "nope"}, body={"new_domain": new})
    await api.error(
        404, "POST", "/swap-domain/unknown.com", params={"provider": "scaledmail"}, body={}
    )
    await api.error(
        400, "POST", path, params={"provider": "scaledmail"}, body={"new_domain": "zzfree.com"}
    )
    hosting_error = await api.error(
        400, "POST", path, params={"provider": "other"}, body={"new_domain": "zzfree.com"}
    )
    assert "hosting" in hosting_error["error"]
    ok = await api.ok("POST", path, params={"provider": "scaledmail"}, body={"new_domain": new})
    assert ok["success"] is True
    request = api.fake.state.swap_requests[-1]
    assert (request.kind, request.domain, request.new_value, request.status) == (
        "domain",
        domain,
        new,
        "pending",
    )
    assert api.fake.state.complete_swap_requests() == [request]
    names = {d["domain"] for d in (await api.ok("GET", "/domains"))["domains"]}
    assert new in names and domain not in names


async def test_swap_redirect_conflict_while_pending(api: Api) -> None:
    domain = (await api.ok("GET", "/domains"))["domains"][0]["domain"]
    path = f"/swap-redirect/{domain}"
    await api.ok("POST", path, body={"new_redirect": "https://a.example"})
    conflict = await api.error(409, "POST", path, body={"new_redirect": "https://b.example"})
    assert "in progress" in conflict["error"]
    await api.error(400, "POST", path, body={})
    await api.error(404, "POST", "/swap-redirect/unknown.com", body={"new_redirect": ""})
    api.fake.state.complete_swap_requests()
    listed = {d["domain"]: d for d in (await api.ok("GET", "/domains"))["domains"]}
    assert listed[domain]["redirect"] == "https://a.example"
    await api.ok("POST", path, body={"new_redirect": ""})
    assert api.fake.applied_count("update_domain_redirect") == 2


async def test_swaps_complete_after_configured_time(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeScaledmail(
        rate_limits_enabled=False, clock=clock, complete_swaps_after_seconds=30
    ) as fake:
        api = Api(fake, session)
        domain = (await api.ok("GET", "/domains"))["domains"][0]["domain"]
        await api.ok("POST", f"/swap-redirect/{domain}", body={"new_redirect": "x.example"})
        await api.error(409, "POST", f"/swap-redirect/{domain}", body={"new_redirect": "y"})
        clock.now += 31
        await api.ok("POST", f"/swap-redirect/{domain}", body={"new_redirect": "y.example"})
        assert [r.status for r in fake.state.swap_requests] == ["completed", "pending"]


# --------------------------------------------------------------------------- calculate
async def test_calculate_package(api: Api) -> None:
    data = await api.ok(
        "POST",
        "/calculate-package",
        body={
            "volume": 60000,
            "providers": ["google", "outlook"],
            "distribution": {"google": 70, "outlook": 30},
            "tier": "medium",
        },
    )
    assert data["success"] is True
    result = data["data"]
    assert result["monthlyVolume"] == 60000 and result["dailyVolume"] == 2000
    by = {b["provider"]: b for b in result["providerBreakdown"]}
    assert by["google"]["pricingBasis"] == "mailbox" and by["outlook"]["pricingBasis"] == "domain"
    assert by["outlook"]["requiredMailboxes"] == 25 * by["outlook"]["requiredDomains"]
    assert result["totalDomains"] == sum(b["requiredDomains"] for b in by.values())
    assert result["totalPrice"] == pytest.approx(sum(b["totalPrice"] for b in by.values()))
    single = await api.ok(
        "POST", "/calculate-package", body={"volume": 100, "period": "day", "providers": ["smtp"]}
    )
    assert single["data"]["providerBreakdown"][0]["percentage"] == 100


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"providers": ["google"]}, {"error": "volume is required"}),
        ({"volume": 0, "providers": ["google"]}, {"error": "volume is required"}),
        ({"volume": 5000, "providers": ["yahoo"]}, "Invalid provider"),
        ({"volume": 5000, "providers": ["google", "smtp"]}, "distribution"),
        (
            {
                "volume": 5000,
                "providers": ["google", "smtp"],
                "distribution": {"google": 50, "smtp": 40},
            },
            {"error": "distribution must add up to 100"},
        ),
        ({"volume": 5000, "providers": ["google"], "period": "week"}, "period"),
    ],
)
async def test_calculate_package_errors(api: Api, body: dict[str, Any], expected: Any) -> None:
    got = await api.error(400, "POST", "/calculate-package", body=body)
    if isinstance(expected, dict):
        assert got == expected
    else:
        assert expected in got["error"]


async def test_calculate_package_volume_too_low(api: Api) -> None:
    for volume in (-5, 100):
        got = await api.error(
            400, "POST", "/calculate-package", body={"volume": volume, "providers": ["google"]}
        )
        assert got["error"] == "Volume too low - Minimum 1 domain per ESP required"
        assert got["message"] == "Your requested volume is below the minimum threshold"
        assert got["requested"] == {"volume": volume, "period": "month"}
        assert got["minimum_required"] == {"volume": 500, "period": "month"}


# --------------------------------------------------------------------------- purchases
async def test_create_custom_order_buy_and_lifecycle(session: aiohttp.ClientSession) -> None:
    async with FakeScaledmail(rate_limits_enabled=False, activate_after_polls=2) as fake:
        api = Api(fake, session)
        g1, g2, s1 = await available_names(api, 3)
        resp = await custom_order(
            api,
            tag="acme-plan-01",
            providers={
                "google": {
                    "mailboxes_per_domain": 3,
                    "domains": [google_spec(g1), google_spec(g2)],
                },
                "smtp": {"domains": [{"domain": s1, "aliases": aliases(4)}]},
            },
        )
        assert resp.status == 200, resp.text
        created = resp.body
        assert created["success"] is True and created["id"] == created["payment_id"]
        order_id = created["payment_id"]
        # 2 Google domains x 3 mailboxes x $3.50 + 1 SMTP domain $3.75 + 3 registrations
        registration = sum({"com": 15.5, "net": 16.5, "org": 12.5}[n[-3:]] for n in (g1, g2, s1))
        assert fake.state.orders[order_id].amount == pytest.approx(21 + 3.75 + registration)
        listed = {p["id"]: p for p in (await api.ok("GET", "/orders"))["payments"]}
        assert listed[order_id]["status"] == "In Progress"
        domains = {d["domain"]: d for d in (await api.ok("GET", "/domains"))["domains"]}
        assert domains[g1]["status"] == "In Progress" and domains[g1]["total_mailboxes"] == 3
        assert domains[s1]["order_type"] == "smtp" and domains[s1]["tag"] == "acme-plan-01"
        bought = {p["domain"]: p for p in (await api.ok("GET", "/purchased-domains"))["domains"]}
        assert bought[g1]["domain_id"] == domains[g1]["id"]
        polls = [await api.ok("GET", f"/orders/{order_id}") for _ in range(3)]
        assert [p["status"] for p in polls] == ["In Progress", "In Progress", "Active"]
        assert {d["status"] for p in polls[:2] for pk in p["packages"] for d in pk["domains"]} == {
            ""
        }
        assert {d["status"] for pk in polls[2]["packages"] for d in pk["domains"]} == {"Active"}
        assert polls[2]["tag"] == "acme-plan-01" and polls[2]["total_domains"] == 3
        assert {pk["type"] for pk in polls[2]["packages"]} == {"Google", "SMTP"}
        domains = {d["domain"]: d for d in (await api.ok("GET", "/domains"))["domains"]}
        assert domains[g1]["status"] == "Active"
        fake.assert_applied("create_custom_order", 1)


async def test_activation_by_time_and_immediately(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeScaledmail(
        rate_limits_enabled=False, clock=clock, activate_after_polls=None, activate_after_seconds=60
    ) as fake:
        api = Api(fake, session)
        (name,) = await available_names(api, 1)
        order_id = (
            await custom_order(api, providers={"google": {"domains": [google_spec(name)]}})
        ).body["payment_id"]
        for _ in range(5):
            assert (await api.ok("GET", f"/orders/{order_id}"))["status"] == "In Progress"
        clock.now += 60
        assert (await api.ok("GET", f"/orders/{order_id}"))["status"] == "Active"
    async with FakeScaledmail(rate_limits_enabled=False, activate_after_polls=0) as fake:
        api = Api(fake, session)
        (name,) = await available_names(api, 1)
        resp = await custom_order(api, providers={"google": {"domains": [google_spec(name)]}})
        assert (await api.ok("GET", f"/orders/{resp.body['payment_id']}"))["status"] == "Active"


async def test_cancel_order(api: Api) -> None:
    active = next(
        p for p in (await api.ok("GET", "/orders"))["payments"] if p["description"] == "SM - SMTP"
    )
    details = await api.ok("GET", f"/orders/{active['id']}")
    names = {d["name"] for pk in details["packages"] for d in pk["domains"]}
    done = await api.ok("DELETE", f"/orders/{active['id']}")
    assert done == {"success": True, "message": "Subscription canceled successfully."}
    assert (await api.ok("GET", f"/orders/{active['id']}"))["status"] == "Cancelled"
    remaining = {d["domain"] for d in (await api.ok("GET", "/domains"))["domains"]}
    assert not names & remaining
    spare = (await api.ok("GET", "/purchased-domains", params={"available": "true"}))["domains"]
    assert names <= {p["domain"] for p in spare}
    await api.error(400, "DELETE", f"/orders/{active['id']}")


async def test_create_order_package_rules(api: Api) -> None:
    packages = (await api.ok("GET", "/packages"))["packages"]
    small = next(p for p in packages if p["google"]["mailbox"] == 4 if "google" in p)
    spare = (await api.ok("GET", "/purchased-domains", params={"available": "true"}))["domains"]
    names = [p["domain"] for p in spare[:3]]
    path = f"/create-order/{small['id']}"
    scaled = {"provider": "scaledmail"}
    body = {"domains": [{"domain": n} for n in names[:1]]}
    assert "exactly 2" in (await api.error(400, "POST", path, params=scaled, body=body))["error"]
    body = {"domains": [{"domain": n} for n in names[:2]]}
    await api.error(400, "POST", path, body=body)  # provider missing
    await api.error(400, "POST", path, params={**scaled, "coupon": "BOGUS"}, body=body)
    await api.error(404, "POST", "/create-order/price_doesnotexist", params=scaled, body=body)
    not_owned = {"domains": [{"domain": "zzexternal1.com"}, {"domain": "zzexternal2.com"}]}
    await api.error(400, "POST", path, params=scaled, body=not_owned)
    await api.error(400, "POST", path, params={"provider": "other"}, body=not_owned)  # hosting
    assert api.fake.applied_count("create_order") == 0
    created = await api.ok("POST", path, params={**scaled, "coupon": "WELCOME10"}, body=body)
    order = api.fake.state.orders[created["payment_id"]]
    assert (
        order.amount == pytest.approx(small["price"] * 0.9) and order.description == small["name"]
    )
    used = await api.error(400, "POST", path, params=scaled, body=body)
    assert "already in use" in used["error"]
    v3 = {
        "tag": "v3",
        "providers": {
            "google": {"domains": [google_spec("zzext3.com"), google_spec("zzext4.com")]}
        },
    }
    hosting = {"provider": "Porkbun", "username": "u", "password": "p"}
    await api.ok("POST", path, params={"provider": "other"}, body={**v3, "hosting": hosting})
    api.fake.assert_applied("create_order", 2)


def _long(n: int) -> str:
    return "a" * n


@pytest.mark.parametrize(
    ("providers", "extra", "fragment"),
    [
        ({"google": {"domains": [{"domain": "x1.com", "aliases": aliases(3)}]}}, {}, "aliases"),
        ({"outlook": {"domains": [{"domain": "x1.com", "aliases": aliases(2)}]}}, {}, "aliases"),
        ({"smtp": {"domains": [{"domain": "x1.com", "aliases": aliases(2)}]}}, {}, "aliases"),
        (
            {
                "google": {
                    "domains": [
                        {
                            "domain": "x1.com",
                            "aliases": [
                                {"first_name": "A", "last_name": "B", "alias": _long(65)},
                                {"first_name": "A", "last_name": "B", "alias": "ok"},
                            ],
                        }
                    ]
                }
            },
            {},
            "64",
        ),
        (
            {
                "google": {
                    "domains": [
                        {
                            "domain": "x1.com",
                            "aliases": [
                                {"first_name": "A", "last_name": "B", "alias": "a@x1.com"},
                                {"first_name": "A", "last_name": "B", "alias": "ok"},
                            ],
                        }
                    ]
                }
            },
            {},
            "local part",
        ),
        (
            {
                "google": {
                    "domains": [
                        {
                            "domain": "x1.com",
                            "aliases": [
                                {"first_name": "A", "last_name": "B", "alias": "a b"},
                                {"first_name": "A", "last_name": "B", "alias": "ok"},
                            ],
                        }
                    ]
                }
            },
            {},
            "local part",
        ),
        (
            {
                "google": {
                    "domains": [google_spec("x1.com"), {"domain": "x2.com", "aliases": aliases(2)}]
                }
            },
            {},
            "mix",
        ),
        ({"google": {"domains": [google_spec(f"x{i}.com") for i in range(101)]}}, {}, "100"),
        ({"outlook": {"domains": [google_spec(f"x{i}.com") for i in range(31)]}}, {}, "30"),
        ({"smtp": {"domains": [google_spec(f"x{i}.com") for i in range(71)]}}, {}, "70"),
        ({"yahoo": {"domains": [google_spec("x1.com")]}}, {}, "Invalid provider"),
        ({"google": {"domains": [google_spec("x1.com")]}}, {"tag": _long(21)}, "20 characters"),
        (
            {"google": {"mailboxes_per_domain": 5, "domains": [google_spec("x1.com")]}},
            {},
            "2, 3 or 4",
        ),
        ({"google": {"domains": [{"domain": "x1.com"}]}}, {}, "first_name"),
        ({"google": {"domains": [google_spec("x1.com"), google_spec("x1.com")]}}, {}, "Duplicate"),
        (
            {"google": {"domains": [google_spec("x1.com")]}},
            {"sequencer": {"provider": "Instantly", "username": "u", "password": "p", "link": ""}},
            "sequencer.link",
        ),
    ],
)
async def test_custom_order_validation(
    api: Api, providers: dict[str, Any], extra: dict[str, Any], fragment: str
) -> None:
    resp = await custom_order(
        api,
        provider="other",
        providers=providers,
        **extra,
        hosting={"provider": "Porkbun", "username": "u", "password": "p"},
    )
    assert resp.status == 400, resp.text
    assert fragment in resp.body["error"]
    assert api.fake.applied_count("create_custom_order") == 0
    assert len(api.fake.state.orders) == 6


async def test_custom_order_alias_counts_that_pass(api: Api) -> None:
    hosting = {"provider": "Porkbun", "username": "u", "password": "p"}
    providers = {
        "google": {
            "mailboxes_per_domain": 4,
            "domains": [{"domain": "y1.com", "aliases": aliases(4)}],
        },
        "outlook": {"domains": [{"domain": "y2.com", "aliases": aliases(25)}]},
        "smtp": {"domains": [{"domain": "y3.com", "aliases": aliases(4)}]},
    }
    resp = await custom_order(api, provider="other", providers=providers, hosting=hosting)
    assert resp.status == 200, resp.text
    order = api.fake.state.orders[resp.body["id"]]
    assert order.description == "SM Google 21% - SM MS 74% - SM SMTP 6%"


async def test_custom_order_provider_and_hosting_rules(session: aiohttp.ClientSession) -> None:
    spec = {"google": {"domains": [google_spec("zzmine.com")]}}
    async with FakeScaledmail(rate_limits_enabled=False) as fake:
        api = Api(fake, session)
        assert (await custom_order(api, provider="nope", providers=spec)).status == 400
        missing = await api.call("POST", "/create-custom-order", body={"providers": spec})
        assert missing.body == {"error": "provider is required"}
        strict = await custom_order(api, provider="other", providers=spec)
        assert strict.body == {"error": "hosting is required when provider is other"}
        taken = await custom_order(
            api, provider="buy", providers={"google": {"domains": [google_spec("google.com")]}}
        )
        assert taken.status == 400 and "not available" in taken.body["error"]
        not_owned = await custom_order(api, provider="scaledmail", providers=spec)
        assert "purchased" in not_owned.body["error"]
    async with FakeScaledmail(rate_limits_enabled=False, require_hosting=False) as fake:
        lenient = await custom_order(Api(fake, session), provider="other", providers=spec)
        assert lenient.status == 200, lenient.text
        assert (
            fake.state.domains[
                next(d for d in fake.state.domains if fake.state.domains[d].name == "zzmine.com")
            ].domain_provider
            == "other"
        )


async def test_unable_to_charge_creates_subscription(session: aiohttp.ClientSession) -> None:
    async with FakeScaledmail(rate_limits_enabled=False, unable_to_charge=True) as fake:
        api = Api(fake, session)
        (name,) = await available_names(api, 1)
        resp = await custom_order(
            api, tag="pp-1", providers={"google": {"domains": [google_spec(name)]}}
        )
        assert resp.status == 400
        assert resp.body == {"error": "Subscription created but unable to charge"}
        pending = [o for o in fake.state.orders.values() if o.tag == "pp-1"]
        assert len(pending) == 1 and pending[0].payment_pending
        assert fake.applied_count("create_custom_order") == 1


async def test_buy_pre_warm_inboxes(api: Api) -> None:
    stock = await api.ok("GET", "/pre-warm-inboxes")
    item = stock["google"][0]
    bad = {"domains": [{"id": item["id"], "domain": "other.com"}]}
    assert (
        "not available"
        in (await api.error(400, "POST", "/buy-pre-warm-inboxes", body=bad))["error"]
    )
    seq = {"provider": "Instantly", "username": "u", "password": "p"}
    no_link = {"domains": [{"id": item["id"], "domain": item["domain"]}], "sequencer": seq}
    assert "link" in (await api.error(400, "POST", "/buy-pre-warm-inboxes", body=no_link))["error"]
    body = {
        "tag": "org-1",
        "domains": [{"id": item["id"], "domain": item["domain"], "redirect": "z.example"}],
    }
    done = await api.ok("POST", "/buy-pre-warm-inboxes", body=body)
    assert done["success"] is True and done["payment_id"].startswith("rec")
    after = await api.ok("GET", "/pre-warm-inboxes")
    assert after["total"] == stock["total"] - 1
    details = await api.ok("GET", f"/orders/{done['payment_id']}")
    assert (
        details["tag"] == "org-1" and details["packages"][0]["domains"][0]["name"] == item["domain"]
    )
    await api.error(400, "POST", "/buy-pre-warm-inboxes", body=body)  # sold out now


async def test_pending_forms_and_submit(api: Api) -> None:
    forms = await api.ok("GET", "/pending-forms")
    assert forms["total"] == 1
    form = forms["forms"][0]
    assert len(form["created_at"]) == 10 and form["type"] == "package-subscription"
    assert form["data"]["domains_required"] == len(form["data"]["domains"]) == 2
    path = f"/submit-form/{form['uuid']}"
    await api.error(
        404,
        "POST",
        "/submit-form/00000000-0000-4000-8000-000000000000",
        params={"provider": "scaledmail"},
        body={},
    )
    wrong = {"providers": {"google": {"domains": [google_spec("notinform.com")]}}}
    assert (
        "original order"
        in (await api.error(400, "POST", path, params={"provider": "scaledmail"}, body=wrong))[
            "error"
        ]
    )
    body = {
        "tag": "form-1",
        "providers": {"google": {"domains": [google_spec(d) for d in form["data"]["domains"]]}},
    }
    done = await api.ok("POST", path, params={"provider": "scaledmail"}, body=body)
    assert done == {"success": True, "message": "Form submitted successfully."}
    assert (await api.ok("GET", "/pending-forms"))["total"] == 0
    details = await api.ok("GET", f"/orders/{form['payment_id']}")
    assert details["total_domains"] == 2 and details["tag"] == "form-1"
    await api.error(400, "POST", path, params={"provider": "scaledmail"}, body=body)


# --------------------------------------------------------------------------- rate limits
async def test_global_rate_limit_429(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeScaledmail(rate_limit=3, clock=clock) as fake:
        api = Api(fake, session)
        for _ in range(3):
            await api.ok("GET", "/packages")
        before = time.time()
        resp = await api.call("GET", "/packages")
        assert resp.status == 429
        assert resp.body["message"] == "Too many requests, please try again later."
        assert resp.body["limit"] == "3 requests per second"
        assert before <= resp.body["retryAfter"] <= time.time() + 2
        assert resp.headers["Retry-After"] == "1"
        # Another key has its own budget.
        assert fake.limiter.acquire("other-key", critical=False) is None
        clock.now += 0.5
        assert (await api.call("GET", "/packages")).status == 429
        clock.now += 0.51
        await api.ok("GET", "/packages")
        assert fake.stats()["rate_limited"] == 2
        assert fake.request_count("get_packages", status=429) == 2


async def test_critical_rate_limit_429(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeScaledmail(critical_limit=2, rate_limit=100, clock=clock) as fake:
        api = Api(fake, session)
        await api.ok("POST", "/search-domains", body={"domains": ["a.com"]})
        await api.ok("POST", "/suggest-domains", body={"domain": "acme"})
        resp = await api.call("POST", "/buy-domains", body={"domains": ["zzq1.com"]})
        assert resp.status == 429
        assert resp.body["message"] == "Too many critical operations, please try again later."
        assert resp.body["limit"] == "2 requests per minute"
        assert resp.headers["Retry-After"] == "60"
        assert fake.applied_count("buy_domains") == 0
        await api.ok("GET", "/orders")  # the global group is not affected
        clock.now += 60
        await api.ok("POST", "/search-domains", body={"domains": ["a.com"]})


async def test_retry_after_header_variants(session: aiohttp.ClientSession) -> None:
    for mode in (False, "http-date"):
        async with FakeScaledmail(rate_limit=1, rate_window=30, retry_after_header=mode) as fake:
            api = Api(fake, session)
            await api.ok("GET", "/packages")
            resp = await api.call("GET", "/packages")
            assert resp.status == 429 and resp.body["limit"] == "1 requests per 30 seconds"
            if mode is False:
                assert "Retry-After" not in resp.headers and resp.body["retryAfter"] > time.time()
            else:
                when = parsedate_to_datetime(resp.headers["Retry-After"]).timestamp()
                assert time.time() + 25 <= when <= time.time() + 32


async def test_rate_limits_switch_off(session: aiohttp.ClientSession) -> None:
    async with FakeScaledmail(rate_limit=1) as fake:
        api = Api(fake, session)
        fake.configure_rate_limits(rate_limits_enabled=False)
        for _ in range(5):
            await api.ok("GET", "/packages")
        fake.configure_rate_limits(rate_limits_enabled=True, rate_limit=2)
        statuses = [(await api.call("GET", "/packages")).status for _ in range(3)]
        assert statuses == [200, 200, 429]


async def test_fixed_window_algorithm_via_server(session: aiohttp.ClientSession) -> None:
    clock = ManualClock()
    async with FakeScaledmail(
        rate_limit=2, rate_limit_algorithm="fixed_window", clock=clock
    ) as fake:
        api = Api(fake, session)
        clock.now += 0.9
        assert [(await api.call("GET", "/packages")).status for _ in range(3)] == [200, 200, 429]
        clock.now += 0.1  # a new fixed window: full budget again right away
        assert [(await api.call("GET", "/packages")).status for _ in range(3)] == [200, 200, 429]


def _limiter(algorithm: Any, clock: ManualClock, burst: int | None = None) -> RateLimiter:
    return RateLimiter(
        global_rule=RateLimitRule("global", 2, 1.0, "g"),
        critical_rule=RateLimitRule("critical", 3, 60.0, "c"),
        algorithm=algorithm,
        burst=burst,
        clock=clock,
    )


def _admitted(limiter: RateLimiter, clock: ManualClock, times: list[float]) -> list[float]:
    out = []
    for t in times:
        clock.now = t
        if limiter.acquire("k", critical=False) is None:
            out.append(t)
    return out


def test_sliding_window_never_exceeds_limit_in_any_window() -> None:
    clock = ManualClock()
    limiter = _limiter("sliding_window", clock)
    times = [1000 + i * 0.05 for i in range(100)]
    admitted = _admitted(limiter, clock, times)
    assert all(len([t for t in admitted if s <= t < s + 1.0]) <= 2 for s in admitted)
    assert len(admitted) == 10
    clock.now = 2000.0
    assert limiter.acquire("k", critical=False) is None
    assert limiter.acquire("k", critical=False) is None
    rejection = limiter.acquire("k", critical=False)
    assert rejection is not None and rejection.wait == pytest.approx(1.0)


def test_fixed_window_allows_burst_across_boundary() -> None:
    clock = ManualClock()
    limiter = _limiter("fixed_window", clock)
    admitted = _admitted(limiter, clock, [1000.9, 1000.95, 1000.99, 1001.0, 1001.01, 1001.02])
    assert admitted == [1000.9, 1000.95, 1001.0, 1001.01]  # 4 within 0.11 s
    clock.now = 1001.5
    rejection = limiter.acquire("k", critical=False)
    assert rejection is not None and rejection.wait == pytest.approx(0.5)


def test_token_bucket_burst_and_refill() -> None:
    clock = ManualClock()
    limiter = _limiter("token_bucket", clock, burst=4)
    assert len(_admitted(limiter, clock, [1000.0] * 6)) == 4
    clock.now = 1000.25  # refill rate 2/s -> half a token
    rejection = limiter.acquire("k", critical=False)
    assert rejection is not None and rejection.wait == pytest.approx(0.25)
    clock.now = 1000.5
    assert limiter.acquire("k", critical=False) is None


def test_critical_rule_needs_both_and_rejections_do_not_consume() -> None:
    clock = ManualClock()
    limiter = _limiter("sliding_window", clock)
    results = []
    for i in range(6):
        clock.now = 1000 + i * 2.0
        results.append(limiter.acquire("k", critical=True))
    assert [r is None for r in results] == [True, True, True, False, False, False]
    assert all(r.rule.name == "critical" for r in results[3:] if r)
    clock.now = 1060.0 + 0.001
    assert limiter.acquire("k", critical=True) is None
    with pytest.raises(ValueError):
        _limiter("leaky", clock)


# --------------------------------------------------------------------------- faults
def _order_body(name: str) -> dict[str, Any]:
    return {"tag": "fault", "providers": {"google": {"domains": [google_spec(name)]}}}


async def _spend(api: Api, name: str, **kwargs: Any) -> Resp:
    return await api.call(
        "POST", "/create-custom-order", params={"provider": "buy"}, body=_order_body(name), **kwargs
    )


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 401, 403, 404])
async def test_status_fault_not_applied(api: Api, status: int) -> None:
    (name,) = await available_names(api, 1)
    fault = api.fake.faults.add("status", status=status, operation="create_custom_order")
    resp = await _spend(api, name)
    assert resp.status == status and isinstance(resp.body, dict)
    assert api.fake.applied_count("create_custom_order") == 0
    assert fault.hits[0].applied is False and fault.remaining == 0
    assert (await _spend(api, name)).status == 200  # the fault was used up
    assert api.fake.request_count("create_custom_order") == 2


async def test_status_fault_after_processing(api: Api) -> None:
    (name,) = await available_names(api, 1)
    api.fake.faults.add("status", status=502, apply=True, body={"error": "Bad gateway"})
    resp = await _spend(api, name)
    assert resp.status == 502 and resp.body == {"error": "Bad gateway"}
    assert api.fake.applied_count("create_custom_order") == 1
    assert api.fake.faults.injected[0].applied is True


@pytest.mark.parametrize("fmt", ["seconds", "http-date", "body", "none"])
async def test_429_fault_formats(api: Api, fmt: str) -> None:
    api.fake.faults.add("status", status=429, retry_after=3, retry_after_format=fmt)
    resp = await api.call("GET", "/orders")
    assert resp.status == 429 and resp.body["message"].startswith("Too many requests")
    header = resp.headers.get("Retry-After")
    if fmt == "seconds":
        assert header == "3" and "retryAfter" in resp.body
    elif fmt == "http-date":
        assert header is not None and parsedate_to_datetime(header).timestamp() > time.time()
    elif fmt == "body":
        assert header is None and resp.body["retryAfter"] >= int(time.time()) + 2
    else:
        assert header is None and "retryAfter" not in resp.body


async def test_reset_before_is_not_applied(api: Api) -> None:
    (name,) = await available_names(api, 1)
    fault = api.fake.faults.add("reset_before", operation="create_custom_order")
    with pytest.raises(aiohttp.ClientConnectionError):
        await _spend(api, name)
    assert api.fake.request_count("create_custom_order") == 1
    assert api.fake.applied_count("create_custom_order") == 0
    assert fault.hits[0].applied is False and api.fake.requests[-1].status is None
    assert not [o for o in api.fake.state.orders.values() if o.tag == "fault"]


async def test_reset_after_is_applied(api: Api) -> None:
    (name,) = await available_names(api, 1)
    api.fake.faults.add("reset_after", operation="create_custom_order")
    with pytest.raises(aiohttp.ClientConnectionError):
        await _spend(api, name)
    assert api.fake.applied_count("create_custom_order") == 1
    assert api.fake.faults.injected[0].applied is True
    assert len([o for o in api.fake.state.orders.values() if o.tag == "fault"]) == 1


async def test_delay_before_and_after_processing(api: Api) -> None:
    name1, name2 = await available_names(api, 2)
    api.fake.faults.add("delay", seconds=5, operation="create_custom_order")
    with pytest.raises(asyncio.TimeoutError):
        await _spend(api, name1, client_timeout=0.2)
    await asyncio.sleep(0.1)  # the server notices the disconnect and drops the handler
    assert api.fake.applied_count("create_custom_order") == 0
    api.fake.faults.add("delay", seconds=5, after=True, operation="create_custom_order")
    with pytest.raises(asyncio.TimeoutError):
        await _spend(api, name2, client_timeout=0.3)
    assert api.fake.applied_count("create_custom_order") == 1
    api.fake.faults.add("delay", seconds=0.05)
    assert (await api.call("GET", "/orders")).status == 200
    assert [h.applied for h in api.fake.faults.injected] == [False, True, True]


async def test_truncated_non_json_and_html(api: Api) -> None:
    full = (await api.call("GET", "/orders")).text
    api.fake.faults.add("truncated_json")
    cut = await api.call("GET", "/orders")
    assert cut.status == 200 and full.startswith(cut.text) and len(cut.text) < len(full)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.text)
    api.fake.faults.add("non_json")
    garbage = await api.call("GET", "/orders")
    assert garbage.status == 200 and garbage.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(json.JSONDecodeError):
        json.loads(garbage.text)
    api.fake.faults.add("html_error", status=502)
    page = await api.call("GET", "/orders")
    assert page.status == 502 and page.headers["Content-Type"].startswith("text/html")
    assert "502 Bad Gateway" in page.text
    assert [h.applied for h in api.fake.faults.injected] == [True, False, False]


async def test_close_mid_body(api: Api, session: aiohttp.ClientSession) -> None:
    (name,) = await available_names(api, 1)
    api.fake.faults.add("close_mid_body", operation="create_custom_order")
    with pytest.raises(aiohttp.ClientPayloadError):
        await _spend(api, name)
    assert api.fake.applied_count("create_custom_order") == 1


async def test_trickle_delivers_whole_body_in_pieces(
    api: Api, session: aiohttp.ClientSession
) -> None:
    api.fake.faults.add("trickle", chunk_size=64, interval=0.01, operation="get_packages")
    url = api.fake.base_url + "/packages"
    headers = {"Authorization": f"Bearer {api.fake.api_key}"}
    chunks = []
    async with session.get(url, headers=headers) as resp:
        async for chunk in resp.content.iter_any():
            chunks.append(chunk)
    body = json.loads(b"".join(chunks))
    assert body["total"] == len(body["packages"]) and len(chunks) > 2


async def test_unable_to_charge_fault(api: Api) -> None:
    (name,) = await available_names(api, 1)
    api.fake.faults.add("unable_to_charge", operation="create_custom_order")
    resp = await _spend(api, name)
    assert resp.status == 400 and resp.body["error"] == "Subscription created but unable to charge"
    assert api.fake.applied_count("create_custom_order") == 1


async def test_faults_fifo_count_and_operation_filter(api: Api) -> None:
    api.fake.faults.add("status", count=2, operation="get_orders", status=503)
    api.fake.faults.add("status", status=500)
    assert (await api.call("GET", "/packages")).status == 500
    assert [(await api.call("GET", "/orders")).status for _ in range(3)] == [503, 503, 200]
    assert api.fake.faults.pending == []
    assert api.fake.faults.injected_count() == 3
    assert api.fake.faults.injected_count("status", "get_orders") == 2
    assert api.fake.stats()["faults_by_kind"] == {"status": 3}
    with pytest.raises(ValueError):
        api.fake.faults.add("explode")
    with pytest.raises(ValueError):
        api.fake.faults.add("status")
    with pytest.raises(TypeError):
        api.fake.faults.add("reset_before", seconds=1)
    assert set(FAULT_KINDS) >= {"status", "reset_before", "reset_after", "delay", "trickle"}


def test_fault_kinds_report_whether_they_apply() -> None:
    queue = FakeScaledmail().faults
    expected = {
        "status": False,
        "reset_before": False,
        "reset_after": True,
        "delay": True,
        "truncated_json": True,
        "non_json": False,
        "html_error": False,
        "close_mid_body": True,
        "trickle": True,
        "unable_to_charge": True,
    }
    extra: dict[str, dict[str, Any]] = {"status": {"status": 500}}
    assert {k: queue.add(k, **extra.get(k, {})).apply for k in FAULT_KINDS} == expected
    assert queue.add("status", status=503, apply=True).apply is True
    assert queue.add("close_mid_body", apply=False).apply is False


async def test_random_faults_are_seeded(session: aiohttp.ClientSession) -> None:
    counts = []
    for _ in range(2):
        async with FakeScaledmail(rate_limits_enabled=False) as fake:
            fake.faults.randomize(0.5, [("status", {"status": 503})], seed=42)
            statuses = [
                (await Api(fake, session).call("GET", "/packages")).status for _ in range(20)
            ]
            counts.append(statuses)
    assert counts[0] == counts[1] and 0 < counts[0].count(503) < 20


# --------------------------------------------------------------------------- counters, lifecycle
async def test_counters_records_and_helpers(api: Api) -> None:
    await api.ok("GET", "/orders")
    await api.error(401, "GET", "/orders", key="bad")
    api.fake.faults.add("status", status=500)
    await api.error(500, "GET", "/orders")
    assert api.fake.request_count("get_orders") == 3
    assert api.fake.applied_count("get_orders") == 1
    record = api.fake.requests[0]
    assert (record.operation_id, record.method, record.status) == ("get_orders", "GET", 200)
    assert record.query == {"organization_id": api.fake.organization_id}
    assert record.key_hash is not None and api.fake.api_key not in record.key_hash
    assert api.fake.requests[2].fault == "status"
    api.fake.assert_request_count("get_orders", 3)
    with pytest.raises(AssertionError, match="expected 2"):
        api.fake.assert_request_count("get_orders", 2)
    with pytest.raises(AssertionError):
        api.fake.assert_applied("get_orders", 0)
    assert api.fake.max_requests_in_window(60.0) == 3
    assert api.fake.max_requests_in_window(1e-9) == 1
    stats = api.fake.stats()
    assert stats["requests"] == 3 and stats["by_status"] == {"200": 1, "401": 1, "500": 1}
    api.fake.reset_counters()
    assert api.fake.request_count() == 0 and api.fake.stats()["faults_injected"] == 0


async def test_close_does_not_hang_with_in_flight_requests(session: aiohttp.ClientSession) -> None:
    fake = FakeScaledmail(rate_limits_enabled=False, shutdown_timeout=0.2)
    await fake.start()
    fake.faults.add("delay", seconds=30)
    task = asyncio.create_task(Api(fake, session).call("GET", "/orders"))
    for _ in range(500):  # until the server has the request in hand
        if fake.request_count():
            break
        await asyncio.sleep(0.01)
    await asyncio.wait_for(fake.close(), timeout=5)
    with pytest.raises(aiohttp.ClientError):
        await task
    assert not fake.running
    await fake.close()  # idempotent
    with pytest.raises(RuntimeError):
        FakeScaledmail().base_url  # noqa: B018


@pytest.mark.scaledmail_fake(seed=3, rate_limit=50)
async def test_pytest_plugin_fixture(
    scaledmail_fake: FakeScaledmail, session: aiohttp.ClientSession
) -> None:
    assert scaledmail_fake.running and scaledmail_fake.options.seed == 3
    assert scaledmail_fake.options.rate_limit == 50
    orgs = await Api(scaledmail_fake, session).ok("GET", "/organizations")
    assert orgs["organizations"][0]["id"] == scaledmail_fake.organization_id


@pytest.mark.skipif(
    importlib.util.find_spec("scaledmail_async._client") is None,
    reason="scaledmail_async._client is not written yet",
)
@pytest.mark.scaledmail_fake(rate_limits_enabled=False)
async def test_pytest_plugin_client_fixture(
    scaledmail_client: Any, scaledmail_fake: FakeScaledmail
) -> None:
    data = await scaledmail_client.request("GET", "/organizations")
    assert data["organizations"][0]["id"] == scaledmail_fake.organization_id
    assert scaledmail_fake.request_count("get_organizations") == 1


@pytest.mark.skipif(
    importlib.util.find_spec("scaledmail_async._converter") is None,
    reason="the SDK's converter is not written yet",
)
async def test_responses_parse_strictly_into_the_sdk_models(api: Api) -> None:
    """The fake sends no field the spec does not model (the strict converter would refuse it)."""
    from scaledmail_async._converter import structure
    from scaledmail_async._generated.operations import OPERATIONS as SDK_OPERATIONS

    async def check(op: str, path: str, **kwargs: Any) -> Any:
        method = SDK_OPERATIONS[op].method
        data = await api.ok(method, path, **kwargs)
        structure(data, SDK_OPERATIONS[op].response_type, strict=True)
        return data

    stock = await check("get_pre_warm_inboxes", "/pre-warm-inboxes")
    domains = (await check("get_domains", "/domains"))["domains"]
    orders = (await check("get_orders", "/orders"))["payments"]
    names = await available_names(api, 3)
    forms = (await check("get_pending_forms", "/pending-forms"))["forms"]
    spare = (await api.ok("GET", "/purchased-domains", params={"available": "true"}))["domains"]
    spec = {"google": {"domains": [google_spec(d) for d in forms[0]["data"]["domains"]]}}
    await check("get_organizations", "/organizations")
    await check("get_purchased_domains", "/purchased-domains")
    await check("search_domains", "/search-domains", body={"domains": ["a.com", "google.com"]})
    await check("suggest_domains", "/suggest-domains", body={"domain": "acme"})
    await check("buy_domains", "/buy-domains", body={"domains": names[:1]})
    await check("get_packages", "/packages")
    await check(
        "calculate_package", "/calculate-package", body={"volume": 9000, "providers": ["smtp"]}
    )
    await check("get_order_details", f"/orders/{orders[1]['id']}")
    await check("get_mailboxes_by_domain_id", f"/mailboxes/{domains[0]['id']}")
    await check(
        "update_domain_redirect",
        f"/swap-redirect/{domains[0]['domain']}",
        body={"new_redirect": ""},
    )
    await check(
        "update_domain_name",
        f"/swap-domain/{domains[1]['domain']}",
        params={"provider": "scaledmail"},
        body={"new_domain": spare[0]["domain"]},
    )
    item = stock["google"][0]
    await check(
        "buy_pre_warm_inboxes",
        "/buy-pre-warm-inboxes",
        body={"domains": [{"id": item["id"], "domain": item["domain"]}]},
    )
    created = await check(
        "create_custom_order",
        "/create-custom-order",
        params={"provider": "buy"},
        body={"providers": {"google": {"domains": [google_spec(names[1])]}}},
    )
    small = next(p for p in (await api.ok("GET", "/packages"))["packages"] if p["domains"] == 2)
    hosting = {"provider": "Porkbun", "username": "u", "password": "p"}
    await check(
        "create_order",
        f"/create-order/{small['id']}",
        params={"provider": "other"},
        body={"domains": [{"domain": "zzown1.com"}, {"domain": "zzown2.com"}], "hosting": hosting},
    )
    await check(
        "submit_form",
        f"/submit-form/{forms[0]['uuid']}",
        params={"provider": "scaledmail"},
        body={"providers": spec},
    )
    await check("cancel_order", f"/orders/{created['id']}")


def test_standalone_server_runs_until_interrupted() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scaledmail_async.testing", "--port", "0", "--seed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Fake Scaledmail API at http://127.0.0.1:"), first
        base_url = first.rsplit(" ", 1)[1].strip()

        async def probe() -> int:
            async with (
                aiohttp.ClientSession() as s,
                s.get(
                    base_url + "/organizations",
                    headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
                ) as r,
            ):
                return r.status

        assert asyncio.run(probe()) == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert DEFAULT_API_KEY not in first + out + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_the_route_table_matches_the_spec() -> None:
    # Every operation of the spec has exactly one route in the fake, with its method and path.
    import yaml

    from scaledmail_async._generated.operations import OPERATIONS as SDK_OPERATIONS
    from scaledmail_async.testing import FAKE_OPERATIONS, FakeRateLimiter

    spec = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "openapi" / "scaledmail.yaml").read_text()
    )
    declared = {
        op["operationId"]: (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }
    routes = {route.operation_id: route for route in FAKE_OPERATIONS}
    assert len(routes) == len(FAKE_OPERATIONS)  # one route per operation
    assert set(routes) == set(declared) == set(SDK_OPERATIONS)
    for op_id, (method, path) in declared.items():
        assert (routes[op_id].method, routes[op_id].path) == (method, path), op_id
    assert RateLimiter is FakeRateLimiter  # the old name stays an alias for one release
