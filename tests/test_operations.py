"""Every one of the 20 operations, called through the client against a local recording server.

For each: the method, the path, the query (``organization_id`` included), the JSON body on the
wire, and the parsed model built from a realistic response body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest
from aiohttp import web

from scaledmail_async import UNSET, ResponseDecodeError, ScaledmailClient
from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async.api import orders as orders_api
from scaledmail_async.models import (
    BuyDomainsResponse,
    CalculatePackageResponse,
    CancelOrderResponse,
    CreateCustomOrderRequest,
    CreateCustomOrderResponse,
    CreateOrderResponse,
    DomainAvailability,
    DomainList,
    DomainSpec,
    GoogleDomains,
    MailboxList,
    OrderDetails,
    OrderList,
    OrderStatus,
    OrganizationList,
    PackageList,
    PendingFormList,
    PreWarmInboxes,
    ProviderDomains,
    PurchasedDomainList,
    SubmitFormResponse,
    SuggestDomainsResponse,
    UpdateDomainNameResponse,
    UpdateDomainRedirectResponse,
)

StartServer = Callable[[web.Application], Awaitable[str]]

ORG = "recOrgA1b2C3d4E5f"

ORDER_DETAILS = {
    "id": "recPay0000000000A",
    "created_at": "2026-02-03T10:15:00.000Z",
    "amount": 84,
    "tag": "northwind-01",
    "status": "Active",
    "description": "SM - Google",
    "invoices": [],
    "total_domains": 2,
    "packages": [
        {
            "type": "Google",
            "id": "recPk00000000000A",
            "note": "",
            "payment_id": "recPay0000000000A",
            "created_at": "2026-02-03T10:21:40.000Z",
            "total_domains": 2,
            "status": "Active",
            "domains": [{"id": "recDm00000000000A", "name": "northwindmail.com", "status": ""}],
        }
    ],
    "addons": [],
    "current_items": [],
    "billing_portal": "https://billing.example/x",  # not in the spec: must stay reachable
}


@attrs.define
class Case:
    """One operation call and what must be seen on the wire and in the result."""

    call: Callable[[ScaledmailClient], Awaitable[Any]]
    method: str
    path: str
    query: dict[str, str]
    body: Any  # the JSON body expected on the wire (None: no body)
    response: Any
    check: Callable[[Any], object]


def _check_orgs(r: Any) -> None:
    assert isinstance(r, OrganizationList)
    assert r.organizations[0].id == "recOrgA1b2C3d4E5f"
    assert r.organizations[0].name == "acme-outbound"


def _check_prewarm(r: Any) -> None:
    assert isinstance(r, PreWarmInboxes)
    g = r.google[0]
    assert g.email_mailbox_count == 2 and g.pricing and g.pricing.one_time_price == 20
    assert g.email_mailbox and g.email_mailbox[0].alias == "ana"
    assert r.outlook == []


def _check_domains(r: Any) -> None:
    assert isinstance(r, DomainList)
    d = r.domains[0]
    assert (d.id, d.status, d.order_type, d.total_mailboxes) == (
        "recDm00000000000A",
        "In Progress",
        "google",
        3,
    )
    assert d.mailbox and d.mailbox[0].first_name == "Lea"


def _check_purchased(r: Any) -> None:
    assert isinstance(r, PurchasedDomainList)
    assert r.domains[1].domain_id is None and r.domains[0].renewal_price == 16.5


def _check_search(r: Any) -> None:
    assert isinstance(r, list) and all(isinstance(x, DomainAvailability) for x in r)
    assert r[0].renew_price == 17.5 and r[1].price is None and r[1].status == "taken"


def _check_suggest(r: Any) -> None:
    assert isinstance(r, SuggestDomainsResponse)
    assert (r.page, r.total_pages) == (2, 2) and r.domains[0].domain == "harborlyhq.com"


def _check_details(r: Any) -> None:
    assert isinstance(r, OrderDetails)
    assert r.status is OrderStatus.ACTIVE
    assert r.created_at == datetime(2026, 2, 3, 10, 15, tzinfo=UTC)
    assert r.packages and r.packages[0].domains and r.packages[0].domains[0].status == ""
    assert r.additional_properties == {"billing_portal": "https://billing.example/x"}


def _check_calc(r: Any) -> None:
    assert isinstance(r, CalculatePackageResponse)
    assert r.data and r.data.total_price == 395 and r.data.provider_breakdown
    assert r.data.provider_breakdown[0].price_per_unit == 3.5


CASES: dict[str, Case] = {
    "get_organizations": Case(
        lambda c: c.get_organizations(),
        "GET",
        "/api/v1/organizations",
        {},
        None,
        {"organizations": [{"id": "recOrgA1b2C3d4E5f", "name": "acme-outbound"}]},
        _check_orgs,
    ),
    "get_pre_warm_inboxes": Case(
        lambda c: c.get_pre_warm_inboxes(),
        "GET",
        "/api/v1/pre-warm-inboxes",
        {"organization_id": ORG},
        None,
        {
            "total": 1,
            "google": [
                {
                    "id": "recPw0000000000G1",
                    "domain": "brightlanehq.com",
                    "warmup_age": 2,
                    "emailMailboxCount": 2,
                    "pricing": {"oneTimePrice": 20, "monthlyPrice": 9},
                    "emailMailbox": [{"first_name": "Ana", "last_name": "Reyes", "alias": "ana"}],
                }
            ],
            "outlook": [],
        },
        _check_prewarm,
    ),
    "buy_pre_warm_inboxes": Case(
        lambda c: c.buy_pre_warm_inboxes(
            body={
                "tag": "client-zeta",
                "domains": [{"id": "recPw0000000000G1", "domain": "brightlanehq.com"}],
            }
        ),
        "POST",
        "/api/v1/buy-pre-warm-inboxes",
        {"organization_id": ORG},
        {
            "tag": "client-zeta",
            "domains": [{"id": "recPw0000000000G1", "domain": "brightlanehq.com"}],
        },
        {"success": True, "payment_id": "recPay0000000000Z"},
        lambda r: None,
    ),
    "get_domains": Case(
        lambda c: c.get_domains(),
        "GET",
        "/api/v1/domains",
        {"organization_id": ORG},
        None,
        {
            "domains": [
                {
                    "id": "recDm00000000000A",
                    "domain": "northwindmail.com",
                    "payment_id": "recPay0000000000A",
                    "status": "In Progress",
                    "order_type": "google",
                    "total_mailboxes": 3,
                    "mailbox": [{"first_name": "Lea", "last_name": "Moss", "alias": "lea"}],
                    "redirect": "",
                    "tag": "northwind-01",
                    "domain_provider": "scaledmail",
                    "domain_masking": False,
                }
            ]
        },
        _check_domains,
    ),
    "get_purchased_domains": Case(
        lambda c: c.get_purchased_domains(available=False),
        "GET",
        "/api/v1/purchased-domains",
        {"organization_id": ORG, "available": "false"},
        None,
        {
            "domains": [
                {
                    "domain": "northwindmail.com",
                    "domain_id": "recDm00000000000A",
                    "created_at": "2026-02-03",
                    "renewal_at": "2027-02-03",
                    "renewal_price": 16.5,
                },
                {"domain": "northwindhq.com", "domain_id": None, "renewal_price": 16.5},
            ]
        },
        _check_purchased,
    ),
    "search_domains": Case(
        lambda c: c.search_domains(body={"domains": ["tidewaterleads.com", "google.com"]}),
        "POST",
        "/api/v1/search-domains",
        {"organization_id": ORG},
        {"domains": ["tidewaterleads.com", "google.com"]},
        [
            {
                "domain": "tidewaterleads.com",
                "status": "available",
                "price": 15.5,
                "renewPrice": 17.5,
            },
            {"domain": "google.com", "status": "taken", "price": None, "renewPrice": None},
        ],
        _check_search,
    ),
    "suggest_domains": Case(
        lambda c: c.suggest_domains(
            body={"domain": "harborly", "tlds": [".com"]}, page=2, limit=20
        ),
        "POST",
        "/api/v1/suggest-domains",
        {"organization_id": ORG, "page": "2", "limit": "20"},
        {"domain": "harborly", "tlds": [".com"]},
        {
            "total": 40,
            "page": 2,
            "limit": 20,
            "total_pages": 2,
            "domains": [
                {"domain": "harborlyhq.com", "status": "available", "price": 15.5, "renewPrice": 17}
            ],
        },
        _check_suggest,
    ),
    "buy_domains": Case(
        lambda c: c.buy_domains(body={"domains": ["tidewaterleads.com"]}),
        "POST",
        "/api/v1/buy-domains",
        {"organization_id": ORG},
        {"domains": ["tidewaterleads.com"]},
        {"success": True},
        lambda r: (isinstance(r, BuyDomainsResponse) and r.success) or pytest.fail(repr(r)),
    ),
    "update_domain_name": Case(
        lambda c: c.update_domain_name(
            "old brand.com",
            provider="other",
            body={
                "new_domain": "northwindhq.com",
                "hosting": {"provider": "Porkbun", "username": "u", "password": "p"},
            },
        ),
        "POST",
        "/api/v1/swap-domain/old%20brand.com",
        {"organization_id": ORG, "provider": "other"},
        {
            "new_domain": "northwindhq.com",
            "hosting": {"provider": "Porkbun", "username": "u", "password": "p"},
        },
        {"success": True, "message": "Swap requested"},
        lambda r: isinstance(r, UpdateDomainNameResponse) or pytest.fail(repr(r)),
    ),
    "update_domain_redirect": Case(
        lambda c: c.update_domain_redirect(
            "northwindmail.com", body={"new_redirect": "https://northwind.example"}
        ),
        "POST",
        "/api/v1/swap-redirect/northwindmail.com",
        {"organization_id": ORG},
        {"new_redirect": "https://northwind.example"},
        {},
        lambda r: isinstance(r, UpdateDomainRedirectResponse) or pytest.fail(repr(r)),
    ),
    "get_packages": Case(
        lambda c: c.get_packages(),
        "GET",
        "/api/v1/packages",
        {"organization_id": ORG},
        None,
        {
            "total": 1,
            "packages": [
                {
                    "id": "price_0AbCdEfGhIjKlMnOpQrStUvW",
                    "tier": "medium-sending",
                    "name": "Google 40",
                    "mode": "subscription",
                    "price": 140,
                    "domains": 20,
                    "google": {"mailbox": 40},
                    "frequency": "/monthly",
                }
            ],
        },
        lambda r: (
            (
                isinstance(r, PackageList)
                and r.packages[0].google
                and r.packages[0].google.mailbox == 40
            )
            or pytest.fail(repr(r))
        ),
    ),
    "calculate_package": Case(
        lambda c: c.calculate_package(
            body={
                "volume": 60000,
                "providers": ["google", "outlook"],
                "distribution": {"google": 70, "outlook": 30},
                "tier": "medium",
            }
        ),
        "POST",
        "/api/v1/calculate-package",
        {"organization_id": ORG},
        {
            "volume": 60000,
            "providers": ["google", "outlook"],
            "distribution": {"google": 70, "outlook": 30},
            "tier": "medium",
        },
        {
            "success": True,
            "data": {
                "monthlyVolume": 60000,
                "dailyVolume": 2000,
                "providerBreakdown": [
                    {
                        "provider": "google",
                        "requiredDomains": 24,
                        "pricePerUnit": 3.5,
                        "totalPrice": 245,
                    }
                ],
                "totalPrice": 395,
            },
        },
        _check_calc,
    ),
    "get_orders": Case(
        lambda c: c.get_orders(),
        "GET",
        "/api/v1/orders",
        {"organization_id": ORG},
        None,
        {
            "total": 1,
            "payments": [
                {
                    "id": "recPay0000000000A",
                    "amount": 84,
                    "created_at": "2026-02-03T10:15:00.000Z",
                    "status": "canceled",  # a spelling the spec does not list: kept as str
                    "description": "SM - Google",
                }
            ],
        },
        lambda r: (
            (isinstance(r, OrderList) and r.payments[0].status == "canceled")
            or pytest.fail(repr(r))
        ),
    ),
    "get_order_details": Case(
        lambda c: orders_api.get_order_details(c, "recPay0000000000A"),
        "GET",
        "/api/v1/orders/recPay0000000000A",
        {"organization_id": ORG},
        None,
        ORDER_DETAILS,
        _check_details,
    ),
    "cancel_order": Case(
        lambda c: c.cancel_order("recPay0000000000A", organization_id="recOtherOrg00001"),
        "DELETE",
        "/api/v1/orders/recPay0000000000A",
        {"organization_id": "recOtherOrg00001"},
        None,
        {"success": True, "message": "Subscription canceled successfully."},
        lambda r: (
            (isinstance(r, CancelOrderResponse) and r.success is True) or pytest.fail(repr(r))
        ),
    ),
    "create_order": Case(
        lambda c: c.create_order(
            "price_0AbCdEfGhIjKlMnOpQrStUvW",
            provider="scaledmail",
            coupon="WELCOME10",
            body={
                "domains": [
                    {"domain": "northwindmail.com", "first_name": "Lea", "last_name": "Moss"}
                ]
            },
        ),
        "POST",
        "/api/v1/create-order/price_0AbCdEfGhIjKlMnOpQrStUvW",
        {"organization_id": ORG, "provider": "scaledmail", "coupon": "WELCOME10"},
        {"domains": [{"domain": "northwindmail.com", "first_name": "Lea", "last_name": "Moss"}]},
        {"id": "recPay0000000000N"},
        lambda r: (
            (isinstance(r, CreateOrderResponse) and r.id == "recPay0000000000N")
            or pytest.fail(repr(r))
        ),
    ),
    "create_custom_order": Case(
        lambda c: c.create_custom_order(
            provider="buy",
            body=CreateCustomOrderRequest(
                tag="northwind-7f3a2c",
                providers=ProviderDomains(
                    google=GoogleDomains(
                        mailboxes_per_domain=3,
                        domains=[
                            DomainSpec(
                                domain="tidewaterleads.com", first_name="Lea", last_name="Moss"
                            )
                        ],
                    )
                ),
            ),
        ),
        "POST",
        "/api/v1/create-custom-order",
        {"organization_id": ORG, "provider": "buy"},
        {
            "tag": "northwind-7f3a2c",
            "providers": {
                "google": {
                    "mailboxes_per_domain": 3,
                    "domains": [
                        {"domain": "tidewaterleads.com", "first_name": "Lea", "last_name": "Moss"}
                    ],
                }
            },
        },
        {"success": True, "payment_id": "recPay0000000000C", "invoice_url": "https://x"},
        lambda r: (
            (
                isinstance(r, CreateCustomOrderResponse)
                and r.payment_id == "recPay0000000000C"
                and r.additional_properties == {"invoice_url": "https://x"}
            )
            or pytest.fail(repr(r))
        ),
    ),
    "get_pending_forms": Case(
        lambda c: c.get_pending_forms(),
        "GET",
        "/api/v1/pending-forms",
        {"organization_id": ORG},
        None,
        {
            "total": 1,
            "forms": [
                {
                    "payment_id": "recPay0000000000B",
                    "uuid": "0b6c7d9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e",
                    "created_at": "2026-04-02",
                    "amount": 99,
                    "type": "package-subscription",
                    "data": {"quantity": 1, "domains_required": 1, "domains": ["harborlyhq.com"]},
                }
            ],
        },
        lambda r: (
            (
                isinstance(r, PendingFormList)
                and r.forms[0].created_at == date(2026, 4, 2)
                and r.forms[0].data
                and r.forms[0].data.domains == ["harborlyhq.com"]
            )
            or pytest.fail(repr(r))
        ),
    ),
    "submit_form": Case(
        lambda c: c.submit_form(
            "0b6c7d9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e",
            provider="scaledmail",
            body={
                "providers": {
                    "smtp": {
                        "domains": [
                            {"domain": "harborlyhq.com", "first_name": "Ian", "last_name": "Park"}
                        ]
                    }
                }
            },
        ),
        "POST",
        "/api/v1/submit-form/0b6c7d9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e",
        {"organization_id": ORG, "provider": "scaledmail"},
        {
            "providers": {
                "smtp": {
                    "domains": [
                        {"domain": "harborlyhq.com", "first_name": "Ian", "last_name": "Park"}
                    ]
                }
            }
        },
        {"success": True},
        lambda r: isinstance(r, SubmitFormResponse) or pytest.fail(repr(r)),
    ),
    "get_mailboxes_by_domain_id": Case(
        lambda c: c.get_mailboxes_by_domain_id("recDm00000000000A", password=True),
        "GET",
        "/api/v1/mailboxes/recDm00000000000A",
        {"organization_id": ORG, "password": "true"},
        None,
        {
            "mailboxes": [
                {
                    "email": "lea@northwindmail.com",
                    "first_name": "Lea",
                    "last_name": "Moss",
                    "status": "Active",
                    "app_password": "abcd efgh",
                }
            ]
        },
        lambda r: (
            (
                isinstance(r, MailboxList)
                and r.mailboxes[0].email == "lea@northwindmail.com"
                and r.mailboxes[0].additional_properties == {"app_password": "abcd efgh"}
            )
            or pytest.fail(repr(r))
        ),
    ),
}


def test_every_operation_has_a_case() -> None:
    assert set(CASES) == set(OPERATIONS)


@pytest.mark.parametrize("operation_id", sorted(CASES))
async def test_operation_on_the_wire(operation_id: str, serve: StartServer, api_key: str) -> None:
    case = CASES[operation_id]
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        raw = await request.read()
        seen.append(
            {
                "method": request.method,
                "path": request.raw_path.split("?")[0],
                "query": dict(request.query),
                "body": json.loads(raw) if raw else None,
                "content_type": request.headers.get("Content-Type"),
                "auth": request.headers.get("Authorization"),
            }
        )
        return web.json_response(case.response)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    base = await serve(app)
    async with ScaledmailClient(api_key, base_url=base, organization_id=ORG, rate_limit=None) as c:
        result = await case.call(c)
    assert len(seen) == 1
    (req,) = seen
    assert req["method"] == case.method == OPERATIONS[operation_id].method
    assert req["path"] == case.path
    assert req["query"] == case.query
    sent = req["body"]
    how = OPERATIONS[operation_id].reconcile
    if how is not None and how.by == "tag" and isinstance(case.body, dict):
        if not case.body.get(how.field):
            # a spend without a tag gets a minted one (so the order can be found again)
            assert isinstance(sent, dict)
            minted = sent.pop(how.field)
            assert isinstance(minted, str) and minted.startswith("sm-") and len(minted) == 15
    assert sent == case.body
    if case.body is not None:
        assert req["content_type"] == "application/json"
    assert req["auth"] == f"Bearer {api_key}"
    case.check(result)


@pytest.mark.parametrize("status", [200, 204])
async def test_empty_2xx_of_an_undocumented_write_is_a_success(
    status: int, serve: StartServer, api_key: str
) -> None:
    """The write answers are undocumented: a 204 or an empty 200 must not look like a failure."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    base = await serve(app)
    async with ScaledmailClient(api_key, base_url=base, organization_id=ORG, rate_limit=None) as c:
        result = await c.update_domain_redirect("a.com", body={"new_redirect": "https://b.example"})
        bought = await c.buy_domains(body={"domains": ["tidewaterleads.com"]})
    assert isinstance(result, UpdateDomainRedirectResponse)
    assert result.success is UNSET and result.additional_properties == {}
    assert isinstance(bought, BuyDomainsResponse)


async def test_empty_body_where_a_shape_is_required_is_a_decode_error(
    serve: StartServer, api_key: str
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path.endswith("/orders"):
            return web.Response(status=200)
        return web.Response(status=200, text="<html>ok</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    base = await serve(app)
    async with ScaledmailClient(api_key, base_url=base, organization_id=ORG, rate_limit=None) as c:
        with pytest.raises(ResponseDecodeError, match="the body is empty") as empty:
            await c.get_orders()
        with pytest.raises(ResponseDecodeError) as spend:
            await c.buy_domains(body={"domains": ["tidewaterleads.com"]})
    assert empty.value.status_code == 200
    # A spending call that got a 2xx went through: the error must say so, never invite a retry.
    assert "purchase went through" in str(spend.value) and "Do not retry" in str(spend.value)
    assert spend.value.text == "<html>ok</html>"
