"""User mistakes a type checker must report: each line marked ``# rejected: <why>`` must get an
error from ``mypy --strict`` and from basedpyright (strict), and no other line may.

Not executed (several calls would fail at run time, which is the point of catching them here);
excluded from the project's own mypy run and checked by ``tests/test_typing_user_code.py``.
"""

from __future__ import annotations

from scaledmail_async import PollEvent, ScaledmailClient
from scaledmail_async.models import (
    CalculatePackageRequest,
    CreateCustomOrderBody,
    DomainAvailability,
)


async def mistakes(client: ScaledmailClient, found: DomainAvailability) -> None:
    await client.buy_domains(body={"domain": ["a.com"]})  # rejected: misspelt key
    await client.search_domains(body={"domains": "a.com"})  # rejected: a str, not a list
    await client.search_domains(body={"domains": [1, 2]})  # rejected: wrong item type
    await client.calculate_package(body={"volume": 10})  # rejected: required key missing
    await client.calculate_package(body={"volume": "10", "providers": ["google"]})  # rejected: type
    await client.calculate_package(body={"volume": 10, "providers": ["bye"]})  # rejected: enum
    await client.calculate_package(body={"volume": 1, "providers": [], "tier": "maxx"})  # rejected
    CalculatePackageRequest(volume=1, providers=["google"], tier="maxx")  # rejected: model enum
    body: CreateCustomOrderBody = {"providers": {"gogle": {"domains": []}}}  # rejected: nested key
    await client.create_custom_order(provider="bye", body=body)  # rejected: unknown enum param
    await client.get_orders(timeout="5")  # rejected: a str timeout
    count: int = found.blacklisted  # rejected: an untyped value is object, not Any
    data: int = await client.request("GET", "/orders")  # rejected: request() returns JSONValue
    del count, data


def poll_mistake(event: PollEvent) -> bool:
    return event.outcome == "complete"  # rejected: not a PollOutcome
