"""The client methods derived from the api functions keep their exact static types.

``client.<op>`` and ``client.with_raw_response.<op>`` are made from the generated ``api``
functions by typed wrappers (``scaledmail_async._wrappers``, ``ParamSpec``/``Concatenate``). This
module is type-checked by ``make typecheck`` (mypy --strict covers ``tests/``), and the typing is
what it asserts:

- ``assert_type`` pins the return types (``OrderList``, ``APIResponse[OrderList]``...);
- assignments to callback protocols written out by hand pin each parameter's name, kind, type
  and default-ness;
- :func:`_rejected` holds calls that must not type-check, each with the exact ``type: ignore``
  code: under ``--strict`` (``warn_unused_ignores``) an ignore that is not needed is an error, so
  a method that accepted too much (``...`` parameters, ``Any``) would fail the type check.

At run time the accepted calls run against the embedded fake server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, assert_type

from scaledmail_async import UNSET, APIResponse, ScaledmailClient, Unset
from scaledmail_async.api import orders as orders_api
from scaledmail_async.models import (
    CreateOrderBody,
    CreateOrderRequest,
    CreateOrderResponse,
    DomainAvailability,
    DomainSourceValue,
    OrderDetails,
    OrderList,
    OrganizationList,
)
from scaledmail_async.testing import FakeScaledmail


class _GetOrders(Protocol):
    def __call__(
        self,
        *,
        organization_id: str | Unset | None = ...,
        timeout: float | Unset | None = ...,
        deadline: float | Unset | None = ...,
    ) -> Coroutine[Any, Any, OrderList]: ...


class _GetOrderDetails(Protocol):
    def __call__(
        self,
        order_id: str,
        *,
        organization_id: str | Unset | None = ...,
        timeout: float | Unset | None = ...,
        deadline: float | Unset | None = ...,
    ) -> Coroutine[Any, Any, OrderDetails]: ...


class _CreateOrder(Protocol):
    def __call__(
        self,
        price_id: str,
        *,
        provider: DomainSourceValue,
        coupon: str | Unset = ...,
        body: CreateOrderRequest | CreateOrderBody,
        organization_id: str | Unset | None = ...,
        timeout: float | Unset | None = ...,
        deadline: float | Unset | None = ...,
        allow_duplicate: bool = ...,
        exactly_once: bool = ...,
    ) -> Coroutine[Any, Any, CreateOrderResponse]: ...


class _RawGetOrders(Protocol):
    def __call__(
        self,
        *,
        organization_id: str | Unset | None = ...,
        timeout: float | Unset | None = ...,
        deadline: float | Unset | None = ...,
    ) -> Coroutine[Any, Any, APIResponse[OrderList]]: ...


def _method_types(client: ScaledmailClient) -> None:
    """The methods as values: their exact callable types (nothing is called)."""
    get_orders: _GetOrders = client.get_orders
    get_order_details: _GetOrderDetails = client.get_order_details
    create_order: _CreateOrder = client.create_order
    raw_get_orders: _RawGetOrders = client.with_raw_response.get_orders
    as_callable: Callable[[str], Coroutine[Any, Any, OrderDetails]] = client.get_order_details
    on_the_class: Callable[[ScaledmailClient], Coroutine[Any, Any, OrderList]] = (
        ScaledmailClient.get_orders
    )
    del get_orders, get_order_details, create_order, raw_get_orders, as_callable, on_the_class


async def _accepted(client: ScaledmailClient) -> None:
    """Calls that type-check, with the exact result types; run against the fake."""
    assert_type(await client.get_orders(), OrderList)
    assert_type(await client.get_orders(timeout=None, deadline=None), OrderList)
    assert_type(await client.get_orders(organization_id=UNSET, timeout=5.0), OrderList)
    assert_type(await client.get_organizations(), OrganizationList)
    assert_type(await client.with_raw_response.get_orders(), APIResponse[OrderList])
    assert_type(await client.with_raw_response.get_organizations(), APIResponse[OrganizationList])
    assert_type(await ScaledmailClient.get_orders(client), OrderList)
    assert_type(await orders_api.get_orders(client), OrderList)
    # The methods return coroutines (not just awaitables), so tasks can be made of them.
    task = asyncio.create_task(client.get_orders())
    assert_type(await task, OrderList)


async def _rejected(client: ScaledmailClient) -> None:
    """Calls that must not type-check (never run): each ignore must be needed."""
    await client.get_orders(timeout="5")  # type: ignore[arg-type]
    await client.get_orders(deadline="5")  # type: ignore[arg-type]
    await client.get_orders(organization_id=1)  # type: ignore[arg-type]
    await client.get_orders(page=2)  # type: ignore[call-arg]
    await client.get_orders("recOrg")  # type: ignore[call-arg]
    await client.get_order_details()  # type: ignore[call-arg]
    await client.get_order_details(1)  # type: ignore[arg-type]
    await client.create_order("price_1", body={})  # type: ignore[call-arg]
    await client.create_order("price_1", provider=1, body={})  # type: ignore[arg-type]
    await client.with_raw_response.get_orders(timeout="5")  # type: ignore[arg-type]
    await client.with_raw_response.get_order_details()  # type: ignore[call-arg]
    parsed: OrderList = await client.with_raw_response.get_orders()  # type: ignore[assignment]
    raw: APIResponse[OrderList] = await client.get_orders()  # type: ignore[assignment]
    wrong: list[DomainAvailability] = await client.get_orders()  # type: ignore[assignment]
    del parsed, raw, wrong


async def test_the_typed_calls_run() -> None:
    async with FakeScaledmail() as fake:
        async with ScaledmailClient(
            fake.api_key, organization_id=fake.organization_id, base_url=fake.base_url
        ) as client:
            _method_types(client)
            await _accepted(client)
