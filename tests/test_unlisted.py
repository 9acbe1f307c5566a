"""``Unlisted("...")``: the explicit escape hatch for enum values the spec does not list yet.

A plain unknown string is refused before sending (and reported by type checkers: see
``tests/typecheck``); the same value wrapped in ``Unlisted`` is sent as the plain string, in a
dict body, a model and a query parameter. Against a local server recording what arrives.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from aiohttp import web
from conftest import StartServer

from scaledmail_async import RequestValidationError, ScaledmailClient, Unlisted
from scaledmail_async.models import CalculatePackageRequest, CreateCustomOrderBody


@pytest.fixture
async def seen(serve: StartServer) -> tuple[list[tuple[dict[str, str], Any]], str]:
    arrived: list[tuple[dict[str, str], Any]] = []

    async def handle(request: web.Request) -> web.Response:
        text = await request.text()
        arrived.append((dict(request.query), json.loads(text) if text else None))
        return web.json_response({"success": True, "id": "recNEW"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return arrived, await serve(app)


ORDER: CreateCustomOrderBody = {
    "providers": {"google": {"domains": [{"domain": "a.com", "first_name": "A", "last_name": "B"}]}}
}


async def test_unlisted_values_are_sent_as_plain_strings(
    seen: tuple[list[tuple[dict[str, str], Any]], str], api_key: str
) -> None:
    arrived, base = seen
    async with ScaledmailClient(
        api_key, base_url=base, organization_id="recORG", rate_limit=None
    ) as client:
        await client.calculate_package(
            body={"volume": 10, "providers": [Unlisted("yahoo")], "tier": Unlisted("ultra")}
        )
        await client.calculate_package(
            body=CalculatePackageRequest(
                volume=10,
                providers=["google", Unlisted("yahoo")],
                distribution={"google": 50, "yahoo": 50},
                tier=Unlisted("ultra"),
            )
        )
        await client.create_custom_order(provider=Unlisted("partner"), body=ORDER)
    assert arrived[0][1] == {"volume": 10, "providers": ["yahoo"], "tier": "ultra"}
    assert arrived[1][1] == {
        "volume": 10,
        "providers": ["google", "yahoo"],
        "distribution": {"google": 50, "yahoo": 50},
        "tier": "ultra",
    }
    assert arrived[2][0]["provider"] == "partner"
    model = CalculatePackageRequest(volume=1, providers=[Unlisted("yahoo")])
    assert model.to_dict() == {"volume": 1, "providers": ["yahoo"]}
    assert type(cast(list[Any], model.to_dict()["providers"])[0]) is str


async def test_a_plain_unknown_value_is_refused_with_the_way_out(
    seen: tuple[list[tuple[dict[str, str], Any]], str], api_key: str
) -> None:
    arrived, base = seen
    async with ScaledmailClient(
        api_key, base_url=base, organization_id="recORG", rate_limit=None
    ) as client:
        body: Any = {"volume": 10, "providers": ["yahoo"]}  # untyped caller
        with pytest.raises(RequestValidationError, match=r"Unlisted\('yahoo'\)") as info:
            await client.calculate_package(body=body)
        assert info.value.field == "body.providers[0]"
        provider: Any = "partner"
        with pytest.raises(RequestValidationError, match=r"Unlisted\('partner'\)"):
            await client.create_custom_order(provider=provider, body=ORDER)
    assert arrived == []


def test_unlisted_is_a_str_and_says_what_it_is() -> None:
    value = Unlisted("ultra")
    assert isinstance(value, str) and value == "ultra"
    assert repr(value) == "Unlisted('ultra')"
    assert json.dumps({"tier": value}) == '{"tier": "ultra"}'
