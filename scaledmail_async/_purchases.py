"""One journaled spend: its tag, its entry, and the state its outcome moves the entry to.

The client calls this around the send of every spending operation when a purchase journal is
configured (:mod:`scaledmail_async._journal` says what the journal guarantees). Which error
means what:

* a 2xx -> ``applied``, with the order or payment id of the answer when it has one; a 2xx
  whose body cannot be read -> ``unknown`` (most likely applied, but a proxy may answer 200
  without the API: reconciliation decides);
* :class:`PaymentPendingError` ("subscription created but unable to charge") -> ``applied``
  with ``payment_pending``;
* :class:`OutcomeUnknownError` (a timeout or reset after sending, a 5xx or 408, ``aclose()``
  mid-request) -> ``unknown``;
* any other :class:`APIStatusError` (a 4xx, a 429 after the retries) -> ``not_applied``: the
  API validates before it charges;
* anything raised before the request was written (limiter or deadline timeout, a connection
  that could not be opened, a cancellation while waiting) -> ``not_applied``; after it was
  written -> ``unknown``;
* a cancellation (``task.cancel()``, Ctrl-C under ``asyncio.run``, ``asyncio.timeout``) or a
  ``KeyboardInterrupt``/``SystemExit`` after the request may have been written -> the entry
  stays ``pending`` with ``sent_at`` set (nothing is written in the cancelled task: the outcome
  was never seen, exactly as after a crash) and a WARNING names the operation, the tag and how
  to reconcile (:func:`warn_cut_off`); ``aclose()`` interrupting it -> ``unknown`` (the caller
  gets :class:`~scaledmail_async.ClientClosedOutcomeUnknownError`, no warning).

Without a journal the client does the same through a :class:`SpendWatch`: a spend cancelled
after its request may have been written is logged at WARNING (and not one that was cancelled
while waiting for the limiter: nothing left the process).

If the outcome cannot be written (the journal went away after the send), the caller still gets
the call's own result or error; the entry stays ``pending`` with ``sent_at`` set, which
reconciliation resolves.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from scaledmail_async._journal import (
    EntryState,
    JournalEntry,
    JournalUnavailableError,
    PurchaseJournal,
    fingerprint,
    key_id,
    new_entry,
)
from scaledmail_async._operation import Operation
from scaledmail_async._types import UNSET
from scaledmail_async.errors import (
    APIStatusError,
    OutcomeUnknownError,
    PaymentPendingError,
    ResponseDecodeError,
)

__all__ = ["JournaledSpend", "SpendWatch", "domains_of", "mint_tag", "order_id_of", "warn_cut_off"]

logger = logging.getLogger("scaledmail_async")

#: The id fields of the spends' (undocumented) answers, most specific first.
_ID_FIELDS = ("payment_id", "order_id", "id", "subscription_id")


def mint_tag() -> str:
    """A unique order tag: ``sm-`` and 12 base32 characters of a UUID4 (15 characters, inside
    the documented 20-character limit; botocore mints idempotency tokens the same way)."""
    raw = base64.b32encode(uuid.uuid4().bytes).decode("ascii").lower()
    return "sm-" + raw[:12]


def domains_of(wire: Any) -> tuple[str, ...]:
    """The domain names a spend's JSON body names: every ``domain`` value and every string in a
    ``domains`` list, at any depth (lowercase, first occurrence order)."""
    found: dict[str, None] = {}
    stack: list[Any] = [wire]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "domain" and isinstance(value, str) and value.strip():
                    found.setdefault(value.strip().lower(), None)
                elif key == "domains" and isinstance(value, list):
                    for item in value:
                        if isinstance(item, str) and item.strip():
                            found.setdefault(item.strip().lower(), None)
                        else:
                            stack.append(item)
                elif isinstance(value, Mapping | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return tuple(found)


def order_id_of(answer: Any) -> str | None:
    """The order or payment id of a spend's answer, when it has one: a JSON object (an error
    body), or the decoded response model (its fields, then the unknown keys it kept)."""
    if isinstance(answer, Mapping):
        found = {name: answer.get(name) for name in (*_ID_FIELDS, "data")}
    elif attrs.has(type(answer)):
        extra = getattr(answer, "additional_properties", None)
        found = dict(extra) if isinstance(extra, Mapping) else {}
        for name in (*_ID_FIELDS, "data"):
            value = getattr(answer, name, None)
            if value is not None and value is not UNSET:
                found[name] = value
    else:
        return None
    for name in _ID_FIELDS:
        value = found.get(name)
        if isinstance(value, str) and value:
            return value
    data = found.get("data")
    return order_id_of(data) if data is not None else None


def warn_cut_off(
    operation: str,
    *,
    tag: str | None,
    domains: tuple[str, ...],
    entry_id: str | None,
    reason: BaseException,
) -> None:
    """Log at WARNING that a spend was cut off after its request may have been written.

    Names the operation and the tag (or the domains, for a spend found by its domains), says
    that the outcome is unknown and how to find it: ``client.reconcile(...)`` /
    ``scaledmail purchases reconcile`` (a journal entry, left ``pending``, by its id)."""
    if tag:
        evidence = f"tag {tag!r}"
    elif domains:
        shown = ", ".join(domains[:5]) + (", ..." if len(domains) > 5 else "")
        evidence = f"domains {shown}"
    else:
        evidence = "no tag"
    if entry_id is not None:
        how = (
            f"purchase journal entry {entry_id} stays pending: reconcile it with "
            f"`await client.reconcile({entry_id!r})` (or `client.reconcile_pending()`) or "
            f"`scaledmail purchases reconcile {entry_id}`"
        )
    elif tag:
        how = (
            f"reconcile it with `await client.reconcile({tag!r})` or "
            f"`scaledmail purchases reconcile {tag}`"
        )
    else:
        how = (
            "look for it in `client.get_purchased_domains(available=False)` (with a purchase "
            "journal, `client.reconcile()` / `scaledmail purchases reconcile` do this)"
        )
    logger.warning(
        "%s (%s): %s after the request was sent: the outcome is UNKNOWN (the server may have "
        "processed it). Do not send it again before reconciling: %s",
        operation,
        evidence,
        "cancelled" if isinstance(reason, asyncio.CancelledError) else type(reason).__name__,
        how,
        extra={
            "scaledmail_operation": operation,
            "scaledmail_tag": tag,
            "scaledmail_journal_entry": entry_id,
        },
    )


class SpendWatch:
    """A spend without a journal: whether its request may have been written (the transport's
    ``before_send``), to warn when a cancellation cuts it off (:func:`warn_cut_off`)."""

    __slots__ = ("operation", "sent", "tag", "wire")

    def __init__(self, op: Operation, *, tag: str | None, wire: Any) -> None:
        self.operation = op.operation_id
        self.tag = tag
        self.wire = wire
        #: Whether the request may have been written.
        self.sent = False

    async def mark_sent(self) -> None:
        """The transport's ``before_send``."""
        self.sent = True

    def interrupted(self, exc: BaseException) -> None:
        """``exc`` (a cancellation, ``KeyboardInterrupt``) stopped the call: warn if sent."""
        if self.sent:
            warn_cut_off(
                self.operation,
                tag=self.tag,
                domains=domains_of(self.wire),
                entry_id=None,
                reason=exc,
            )


class JournaledSpend:
    """The journal's view of one spending call: claim, mark sent, record the outcome."""

    def __init__(
        self,
        journal: PurchaseJournal,
        op: Operation,
        *,
        api_key: str,
        wire: Any,
        tag: str | None,
        organization_id: str | None,
    ) -> None:
        self.journal = journal
        self.operation = op.operation_id
        self.entry: JournalEntry = new_entry(
            operation=op.operation_id,
            tag=tag,
            domains=domains_of(wire),
            fingerprint=fingerprint(api_key, op.operation_id, wire),
            key_id=key_id(api_key),
            organization_id=organization_id,
        )
        #: Whether the request may have been written (``mark_sent`` succeeded).
        self.sent = False

    async def claim(self, *, allow_duplicate: bool) -> None:
        """Write the ``pending`` entry; raises DuplicatePurchaseError / JournalUnavailableError
        (nothing sent either way)."""
        self.entry = await self.journal.claim(self.entry, allow_duplicate=allow_duplicate)

    async def mark_sent(self) -> None:
        """The transport's ``before_send``: record that the request is about to be written."""
        if not await self.journal.mark_sent(self.entry.id, time.time()):
            raise JournalUnavailableError(
                f"{self.operation}: not sent: journal entry {self.entry.id} was resolved by "
                "another process (a reconciliation) before the request left; call again"
            )
        self.sent = True

    async def applied(self, body: Any) -> None:
        """Record a 2xx answer."""
        await self._record("applied", order_id=order_id_of(body), note="the server accepted it")

    async def failed(self, exc: BaseException) -> None:
        """Record the state ``exc`` proves (see the module docstring)."""
        state: EntryState
        payment_pending = False
        order_id = None
        if isinstance(exc, PaymentPendingError):
            state, payment_pending = "applied", True
            order_id = order_id_of(exc.body)
        elif isinstance(exc, ResponseDecodeError | OutcomeUnknownError):
            # A 2xx whose body could not be read most likely went through, but something between
            # (a proxy, a captive portal) may answer 200 without the API: reconciliation decides.
            state = "unknown"
        elif isinstance(exc, APIStatusError) and exc.status_code < 500:
            state = "not_applied"
        else:
            state = "unknown" if self.sent else "not_applied"
        await self._record(
            state,
            order_id=order_id,
            payment_pending=payment_pending,
            note=f"{type(exc).__name__}"
            + (f" (HTTP {exc.status_code})" if isinstance(exc, APIStatusError) else ""),
        )
        if isinstance(exc, OutcomeUnknownError):
            exc.entry = self.entry

    async def interrupted(self, exc: BaseException, *, closing: bool = False) -> None:
        """A cancellation (or ``KeyboardInterrupt``/``SystemExit``) stopped the call.

        Not sent: ``not_applied`` (nothing left the process). Sent: the entry stays ``pending``
        (``sent_at`` set) for reconciliation and a WARNING says so; nothing is written, so a
        second cancellation or a journal that is slow to answer cannot lose it. ``closing``
        (``aclose()`` interrupted it): ``unknown``, as for any :class:`OutcomeUnknownError`."""
        if not self.sent:
            await self._record("not_applied", note=f"{type(exc).__name__} before sending")
        elif closing:
            await self._record("unknown", note=f"{type(exc).__name__} (the client was closed)")
        else:
            warn_cut_off(
                self.operation,
                tag=self.entry.tag,
                domains=self.entry.domains,
                entry_id=self.entry.id,
                reason=exc,
            )

    async def _record(
        self,
        state: EntryState,
        *,
        order_id: str | None = None,
        payment_pending: bool = False,
        note: str = "",
    ) -> None:
        try:
            self.entry = await self.journal.resolve(
                self.entry.id,
                state,
                order_id=order_id,
                payment_pending=payment_pending,
                note=note,
            )
        except Exception as exc:  # the call's own result matters more; reconcile resolves it
            logger.warning(
                "%s: could not record the outcome %s in the purchase journal (%s); entry %s "
                "stays pending: run reconcile_pending() once the journal is back",
                self.operation,
                state,
                type(exc).__name__,
                self.entry.id,
            )
