"""Poll orders until they are provisioned, printing every change (``poll_orders``).

The orders to watch are the ones given on the command line, or every order of the organization
that is not cancelled. An order whose setup form was never submitted cannot become active (the
web app waits for its domains), so those are listed and left out.

Against the API (the client reads ``SCALEDMAIL_API_KEY``, ``SCALEDMAIL_ORGANIZATION_ID`` and, when
set, ``SCALEDMAIL_BASE_URL`` from the environment)::

    python examples/order_poller.py                      # every order not cancelled
    python examples/order_poller.py recAAAA recBBBB      # these orders
    python examples/order_poller.py --interval 30 --timeout 3600

Against the embedded fake server (no key needed; its seeded orders)::

    python examples/order_poller.py --fake

Exit status: 0 when every order polled is active, 1 otherwise (timed out, cancelled, failed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

from scaledmail_async import UNSET, PollEvent, ScaledmailClient, ScaledmailError, poll_orders


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


def describe(event: PollEvent) -> str:
    """One line per event: the order, its outcome so far, its status and its domains."""
    if event.error is not None:
        return f"{event.order_id}  {event.outcome:<9}  error: {event.error}"
    details = event.details
    if details is None:
        return f"{event.order_id}  {event.outcome:<9}"
    domains = [d for p in details.packages or [] for d in p.domains or []]
    active = sum(1 for d in domains if str(d.status).casefold() == "active")
    status = details.status if details.status is not UNSET else "?"
    changed = ", ".join(sorted(event.changes)) or "-"
    return (
        f"{event.order_id}  {event.outcome:<9}  status={status}  "
        f"domains active={active}/{len(domains)}  changed: {changed}"
    )


async def run(args: argparse.Namespace) -> int:
    async with open_client(args.fake) as client:
        order_ids: list[str] = list(args.order_ids)
        if not order_ids:
            orders = await client.get_orders()
            order_ids = [p.id for p in orders.payments if str(p.status) != "Cancelled"]
        # An order waiting for its setup form (submit_form) does not progress by itself.
        forms = await client.get_pending_forms()
        waiting = {form.payment_id for form in forms.forms}
        for order_id in order_ids:
            if order_id in waiting:
                print(f"{order_id}  waiting for its setup form (submit_form): not polled")
        order_ids = [order_id for order_id in order_ids if order_id not in waiting]
        if not order_ids:
            print("no order to poll")
            return 0

        print(f"polling {len(order_ids)} order(s) every {args.interval:g} s")
        async with poll_orders(
            client, order_ids, interval=args.interval, timeout=args.timeout
        ) as poller:
            async for event in poller:
                print(describe(event))
        print(
            f"done: {len(poller.completed)} active, {len(poller.cancelled)} cancelled, "
            f"{len(poller.failed)} failed, {len(poller.pending)} not done"
        )
        return 0 if len(poller.completed) == len(order_ids) else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("order_ids", nargs="*", help="orders to poll (default: all not cancelled)")
    parser.add_argument("--fake", action="store_true", help="run against an embedded fake server")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between polls")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this long")
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(run(args)))
    except ScaledmailError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
