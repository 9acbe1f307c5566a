"""A provisioning job that is safe to run again: search names, buy domains, create the order.

Every purchase goes through a SQLite purchase journal with ``exactly_once=True``, so however the
job is stopped (a crash, Ctrl-C, a redelivered queue message, a user running it twice) a second
run never buys anything twice:

1. it first settles what an earlier run left open (``reconcile_pending()``: a purchase whose
   answer never came is looked for on the server by its tag or its domain names);
2. it reads the journal: the domains an earlier run bought are not bought again, and an order
   already made with this job's tag ends the job at once;
3. it searches the candidate names (``search_domains_all``) and buys the missing domains
   (``buy_domains``), then creates the Google order for them (``create_custom_order`` with
   ``provider="scaledmail"``: the domains come from the purchased-domain inventory), tagged with
   the job's tag so that it can always be found again.

Against the API (the client reads ``SCALEDMAIL_API_KEY``, ``SCALEDMAIL_ORGANIZATION_ID`` and, when
set, ``SCALEDMAIL_BASE_URL``). THIS SPENDS MONEY: ::

    python examples/resumable_provisioning.py --tag tidewater-dec --keyword tidewater --domains 3

Against the embedded fake server (no key, no money; a new fake each run, the journal stays)::

    python examples/resumable_provisioning.py --fake --journal /tmp/provisioning.db
    python examples/resumable_provisioning.py --fake --journal /tmp/provisioning.db  # buys nothing
    scaledmail purchases list --journal /tmp/provisioning.db --table

Exit status: 0 done (now or by an earlier run); 1 an error (nothing is left half-known: run it
again); 3 an outcome still unknown (run it again later: it reconciles first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

from scaledmail_async import (
    DuplicatePurchaseError,
    OutcomeUnknownError,
    PaymentPendingError,
    ScaledmailClient,
    ScaledmailError,
    SQLitePurchaseJournal,
    search_domains_all,
)
from scaledmail_async.models import CreateCustomOrderBody, DomainSpecDict

#: Suffixes that make candidate names from the keyword (``tidewater`` -> ``tidewaterhq.com``...).
SUFFIXES = ("", "hq", "mail", "team", "labs", "reach", "group", "works", "send", "leads")


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


async def provision(client: ScaledmailClient, journal: SQLitePurchaseJournal, args: Any) -> int:
    tag: str = args.tag
    candidates = [f"{args.keyword}{suffix}.com".lower() for suffix in SUFFIXES]
    sent = 0  # purchases this run sent

    # 1. Settle what an earlier run may have left open (its answer never came).
    for found in await client.reconcile_pending():
        what = found.entry.operation if found.entry else "purchase"
        print(f"reconciled an earlier {what}: {found.state} ({found.evidence})")

    # 2. What earlier runs did: the journal is the job's memory.
    entries = await journal.entries()
    if any(e.state in ("pending", "unknown") for e in entries):
        print("an earlier purchase is still unknown: run the job again later", file=sys.stderr)
        return 3
    for entry in entries:
        if entry.operation == "create_custom_order" and entry.tag == tag:
            if entry.state == "applied":
                print(f"already ordered: {entry.order_id} (tag {tag})")
                print("purchases sent by this run: 0")
                return 0
    bought = [
        name
        for e in entries
        if e.operation == "buy_domains" and e.state == "applied"
        for name in e.domains
        if name in candidates
    ]
    if bought:
        print(f"already bought: {', '.join(bought)}")

    # 3. Buy what is missing.
    missing = args.domains - len(bought)
    if missing > 0:
        results = await search_domains_all(client, [n for n in candidates if n not in bought])
        available = [r.domain for r in results if r.status == "available"][:missing]
        if len(available) < missing:
            print(f"only {len(available)} of the names are available", file=sys.stderr)
            return 1
        await client.buy_domains(body={"domains": available}, exactly_once=True)
        sent += 1
        bought += available
        print(f"bought {len(available)} domain(s): {', '.join(available)}")

    # 4. The order for the bought domains, tagged with the job's tag.
    domains: list[DomainSpecDict] = [
        {"domain": name, "first_name": args.first_name, "last_name": args.last_name}
        for name in bought[: args.domains]
    ]
    body: CreateCustomOrderBody = {"tag": tag, "providers": {"google": {"domains": domains}}}
    order = await client.create_custom_order(provider="scaledmail", body=body, exactly_once=True)
    sent += 1
    # A purchase found by reconciliation (its answer was lost) says so in its extra fields.
    how = " (found by reconciliation)" if order.additional_properties.get("reconciled") else ""
    print(f"ordered: {order.id or order.payment_id} (tag {tag}){how}")
    print(f"purchases sent by this run: {sent}")
    return 0


async def run(args: argparse.Namespace) -> int:
    journal = SQLitePurchaseJournal(args.journal)
    try:
        async with open_client(args.fake, journal=journal) as client:
            return await provision(client, journal, args)
    except DuplicatePurchaseError as exc:  # another run holds this purchase: nothing was sent
        print(f"not sent: {exc}", file=sys.stderr)
        return 3 if exc.entry.state in ("pending", "unknown") else 1
    except PaymentPendingError:  # the order exists: never retry it
        print("the order was created but the card needs confirmation (Billing)", file=sys.stderr)
        return 1
    except OutcomeUnknownError as exc:  # exactly_once could not settle it before the deadline
        print(f"outcome unknown (tag {exc.tag}): run the job again later", file=sys.stderr)
        return 3
    finally:
        await journal.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fake", action="store_true", help="run against an embedded fake server")
    parser.add_argument("--journal", default="provisioning.db", help="the SQLite journal file")
    parser.add_argument("--tag", default="tidewater-dec", help="the order's tag (<= 20 chars)")
    parser.add_argument("--keyword", default="tidewater", help="candidate names are made of it")
    parser.add_argument("--domains", type=int, default=3, help="how many domains to provision")
    parser.add_argument("--first-name", default="Lea", help="the sender's first name")
    parser.add_argument("--last-name", default="Moss", help="the sender's last name")
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(run(args)))
    except ScaledmailError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
