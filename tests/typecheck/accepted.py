"""User code that must pass ``mypy --strict`` and basedpyright in strict mode, and run.

Written the way users write it: a provisioning job building its order bodies as dicts in helper
functions, a calculator using enum values, a poller that returns orders to its own callers as
JSON. ``tests/test_typing_user_code.py`` type-checks it with both checkers and runs it against
the embedded fake.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from scaledmail_async import ScaledmailClient, Unlisted, search_domains_all
from scaledmail_async.models import (
    BuyDomainsBody,
    CalculatePackageBody,
    CalculatePackageRequest,
    CalculationTier,
    CreateCustomOrderBody,
    DomainAvailability,
    DomainSpecDict,
    MailProvider,
    OrderDetails,
    SearchDomainsRequest,
)
from scaledmail_async.testing import FakeScaledmail


def domain_specs(names: Sequence[str]) -> list[DomainSpecDict]:
    return [{"domain": n, "first_name": "Ada", "last_name": "Lovelace"} for n in names]


def order_body(tag: str, names: Sequence[str]) -> CreateCustomOrderBody:
    return {
        "tag": tag,
        "providers": {"google": {"domains": domain_specs(names), "mailboxes_per_domain": 3}},
    }


def buyable(found: Sequence[DomainAvailability]) -> list[str]:
    # ``blacklisted`` is an untyped JSON value in the spec: ``object``, narrowed before use.
    return [d.domain for d in found if d.status == "available" and not d.blacklisted]


def calculator_body(volume: int) -> CalculatePackageBody:
    return {
        "volume": volume,
        "providers": ["google", MailProvider.OUTLOOK],
        "distribution": {"google": 60, "outlook": 40},
        "tier": "max",
    }


def later_provider() -> CalculatePackageRequest:
    # A value the spec does not list yet, said explicitly.
    return CalculatePackageRequest(volume=1, providers=[Unlisted("carrier-pigeon")], tier="low")


def as_json(order: OrderDetails) -> str:
    return json.dumps({"order": order.to_dict()})


async def main() -> None:
    async with FakeScaledmail() as fake:
        async with ScaledmailClient(
            fake.api_key, base_url=fake.base_url, organization_id=fake.organization_id
        ) as client:
            names = [f"typed-{i}-northwind.com" for i in range(6)]
            found = await client.search_domains(body={"domains": names})
            also = await client.search_domains(body=SearchDomainsRequest(domains=names))
            assert [d.domain for d in found] == [d.domain for d in also]
            # The bulk helpers take a view of the client too (other defaults, same session).
            batch = await search_domains_all(client.with_options(priority="bulk"), names)
            assert len(batch) + len(batch.missing) == len(names)
            to_buy = buyable(found)[:2]
            assert len(to_buy) == 2, found
            body: BuyDomainsBody = {"domains": to_buy}
            await client.buy_domains(body=body)
            quote = await client.calculate_package(body=calculator_body(5000))
            await client.calculate_package(
                body={"volume": 5000, "providers": ["smtp"], "tier": CalculationTier.LOW}
            )
            assert quote.success is not False
            # The names bought above are now the organization's: order mailboxes on them.
            created = await client.create_custom_order(
                provider="scaledmail", body=order_body("typed-job", to_buy)
            )
            orders = await client.get_orders()
            details = await client.get_order_details(orders.payments[0].id)
            assert json.loads(as_json(details))["order"]["id"] == details.id
            raw = await client.request("GET", "/orders")
            assert isinstance(raw, dict) and "payments" in raw
            assert later_provider().to_dict()["providers"] == ["carrier-pigeon"]
            print("typed user code ok", created.success, len(orders.payments))


if __name__ == "__main__":
    asyncio.run(main())
