"""Helpers over the account's domains: :func:`inventory` (organizations, their domains and each
domain's mailboxes in one walk) and :func:`update_redirects` (a redirect change for many
domains), both with bounded concurrency through :func:`~scaledmail_async.bulk.map_concurrent`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

import attrs

from scaledmail_async._lanes import Priority, check_priority
from scaledmail_async._lanes import priority as lane_scope
from scaledmail_async._types import UNSET, Unset
from scaledmail_async.bulk._common import (
    Client,
    ProgressHook,
    keep_partial,
    org_kwargs,
    own_partial,
)
from scaledmail_async.bulk._concurrent import Result, ResultHook, map_concurrent

if TYPE_CHECKING:
    from scaledmail_async.models import (
        Domain,
        Mailbox,
        Organization,
        PurchasedDomain,
        UpdateDomainRedirectResponse,
    )

__all__ = ["Inventory", "InventoryError", "inventory", "update_redirects"]


async def update_redirects(
    client: Client,
    redirects: Mapping[str, str],
    *,
    concurrency: int = 4,
    on_progress: ProgressHook | None = None,
    on_result: ResultHook[str, UpdateDomainRedirectResponse] | None = None,
    organization_id: str | Unset | None = UNSET,
    priority: Priority = "bulk",
) -> list[Result[str, UpdateDomainRedirectResponse]]:
    """Request a redirect change for many domains: ``{domain: new_redirect}``.

    Calls ``client.update_domain_redirect(domain, body={"new_redirect": redirect})`` per domain
    with bounded concurrency (:func:`map_concurrent`) and returns one :class:`Result` per domain
    (``result.item`` is the domain), in the mapping's order. A failing domain (unknown domain, a
    change already in progress, invalid input) is reported in its result; the others go on. An
    empty string removes the redirect (observed live: ``UpdateDomainRedirectRequest`` in
    ``openapi/scaledmail.yaml``). ``on_result(result)`` gets each domain's :class:`Result` as it
    finishes; cancelled (or stopped by any exception), the exception carries ``exc.partial``: the
    finished domains' results (see :func:`map_concurrent`).
    ``priority`` is the lane of the calls made (default ``"bulk"``: the key's interactive calls,
    e.g. a web handler's, are served first; see :func:`scaledmail_async.priority`).
    """
    lane = check_priority(priority)
    kwargs = org_kwargs(organization_id)

    async def one(domain: str) -> UpdateDomainRedirectResponse:
        return await client.update_domain_redirect(
            domain, body={"new_redirect": redirects[domain]}, **kwargs
        )

    return await map_concurrent(
        one,
        list(redirects),
        concurrency=concurrency,
        on_progress=on_progress,
        on_result=on_result,
        priority=lane,
    )


@attrs.frozen
class InventoryError:
    """One call of :func:`inventory` that failed: which operation, for which org/domain, why."""

    operation: str
    organization_id: str | None
    domain_id: str | None
    error: Exception


@attrs.define(kw_only=True)
class Inventory:
    """Everything :func:`inventory` found.

    ``purchased_domains`` and ``domains`` are keyed by organization id, ``mailboxes`` by domain id
    (the ``id`` of ``get_domains`` items). An organization or domain whose call failed has no
    entry there and an :class:`InventoryError` in ``errors`` instead.
    """

    organizations: list[Organization] = attrs.Factory(list)
    purchased_domains: dict[str, list[PurchasedDomain]] = attrs.Factory(dict)
    domains: dict[str, list[Domain]] = attrs.Factory(dict)
    mailboxes: dict[str, list[Mailbox]] = attrs.Factory(dict)
    errors: list[InventoryError] = attrs.Factory(list)

    @property
    def ok(self) -> bool:
        """Whether every call succeeded."""
        return not self.errors


async def inventory(
    client: Client,
    *,
    concurrency: int = 4,
    include_mailboxes: bool = True,
    on_progress: ProgressHook | None = None,
    priority: Priority = "bulk",
) -> Inventory:
    """Walk the whole account: organizations, their domains, and each domain's mailboxes.

    1. ``get_organizations`` (if this fails, it raises: there is nothing to walk);
    2. per organization, ``get_purchased_domains(available=False)`` (every registration, used or
       not: the spec's ``get_purchased_domains`` advises sending ``available`` explicitly) and
       ``get_domains``, each with
       ``organization_id=`` that organization;
    3. with ``include_mailboxes``, per domain of step 2, ``get_mailboxes_by_domain_id(domain.id,
       organization_id=...)``.

    Calls run with bounded concurrency through the client's limiter. A failing call is recorded
    in ``result.errors`` (operation, organization, domain, exception) and the walk goes on.
    ``on_progress(done, total)`` counts calls; ``total`` grows when step 3's calls become known.
    Cancelled (or stopped by any exception), the exception carries ``exc.partial``: an
    :class:`Inventory` of every call that finished before (see
    :func:`~scaledmail_async.bulk.partial_results`).
    ``priority`` is the lane of the calls made (default ``"bulk"``: the key's interactive calls,
    e.g. a web handler's, are served first; see :func:`scaledmail_async.priority`).
    """
    lane = check_priority(priority)
    result = Inventory()
    try:
        await _walk(client, result, concurrency, include_mailboxes, on_progress, lane)
    except BaseException as exc:
        keep_partial(exc, result)
        raise
    return result


async def _walk(
    client: Client,
    result: Inventory,
    concurrency: int,
    include_mailboxes: bool,
    on_progress: ProgressHook | None,
    lane: Priority,
) -> None:
    """:func:`inventory`'s walk, filling ``result`` as calls finish (also when it is stopped:
    the finished calls of an interrupted step are kept)."""
    done = 0
    total = 1

    def progress() -> None:
        if on_progress is not None:
            on_progress(done, total)

    with lane_scope(lane):
        orgs = await client.get_organizations()
    done += 1
    result.organizations = list(orgs.organizations)
    org_ids = [o.id for o in result.organizations if o.id]
    total += 2 * len(org_ids)
    progress()

    async def org_call(item: tuple[str, str]) -> list[PurchasedDomain] | list[Domain]:
        operation, org_id = item
        if operation == "get_purchased_domains":
            purchased = await client.get_purchased_domains(available=False, organization_id=org_id)
            return list(purchased.domains)
        domains = await client.get_domains(organization_id=org_id)
        return list(domains.domains)

    def step(done_now: int, total_now: int) -> None:
        nonlocal done
        done += 1
        progress()

    def keep_orgs(rs: list[Result[tuple[str, str], list[PurchasedDomain] | list[Domain]]]) -> None:
        for r in rs:
            operation, org_id = r.item
            if r.error is not None:
                result.errors.append(InventoryError(operation, org_id, None, r.error))
            elif operation == "get_purchased_domains":
                result.purchased_domains[org_id] = cast("list[PurchasedDomain]", r.value)
            else:
                result.domains[org_id] = cast("list[Domain]", r.value)

    org_items = [(op, oid) for oid in org_ids for op in ("get_purchased_domains", "get_domains")]
    try:
        org_results = await map_concurrent(
            org_call, org_items, concurrency=concurrency, on_progress=step, priority=lane
        )
    except BaseException as exc:
        keep_orgs(own_partial(exc) or [])
        raise
    keep_orgs(org_results)

    if not include_mailboxes:
        return
    domain_items: list[tuple[str, str]] = []
    for org_id, domains in result.domains.items():
        for domain in domains:
            if domain.id.strip():
                domain_items.append((org_id, domain.id))
    total += len(domain_items)
    progress()

    async def mailbox_call(item: tuple[str, str]) -> list[Mailbox]:
        org_id, domain_id = item
        response = await client.get_mailboxes_by_domain_id(domain_id, organization_id=org_id)
        return list(response.mailboxes)

    def keep_mailboxes(rs: list[Result[tuple[str, str], list[Mailbox]]]) -> None:
        for boxes in rs:
            org_id, domain_id = boxes.item
            if boxes.error is not None:
                result.errors.append(
                    InventoryError("get_mailboxes_by_domain_id", org_id, domain_id, boxes.error)
                )
            else:
                result.mailboxes[domain_id] = boxes.unwrap()

    try:
        mailbox_results = await map_concurrent(
            mailbox_call, domain_items, concurrency=concurrency, on_progress=step, priority=lane
        )
    except BaseException as exc:
        keep_mailboxes(own_partial(exc) or [])
        raise
    keep_mailboxes(mailbox_results)
