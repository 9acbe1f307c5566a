"""Bad input: malformed calls fail with ``RequestValidationError`` naming the field, before
anything is sent (the server receives 0 requests).

Some inputs that *look* dangerous are valid ids and must be sent, percent-encoded into one path
segment: an order id may contain ``/``, ``?``, ``#``, ``%``, spaces or unicode (ids are opaque to
the client; refusing them would make such a resource unreachable). For those the test asserts
the exact encoded path on the wire (an aiohttp trace hook), that exactly one request reached the
server, and that nothing escaped the path: ``order_id="../organizations"`` never reaches
``/organizations``. Only the ids that cannot be one segment are rejected: empty, blank, ``.``
and ``..`` (URL normalisation would resolve the dot segments), and non-strings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import aiohttp
import pytest
from reliability_helpers import client_for, new_key

from scaledmail_async._client import ScaledmailClient
from scaledmail_async.errors import NotFoundError, RequestValidationError
from scaledmail_async.models import (
    AliasDict,
    CreateCustomOrderBody,
    DomainSpecDict,
    ProviderDomainsDict,
)
from scaledmail_async.testing import FakeScaledmail

Call = Callable[[ScaledmailClient], Awaitable[Any]]


def _named(domain: str) -> DomainSpecDict:
    return {"domain": domain, "first_name": "Lea", "last_name": "Moss"}


def _aliases(count: int) -> list[AliasDict]:
    return [{"first_name": "Lea", "last_name": "Moss", "alias": f"a{i}"} for i in range(count)]


def _custom(providers: ProviderDomainsDict) -> CreateCustomOrderBody:
    return {"providers": providers}


NAMES_11 = [f"name{i}.com" for i in range(11)]
GOOD_CUSTOM = _custom({"google": {"domains": [_named("a-good-name.com")]}})


@dataclass(frozen=True)
class Bad:
    id: str
    call: Call
    field: str


BAD: list[Bad] = [
    # -- path ids ---------------------------------------------------------------------------
    Bad("order_id empty", lambda c: c.get_order_details(""), "order_id"),
    Bad("order_id blank", lambda c: c.get_order_details("   "), "order_id"),
    Bad("order_id tab/newline", lambda c: c.get_order_details("\t\n"), "order_id"),
    Bad("order_id dot", lambda c: c.get_order_details("."), "order_id"),
    Bad("order_id dot-dot", lambda c: c.get_order_details(".."), "order_id"),
    Bad("order_id None", lambda c: c.get_order_details(None), "order_id"),  # type: ignore[arg-type]
    Bad("order_id float", lambda c: c.get_order_details(1.5), "order_id"),  # type: ignore[arg-type]
    Bad("order_id list", lambda c: c.get_order_details(["rec1"]), "order_id"),  # type: ignore[arg-type]
    Bad("order_id bytes", lambda c: c.get_order_details(b"rec1"), "order_id"),  # type: ignore[arg-type]
    Bad("cancel dot-dot", lambda c: c.cancel_order(".."), "order_id"),
    Bad("cancel empty", lambda c: c.cancel_order(""), "order_id"),
    Bad(
        "redirect domain blank",
        lambda c: c.update_domain_redirect(" ", body={"new_redirect": "x.example"}),
        "domain",
    ),
    Bad(
        "redirect domain dot",
        lambda c: c.update_domain_redirect(".", body={"new_redirect": "x.example"}),
        "domain",
    ),
    Bad(
        "swap domain empty",
        lambda c: c.update_domain_name("", provider="scaledmail", body={"new_domain": "b.com"}),
        "domain",
    ),
    Bad("mailboxes domain_id empty", lambda c: c.get_mailboxes_by_domain_id(""), "domain_id"),
    Bad(
        "create_order price_id blank",
        lambda c: c.create_order(" ", provider="scaledmail", body={"domains": [_named("a.com")]}),
        "price_id",
    ),
    # -- tags, names, aliases ---------------------------------------------------------------
    Bad(
        "custom order tag 21 chars",
        lambda c: c.create_custom_order(provider="buy", body={**GOOD_CUSTOM, "tag": "t" * 21}),
        "body.tag",
    ),
    Bad(
        "create_order tag 21 chars",
        lambda c: c.create_order(
            "price_x", provider="scaledmail", body={"domains": [_named("a.com")], "tag": "x" * 21}
        ),
        "body.tag",
    ),
    Bad("search 11 names", lambda c: c.search_domains(body={"domains": NAMES_11}), "body.domains"),
    Bad("buy 11 names", lambda c: c.buy_domains(body={"domains": NAMES_11}), "body.domains"),
    Bad("search no names", lambda c: c.search_domains(body={"domains": []}), "body.domains"),
    Bad(
        "search non-string name",
        # deliberately invalid: checked at run time
        lambda c: c.search_domains(body=cast(Any, {"domains": ["a.com", 5]})),
        "body.domains[1]",
    ),
    Bad(
        "search names as a string",
        # deliberately invalid: checked at run time
        lambda c: c.search_domains(body=cast(Any, {"domains": "a.com"})),
        "body.domains",
    ),
    Bad(
        "mixed alias formats",
        lambda c: c.create_custom_order(
            provider="buy",
            body=_custom(
                {
                    "smtp": {
                        "domains": [{"domain": "a.com", "aliases": _aliases(4)}, _named("b.com")]
                    }
                }
            ),
        ),
        "body.providers.smtp.domains[1]",
    ),
    Bad(
        "smtp 3 aliases",
        lambda c: c.create_custom_order(
            provider="buy",
            body=_custom({"smtp": {"domains": [{"domain": "a.com", "aliases": _aliases(3)}]}}),
        ),
        "body.providers.smtp.domains[0].aliases",
    ),
    Bad(
        "outlook 26 aliases",
        lambda c: c.submit_form(
            "uuid-1",
            provider="scaledmail",
            body=_custom({"outlook": {"domains": [{"domain": "a.com", "aliases": _aliases(26)}]}}),
        ),
        "body.providers.outlook.domains[0].aliases",
    ),
    Bad(
        "alias with @",
        lambda c: c.create_custom_order(
            provider="buy",
            body=_custom(
                {
                    "smtp": {
                        "domains": [
                            {
                                "domain": "a.com",
                                "aliases": [*_aliases(3), {**_aliases(1)[0], "alias": "x@y.com"}],
                            }
                        ]
                    }
                }
            ),
        ),
        "body.providers.smtp.domains[0].aliases[3].alias",
    ),
    # -- numbers, enums -----------------------------------------------------------------------
    Bad(
        "volume zero",
        lambda c: c.calculate_package(body={"volume": 0, "providers": ["google"]}),
        "body.volume",
    ),
    Bad(
        "volume negative",
        lambda c: c.calculate_package(body={"volume": -500, "providers": ["google"]}),
        "body.volume",
    ),
    Bad(
        "volume as string",
        # deliberately invalid: checked at run time
        lambda c: c.calculate_package(body=cast(Any, {"volume": "500", "providers": ["google"]})),
        "body.volume",
    ),
    Bad(
        "unknown ESP in calculate",
        # deliberately invalid: checked at run time
        lambda c: c.calculate_package(body=cast(Any, {"volume": 500, "providers": ["gmail"]})),
        "body.providers[0]",
    ),
    Bad(
        "unknown provider (custom order)",
        # deliberately invalid: checked at run time
        lambda c: c.create_custom_order(provider=cast(Any, "godaddy"), body=GOOD_CUSTOM),
        "provider",
    ),
    Bad(
        "buy provider on swap domain",
        # deliberately invalid: checked at run time
        lambda c: c.update_domain_name(
            "a.com", provider=cast(Any, "buy"), body={"new_domain": "b.com"}
        ),
        "provider",
    ),
    Bad(
        "unknown provider key in body",
        lambda c: c.create_custom_order(
            provider="buy",
            # deliberately invalid: checked at run time
            body=_custom(cast(Any, {"yahoo": {"domains": [_named("a.com")]}})),
        ),
        "body.providers.yahoo",
    ),
    Bad("suggest page 0", lambda c: c.suggest_domains(page=0, body={"domain": "acme"}), "page"),
    Bad(
        "suggest limit 51", lambda c: c.suggest_domains(limit=51, body={"domain": "acme"}), "limit"
    ),
    Bad(
        "suggest page as string",
        lambda c: c.suggest_domains(page="2", body={"domain": "acme"}),  # type: ignore[arg-type]
        "page",
    ),
    Bad(
        "available as string",
        lambda c: c.get_purchased_domains(available="true"),  # type: ignore[arg-type]
        "available",
    ),
    Bad("blank organization_id", lambda c: c.get_orders(organization_id="  "), "organization_id"),
    # -- bodies of the wrong shape -------------------------------------------------------------
    Bad("search body list", lambda c: c.search_domains(body=["a.com"]), "body"),  # type: ignore[arg-type]
    Bad("search body string", lambda c: c.search_domains(body="a.com"), "body"),  # type: ignore[arg-type]
    Bad("search body int", lambda c: c.search_domains(body=42), "body"),  # type: ignore[arg-type]
    Bad("search body None", lambda c: c.search_domains(body=None), "body"),  # type: ignore[arg-type]
    Bad(
        "redirect not a string",
        # deliberately invalid: checked at run time
        lambda c: c.update_domain_redirect("a.com", body=cast(Any, {"new_redirect": 5})),
        "body.new_redirect",
    ),
    Bad(
        "hosting missing for provider=other",
        lambda c: c.update_domain_name("a.com", provider="other", body={"new_domain": "b.com"}),
        "body.hosting",
    ),
    # -- the low-level request() -----------------------------------------------------------
    Bad("request path without slash", lambda c: c.request("GET", "orders"), "path"),
    Bad("request path with query", lambda c: c.request("GET", "/orders?x=1"), "path"),
    Bad("request path with fragment", lambda c: c.request("GET", "/orders#x"), "path"),
    Bad("request protocol-relative path", lambda c: c.request("GET", "//evil.example/x"), "path"),
    Bad("request scheme in path", lambda c: c.request("GET", "/http://evil.example"), "path"),
    Bad("request body not JSON", lambda c: c.request("POST", "/x", json={1, 2}), "json"),
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeScaledmail]:
    async with FakeScaledmail(api_key=new_key("BADINPUT"), rate_limits_enabled=False) as server:
        yield server


@pytest.fixture
async def client(fake: FakeScaledmail) -> AsyncIterator[ScaledmailClient]:
    async with client_for(fake, rate_limit=None, max_retries=0) as c:
        yield c


def test_at_least_forty_cases() -> None:
    assert len(BAD) >= 40
    assert len({b.id for b in BAD}) == len(BAD)


@pytest.mark.parametrize("case", BAD, ids=[b.id.replace(" ", "_") for b in BAD])
async def test_rejected_before_sending(
    case: Bad, client: ScaledmailClient, fake: FakeScaledmail
) -> None:
    with pytest.raises(RequestValidationError) as info:
        await case.call(client)
    assert info.value.field == case.field, info.value
    assert isinstance(info.value, ValueError)
    assert fake.request_count() == 0


# -- ids that are valid and must be encoded, not rejected ----------------------------------------

ENCODED_IDS = [
    "a/b",
    "../organizations",
    "..%2F..%2Forganizations",
    "x?organization_id=other",
    "x#fragment",
    "%2F",
    "rec 1",
    " rec1",
    "récépissé-Ω",
    "rec\u202e1",
    "./x",
    "...",
    "a\\b",
    "rec;x=1",
]


@pytest.mark.parametrize("order_id", ENCODED_IDS)
async def test_odd_ids_stay_in_one_segment(order_id: str, fake: FakeScaledmail) -> None:
    sent: list[str] = []

    async def on_start(
        session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        sent.append(params.url.raw_path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with client_for(fake, rate_limit=None, max_retries=0, trace_configs=[trace]) as client:
        with pytest.raises(NotFoundError):
            await client.get_order_details(order_id)
    assert sent == ["/api/v1/orders/" + quote(order_id, safe="")]
    assert fake.request_count() == 1
    record = fake.requests[0]
    assert fake.request_count("get_organizations") == 0
    assert record.operation_id == "get_order_details"
    # The server saw the whole id as the one path parameter, and the query is only ours.
    assert record.path == "/api/v1/orders/" + order_id
    assert record.query == {"organization_id": fake.organization_id}
