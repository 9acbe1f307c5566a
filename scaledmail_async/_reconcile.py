"""Reconciliation: finding out on the server whether a journaled spend happened.

How each spend is found again comes from the spec (``x-reconcile`` beside ``x-retry``, in the
generated :class:`~scaledmail_async._operation.Reconcile` records), not from tables here:

* ``by: tag`` (create_order, create_custom_order, buy_pre_warm_inboxes): ``GET /orders``, keep
  the payments created since the request was sent (minus ``clock_skew`` seconds, for the
  difference between this host's clock and the server's), read their details newest first and
  stop at the first whose ``tag`` is the entry's. ``GET /orders`` does not carry tags, so this
  reads ``1 + (orders created since the attempt)`` pages at most.
* ``by: domains`` (buy_domains): ``GET /purchased-domains?available=false`` and look for the
  names, registered on or after the attempt's date.

Absence is not proof: an order may appear late, or a request still queued on the server may be
processed after the first look. Until ``settle_window`` seconds (default 300) have passed since
the request was sent, a purchase not found stays ``unknown`` (``conclusive_at`` says when
absence will be conclusive); after it, ``not_applied``. A ``pending`` entry that was never sent
(the process died while waiting for the limiter) is ``not_applied`` at once, with no read.
Nothing here ever re-sends a purchase; the exactly-once call does, only on a conclusive
``not_applied``.

Reads go through the client's normal limiter, in the bulk lane.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs

from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async._journal import JournalEntry
from scaledmail_async._lanes import priority
from scaledmail_async.errors import NotFoundError

if TYPE_CHECKING:
    from scaledmail_async._client import ScaledmailClient

__all__ = ["Reads", "Reconciliation", "evidence_kind", "find_on_server", "reconcile_entry"]

Outcome = Literal["applied", "not_applied", "unknown"]


@attrs.frozen
class Reconciliation:
    """What reconciliation concluded about one spend.

    ``state``: ``"applied"`` (found on the server: ``order_id`` is its order or payment id when
    known), ``"not_applied"`` (never sent, rejected, or absent past the settle window) or
    ``"unknown"`` (not found yet, inside the settle window: ``conclusive_at`` is the Unix time
    from which absence will count). ``evidence`` says what was looked at and found. ``entry`` is
    the journal entry after the update (``None`` when reconciling a tag without a journal).
    """

    state: Outcome
    order_id: str | None
    evidence: str
    entry: JournalEntry | None
    checked_at: float
    conclusive_at: float | None = None


class Reads:
    """The reads of one reconciliation run, shared by every entry it resolves (so that
    ``reconcile_pending`` over many entries reads each list and each order's details once)."""

    def __init__(self, client: ScaledmailClient) -> None:
        self._client = client
        self._orders: dict[str | None, list[Any]] = {}
        self._details: dict[tuple[str | None, str], Any] = {}
        self._purchased: dict[str | None, list[Any]] = {}
        #: Requests made (for the tests and the closing figures).
        self.requests = 0

    async def _read(self, call: Callable[[], Awaitable[Any]]) -> Any:
        self.requests += 1
        with priority("bulk"):
            return await call()

    async def payments(self, org: str | None) -> list[Any]:
        if org not in self._orders:
            orders = await self._read(lambda: self._client.get_orders(organization_id=org))
            self._orders[org] = list(getattr(orders, "payments", None) or [])
        return self._orders[org]

    async def details(self, org: str | None, order_id: str) -> Any:
        key = (org, order_id)
        if key not in self._details:
            try:
                self._details[key] = await self._read(
                    lambda: self._client.get_order_details(order_id, organization_id=org)
                )
            except NotFoundError:
                self._details[key] = None
        return self._details[key]

    async def purchased(self, org: str | None) -> list[Any]:
        if org not in self._purchased:
            found = await self._read(
                lambda: self._client.get_purchased_domains(available=False, organization_id=org)
            )
            self._purchased[org] = list(getattr(found, "domains", None) or [])
        return self._purchased[org]


def _parse_time(value: object) -> float | None:
    """A server timestamp (a datetime, or ISO 8601 text with ``Z`` or an offset, or a date) as
    Unix seconds; ``None`` when it is neither (such an order is always looked at)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def evidence_kind(operation: str) -> Literal["tag", "domains"]:
    """How a spend of ``operation`` is found again: the spec's ``x-reconcile`` ``by``."""
    how = OPERATIONS[operation].reconcile
    if how is None:  # pragma: no cover - the codegen requires x-reconcile on every spend
        raise ValueError(f"{operation} has no x-reconcile in the spec")
    return how.by


async def find_on_server(
    reads: Reads,
    *,
    by: Literal["tag", "domains"],
    tag: str | None,
    domains: tuple[str, ...],
    organization_id: str | None,
    since: float | None,
    clock_skew: float,
) -> tuple[str | None, str] | None:
    """Look for the spend by its tag or its domain names (``by``, from :func:`evidence_kind`);
    ``(order_id, evidence)`` when found, else ``None``.

    ``since`` is when the request was sent (``None``: unknown, look at every order).
    """
    floor = None if since is None else since - clock_skew
    if by == "tag":
        if not tag:
            return None
        payments = await reads.payments(organization_id)
        candidates = []
        for payment in payments:
            created = _parse_time(getattr(payment, "created_at", None))
            if floor is not None and created is not None and created < floor:
                continue
            candidates.append((created if created is not None else float("inf"), payment))
        candidates.sort(key=lambda item: item[0], reverse=True)
        for _, payment in candidates:
            pid = getattr(payment, "id", None)
            if not isinstance(pid, str):
                continue
            details = await reads.details(organization_id, pid)
            if details is not None and getattr(details, "tag", None) == tag:
                return pid, f"order {pid} carries tag {tag!r}"
        return None
    wanted = {d.lower() for d in domains}
    if not wanted:
        return None
    day_floor = (
        None
        if floor is None
        else datetime.fromtimestamp(floor, UTC).date().isoformat()  # registrations are dated
    )
    found: dict[str, Any] = {}
    for registration in await reads.purchased(organization_id):
        name = getattr(registration, "domain", None)
        if not isinstance(name, str) or name.lower() not in wanted:
            continue
        created = getattr(registration, "created_at", None)
        if day_floor is not None and isinstance(created, str) and created[:10] < day_floor:
            continue  # registered before this attempt: not its purchase
        found[name.lower()] = registration
    if not found:
        return None
    names = ", ".join(sorted(found))
    missing = sorted(wanted - set(found))
    evidence = f"registered: {names}" + (f" (not found: {', '.join(missing)})" if missing else "")
    return None, evidence


async def reconcile_entry(
    client: ScaledmailClient,
    entry: JournalEntry,
    reads: Reads,
    *,
    settle_window: float,
    clock_skew: float,
) -> Reconciliation:
    """Resolve one journal entry against the server and record the result in the journal."""
    journal = client.journal
    assert journal is not None
    now = time.time()
    if entry.state in ("applied", "not_applied"):
        return Reconciliation(
            entry.state, entry.order_id, entry.note or f"already {entry.state}", entry, now
        )
    if entry.state == "pending" and entry.sent_at is None:
        # Never sent. Resolving it also stops a live process that claimed it and has not sent
        # yet: its mark_sent finds the entry resolved and it sends nothing.
        updated = await journal.resolve_unsent(entry.id, "never sent (no request left the process)")
        if updated is None:
            return Reconciliation("unknown", None, "the entry is gone from the journal", None, now)
        if updated.state == "not_applied":
            return Reconciliation("not_applied", None, updated.note, updated, now)
        entry = updated  # sent meanwhile by a live process: look for it
    sent = entry.sent_at if entry.sent_at is not None else entry.created_at
    found = await find_on_server(
        reads,
        by=evidence_kind(entry.operation),
        tag=entry.tag,
        domains=entry.domains,
        organization_id=entry.organization_id,
        since=sent,
        clock_skew=clock_skew,
    )
    if found is not None:
        order_id, evidence = found
        updated = await journal.resolve(
            entry.id,
            "applied",
            order_id=order_id,
            payment_pending=entry.payment_pending,
            note=f"reconciled: {evidence}",
        )
        return Reconciliation("applied", updated.order_id, evidence, updated, now)
    conclusive_at = sent + settle_window
    if now < conclusive_at:
        evidence = (
            f"not found yet; absence is conclusive {conclusive_at - now:.0f}s from now "
            f"(settle window {settle_window:g}s after the request was sent)"
        )
        updated = await journal.resolve(
            entry.id, "unknown", payment_pending=entry.payment_pending, note=evidence
        )
        return Reconciliation("unknown", None, evidence, updated, now, conclusive_at)
    evidence = f"not on the server {now - sent:.0f}s after the request (settle {settle_window:g}s)"
    updated = await journal.resolve(entry.id, "not_applied", note=evidence)
    return Reconciliation("not_applied", None, evidence, updated, now, conclusive_at)
