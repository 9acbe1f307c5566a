"""Models serialise (issue 17, item 2): ``to_dict()`` / ``to_json()`` / ``from_dict()`` on every
model, with wire names, ``UNSET`` left out, dates in the wire format and unknown keys kept; and a
model returned from an aiohttp handler as JSON.

The reference is the server's own JSON: every read of the embedded fake is fetched twice, once
raw (``client.request``) and once parsed, and the parsed model's ``to_dict()`` must be that JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from conftest import StartServer

from scaledmail_async import ScaledmailClient, models
from scaledmail_async._model_base import ScaledmailModel
from scaledmail_async._model_types import MODEL_CLASSES
from scaledmail_async.testing import FakeScaledmail


def test_every_model_has_the_methods() -> None:
    assert len(MODEL_CLASSES) > 40
    for name, cls in MODEL_CLASSES.items():
        assert issubclass(cls, ScaledmailModel), name
        assert callable(cls.to_dict) and callable(cls.to_json) and callable(cls.from_dict)
        # The base class keeps the attrs classes slotted (no per-instance __dict__).
        assert "__dict__" not in cls.__dict__ and "__slots__" in cls.__dict__, name


def test_to_dict_uses_wire_names_omits_unset_keeps_unknown_keys() -> None:
    payment = models.Payment(
        id="recPAY",
        amount=12.5,
        created_at=datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC),
        status=models.OrderStatus.ACTIVE,
        additional_properties={"invoiceUrl": "https://x.example/i/1", "extra": {"a": [1]}},
    )
    data = payment.to_dict()
    assert data == {
        "id": "recPAY",
        "amount": 12.5,
        "created_at": "2026-03-14T09:26:53.000Z",
        "status": "Active",
        "invoiceUrl": "https://x.example/i/1",
        "extra": {"a": [1]},
    }
    assert "description" not in data  # UNSET is left out, not "UNSET" or None
    assert json.loads(payment.to_json()) == data
    assert models.Payment.from_dict(data) == payment
    # camelCase wire names, a nested model, a date, null kept as null
    domain = models.PreWarmDomain(
        id="recD",
        domain="acme.com",
        email_mailbox_count=3,
        pricing=models.PreWarmPricing(one_time_price=10.0),
    )
    assert domain.to_dict() == {
        "id": "recD",
        "domain": "acme.com",
        "emailMailboxCount": 3,
        "pricing": {"oneTimePrice": 10.0},
    }
    form = models.PendingForm(payment_id="p", uuid="u", created_at=date(2026, 1, 2))
    assert form.to_dict()["created_at"] == "2026-01-02"
    purchased = models.PurchasedDomain(domain="a.com", domain_id=None)
    assert purchased.to_dict() == {"domain": "a.com", "domain_id": None}
    # Unknown enum values survive the round trip as strings.
    odd = models.OrderDetails.from_dict({"id": "r", "status": "Suspended"})
    assert odd.status == "Suspended" and odd.to_dict() == {"id": "r", "status": "Suspended"}
    # A request model serialises the same way (what would be sent).
    body = models.CalculatePackageRequest(volume=1000, providers=["google"], tier="max")
    assert body.to_dict() == {"volume": 1000, "providers": ["google"], "tier": "max"}


def test_to_json_keeps_non_ascii_and_indents() -> None:
    org = models.Organization(id="recO", name="Ünïcode GmbH")
    assert '"Ünïcode GmbH"' in org.to_json()
    assert org.to_json(indent=2).startswith("{\n  ")


def test_from_dict_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match=r"OrderList\.from_dict: \$\.payments\[0\]\.id"):
        models.OrderList.from_dict({"payments": [{"amount": 3}]})


def test_attrs_asdict_is_not_the_wire_form() -> None:
    """Why to_dict exists: attrs.asdict shows Python names and UNSET."""
    domain = models.PreWarmDomain(id="recD", domain="acme.com", email_mailbox_count=3)
    plain = attrs.asdict(domain)
    assert "email_mailbox_count" in plain and "emailMailboxCount" not in plain
    assert domain.to_dict()["emailMailboxCount"] == 3


async def test_every_read_serialises_to_the_servers_json() -> None:
    async with FakeScaledmail() as fake:
        async with ScaledmailClient(
            fake.api_key, base_url=fake.base_url, organization_id=fake.organization_id
        ) as client:
            orders = await client.get_orders()
            order_id = orders.payments[0].id
            domains = await client.get_domains()
            domain_id = domains.domains[0].id
            reads: list[tuple[str, Any]] = [
                ("/organizations", await client.get_organizations()),
                ("/pre-warm-inboxes", await client.get_pre_warm_inboxes()),
                ("/domains", domains),
                ("/purchased-domains", await client.get_purchased_domains()),
                ("/packages", await client.get_packages()),
                ("/orders", orders),
                (f"/orders/{order_id}", await client.get_order_details(order_id)),
                ("/pending-forms", await client.get_pending_forms()),
                (f"/mailboxes/{domain_id}", await client.get_mailboxes_by_domain_id(domain_id)),
            ]
            for path, parsed in reads:
                raw = await client.request("GET", path)
                assert isinstance(parsed, ScaledmailModel)
                assert parsed.to_dict() == raw, path
                assert json.loads(parsed.to_json()) == raw, path
                assert type(parsed).from_dict(parsed.to_dict()) == parsed, path


async def test_a_handler_returns_a_model_as_json(serve: StartServer) -> None:
    """The documented way: ``web.json_response(model.to_dict())`` (FastAPI: return it)."""
    order = models.OrderDetails(
        id="recORD",
        created_at=datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC),
        total_domains=2,
        additional_properties={"newThing": True},
    )

    async def handler(_: web.Request) -> web.Response:
        return web.json_response(order.to_dict())

    app = web.Application()
    app.router.add_get("/api/v1/my-order", handler)
    base = await serve(app)
    async with aiohttp.ClientSession() as session, session.get(f"{base}/my-order") as resp:
        body = await resp.json()
    assert body == {
        "id": "recORD",
        "created_at": "2026-03-14T09:26:53.000Z",
        "total_domains": 2,
        "newThing": True,
    }
    assert models.OrderDetails.from_dict(body) == order
