"""Typed request bodies and serialisable models, checked by mypy and pyright.

* A request body is a plain dict typed by its generated ``TypedDict``
  (``scaledmail_async.models.bodies``: ``CalculatePackageBody``, ``SearchDomainsBody``...), or the
  request model itself (``CalculatePackageRequest``); both are validated the same way before
  anything is sent.
* Enumerated values are typed as ``<Enum>Value`` aliases: the enum member
  (``CalculationTier.MEDIUM``) or its literal string (``"medium"``); a type checker reports a
  misspelt ``"meduim"``.
* Every model converts to and from the API's JSON: ``to_dict()`` / ``to_json()`` (wire names,
  unset fields left out) and ``Model.from_dict(data)``.

Nothing here spends money. Against the API (the client reads ``SCALEDMAIL_API_KEY``,
``SCALEDMAIL_ORGANIZATION_ID`` and, when set, ``SCALEDMAIL_BASE_URL``), or the embedded fake::

    python examples/typed_bodies.py
    python examples/typed_bodies.py --fake
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

from scaledmail_async import ScaledmailClient, ScaledmailError
from scaledmail_async.models import (
    CalculatePackageBody,
    CalculatePackageRequest,
    CalculationTier,
    CalculationTierValue,
    MailProvider,
    OrderDetails,
    SearchDomainsBody,
)


@contextlib.asynccontextmanager
async def open_client(fake: bool, **options: Any) -> AsyncIterator[ScaledmailClient]:
    """A client for the API (settings from the environment), or for an embedded fake server."""
    if not fake:
        async with ScaledmailClient(**options) as client:
            yield client
        return
    from scaledmail_async.testing import FakeScaledmail  # only needed with --fake

    async with FakeScaledmail() as server:
        print(f"using the embedded fake server at {server.base_url}")
        async with ScaledmailClient(
            server.api_key,
            base_url=server.base_url,
            organization_id=server.organization_id,
            **options,
        ) as client:
            yield client


async def run(args: argparse.Namespace) -> int:
    async with open_client(args.fake) as client:
        # A body as a TypedDict: keys are the API's wire names, values checked by the type checker.
        tier: CalculationTierValue = CalculationTier.MEDIUM  # or the literal "medium"
        body: CalculatePackageBody = {
            "volume": 30_000,
            "period": "month",
            "providers": [MailProvider.GOOGLE, "outlook"],
            "distribution": {"google": 70, "outlook": 30},
            "tier": tier,
        }
        as_dict = await client.calculate_package(body=body)
        # The same body as the request model (snake_case attributes): the same request.
        model = CalculatePackageRequest(
            volume=30_000,
            period="month",
            providers=[MailProvider.GOOGLE, MailProvider.OUTLOOK],
            distribution={"google": 70, "outlook": 30},
            tier="medium",
        )
        as_model = await client.calculate_package(body=model)
        assert as_dict.to_dict() == as_model.to_dict()
        plan = as_dict.data
        if plan:  # optional fields the server did not send are UNSET, which is falsy
            print(f"30,000 emails a month: {plan.total_domains} domains, ${plan.total_price}/month")

        names: SearchDomainsBody = {"domains": ["tidewaterleads.com", "tidewaterhq.io"]}
        for result in await client.search_domains(body=names):
            print(f"{result.domain}: {result.status}")

        # Models to and from the API's JSON, e.g. to answer your own service's callers.
        orders = await client.get_orders()
        details = await client.get_order_details(orders.payments[0].id)
        data = details.to_dict()  # wire names; fields the server did not send are left out
        assert OrderDetails.from_dict(data) == details
        print(details.to_json(indent=2).splitlines()[1].strip())  # the "id" line
        try:
            OrderDetails.from_dict({"status": "Active"})  # no "id": not an order
        except ValueError as exc:
            print(f"not an order: {exc}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fake", action="store_true", help="run against an embedded fake server")
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(run(args)))
    except ScaledmailError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
