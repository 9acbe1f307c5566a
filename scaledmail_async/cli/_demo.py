"""The demo job behind ``make demo`` / ``scaledmail demo``: the SDK's main job, with no API key.

:func:`run_demo` starts :class:`~scaledmail_async.testing.FakeScaledmail` in-process on a free
local port with the documented limits (5 requests/second per key, 15/minute for the critical
domain operations) and a realistic order lifecycle, injects a few faults, and provisions about 40
domains across Google, Outlook and SMTP the way a user would:

1. ``get_organizations`` (the organization to work in);
2. suggest names (:func:`~scaledmail_async.bulk.iter_suggested_domains`);
3. confirm availability (:func:`~scaledmail_async.bulk.search_domains_all`, batches of 10);
4. buy the Google and Outlook names (``buy_domains``, batches of 10) and check they arrived in
   the purchased-domain inventory (``get_purchased_domains(available=True)``);
5. one custom order per provider (``create_custom_order``: ``provider=scaledmail`` for the
   bought names, ``provider=buy`` for the SMTP names, each with a tag), concurrently. Every
   spend goes through a purchase journal (SQLite, in a temporary directory) with
   ``exactly_once=True``: the fake resets the connection after applying one order, and the
   client reconciles it by its tag instead of buying it again;
6. redirect updates for every domain (:func:`~scaledmail_async.bulk.update_redirects`) while the
   orders are polled until active (:func:`~scaledmail_async.bulk.poll_orders`), with a rich
   progress display;
7. a closing summary (:class:`DemoSummary`): requests made (the fake's counters), retries (the
   client's attempts, counted with an aiohttp trace hook), 429s, faults injected, elapsed time
   against the rate-limit floor. It also checks that no spending call was applied twice.

Needs the ``cli`` extra (rich draws the progress display and the summary). The critical group
allows 15 calls a minute; the default job makes 10 (2 suggest pages, 5
search batches, 3 buy batches), so the client's limiter never has to hold one back for a minute.
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
import time
import types
import uuid
from collections.abc import Sequence
from typing import Any, Final

import aiohttp
import attrs
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from scaledmail_async._client import ScaledmailClient
from scaledmail_async._journal import SQLitePurchaseJournal
from scaledmail_async._limiter import InProcessLimiter
from scaledmail_async._types import UNSET
from scaledmail_async.bulk import (
    iter_suggested_domains,
    map_concurrent,
    poll_orders,
    search_domains_all,
    update_redirects,
)
from scaledmail_async.models import CreateCustomOrderBody, DomainSpecDict, ProviderDomainsDict
from scaledmail_async.testing import FakeScaledmail

__all__ = ["DemoCheckError", "DemoConfig", "DemoOrder", "DemoSummary", "run_demo"]

_PROVIDERS: Final = ("google", "outlook", "smtp")
_SPENDING: Final = ("buy_domains", "create_custom_order")
_PEOPLE: Final = (
    ("Lea", "Moss"),
    ("Ian", "Park"),
    ("Ana", "Reyes"),
    ("Tom", "Baker"),
    ("Mia", "Chen"),
    ("Noah", "Hale"),
    ("Ivy", "Lund"),
    ("Sam", "Ortiz"),
)


class DemoCheckError(RuntimeError):
    """A check of the demo failed (e.g. a spending call was applied more often than made)."""


@attrs.frozen(kw_only=True)
class DemoConfig:
    """The demo's knobs. The defaults are the documented API limits and ``make demo``'s job;
    tests shorten it (fewer domains, higher fake limits, a faster lifecycle)."""

    #: Domains to provision, split about 40 % Google, 25 % Outlook, the rest SMTP.
    domains: int = attrs.field(default=40, validator=attrs.validators.in_(range(3, 201)))
    #: Requests per second per key, on the fake and in the client.
    rate_limit: int = 5
    #: Critical operations (search, suggest, buy) per minute, on the fake and in the client.
    critical_limit: int = 15
    #: A new order is Active on the poll after this many polls ...
    activate_after_polls: int | None = 3
    #: ... or this many seconds after its creation, whichever comes first.
    activate_after_seconds: float | None = 10.0
    #: Seconds between two polls of one order.
    poll_interval: float = 1.5
    #: Give up polling after this many seconds.
    poll_timeout: float = 90.0
    #: Inject the faults (two 503s, a connection reset, a 429).
    faults: bool = True
    #: The keyword names are suggested from.
    keyword: str = "northwind"
    #: The fake's seed (deterministic data and availability).
    seed: int = 0
    #: The client's retries per call.
    max_retries: int = 4
    #: Draw the live progress display.
    show_progress: bool = True


@attrs.frozen(kw_only=True)
class DemoOrder:
    """One order the demo created."""

    order_id: str
    provider: str
    tag: str
    domains: tuple[str, ...]
    #: The final outcome of polling: "completed", "cancelled", "failed" or "pending".
    outcome: str


@attrs.frozen(kw_only=True)
class DemoSummary:
    """What the demo did and how the SDK behaved."""

    domains_requested: int
    domains_suggested: int
    domains_available: int
    domains_bought: int
    domains_ordered: int
    orders: tuple[DemoOrder, ...]
    redirects_updated: int
    redirects_failed: int
    #: Requests the fake server received (its counters).
    requests: int
    requests_by_operation: dict[str, int]
    #: Critical-group requests (suggest, search, buy) the fake received.
    critical_requests: int
    #: Retries the client made (attempts beyond the first, over every call).
    retries: int
    #: 429 responses the fake sent (injected and from its rate limiter).
    rate_limited: int
    faults_injected: int
    faults_by_kind: dict[str, int]
    #: Spending calls the demo made, and how many the fake applied (must be equal).
    purchases_made: int
    purchases_applied: int
    elapsed: float
    #: ``requests / rate_limit``: the fastest the job could possibly run at the key's limit.
    floor: float
    rate_limit: int

    @property
    def ratio(self) -> float:
        """Elapsed time over the rate-limit floor (1.0 would be a perfectly packed schedule)."""
        return self.elapsed / self.floor if self.floor > 0 else math.inf

    @property
    def all_active(self) -> bool:
        """Whether every order became active."""
        return bool(self.orders) and all(o.outcome == "completed" for o in self.orders)

    @property
    def no_duplicate_purchases(self) -> bool:
        """Whether the fake applied exactly the spending calls the demo made."""
        return self.purchases_made == self.purchases_applied

    def table(self) -> Table:
        """The summary as a small rich table."""
        table = Table(
            title="scaledmail demo: summary",
            box=box.SIMPLE_HEAVY,
            title_justify="left",
            show_header=False,
        )
        table.add_column("", style="bold")
        table.add_column("value", justify="right")
        active = sum(1 for o in self.orders if o.outcome == "completed")
        kinds = ", ".join(f"{k} x{v}" for k, v in self.faults_by_kind.items()) or "none"
        rows = [
            ("domains provisioned", f"{self.domains_ordered} of {self.domains_requested}"),
            ("  bought with buy-domains", str(self.domains_bought)),
            ("orders active", f"{active} of {len(self.orders)}"),
            ("redirects updated", f"{self.redirects_updated} ({self.redirects_failed} failed)"),
            ("requests made", str(self.requests)),
            ("  critical (suggest/search/buy)", str(self.critical_requests)),
            ("retries", str(self.retries)),
            ("429s received", str(self.rate_limited)),
            ("faults injected", f"{self.faults_injected} ({kinds})"),
            (
                "purchases made / applied",
                f"{self.purchases_made} / {self.purchases_applied}"
                + (" (no duplicates)" if self.no_duplicate_purchases else " (DUPLICATES!)"),
            ),
            ("elapsed", f"{self.elapsed:.1f} s"),
            (
                "rate-limit floor",
                f"{self.floor:.1f} s ({self.requests} requests / {self.rate_limit} per s)",
            ),
            ("elapsed / floor", f"{self.ratio:.2f}"),
        ]
        for label, value in rows:
            table.add_row(label, value)
        return table


def _split(total: int) -> dict[str, int]:
    """Domains per provider: about 40 % Google, 25 % Outlook (at most 30), the rest SMTP."""
    google = max(1, round(total * 0.4))
    outlook = min(30, max(1, round(total * 0.25)))
    smtp = total - google - outlook
    if smtp > 70:  # the documented SMTP cap per order: give the rest to Google (cap 100)
        google += smtp - 70
        smtp = 70
    return {"google": google, "outlook": outlook, "smtp": smtp}


def _domain_spec(name: str, index: int, redirect: str) -> DomainSpecDict:
    first, last = _PEOPLE[index % len(_PEOPLE)]
    return {"domain": name, "first_name": first, "last_name": last, "redirect": redirect}


def _order_body(
    provider: str, tag: str, names: Sequence[str], redirect: str
) -> CreateCustomOrderBody:
    domains = [_domain_spec(name, i, redirect) for i, name in enumerate(names)]
    providers: ProviderDomainsDict = {}
    if provider == "google":
        providers["google"] = {"domains": domains, "mailboxes_per_domain": 3}
    elif provider == "outlook":
        providers["outlook"] = {"domains": domains}
    else:
        providers["smtp"] = {"domains": domains}
    return {"tag": tag, "providers": providers}


class _RetryCounter:
    """Counts request attempts through aiohttp's tracing hooks (the transport tags each attempt
    with ``trace_request_ctx={"attempt": n, ...}``)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.retries = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._on_start)

    async def _on_start(
        self,
        session: aiohttp.ClientSession,
        context: types.SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        self.attempts += 1
        info = getattr(context, "trace_request_ctx", None)
        attempt = info.get("attempt") if isinstance(info, dict) else None
        if isinstance(attempt, int) and attempt > 1:
            self.retries += 1


class _Display:
    """The live progress display: one bar per phase, one per order."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.phases = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(bar_width=32),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
        )
        self.orders = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(bar_width=32, complete_style="green"),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
        )
        self._live = (
            Live(Group(self.phases, self.orders), console=console, refresh_per_second=8)
            if enabled
            else None
        )

    def __enter__(self) -> _Display:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc_info)

    def phase(self, description: str, total: int) -> TaskID:
        return self.phases.add_task(description, total=total, note="")

    def hook(self, task: TaskID) -> Any:
        def on_progress(done: int, total: int) -> None:
            self.phases.update(task, completed=done, total=total)

        return on_progress

    def finish(self, task: TaskID, note: str = "") -> None:
        total = next(t.total for t in self.phases.tasks if t.id == task)
        self.phases.update(task, completed=total, note=note)


def _order_id(response: Any) -> str | None:
    for name in ("id", "payment_id", "order_id"):
        value = getattr(response, name, UNSET)
        if isinstance(value, str) and value:
            return value
    return None


async def _find_order_by_tag(client: ScaledmailClient, tag: str) -> str:
    """Reconcile by tag: the order list carries no tags, so read each order's details."""
    orders = await client.get_orders()
    for payment in orders.payments:
        details = await client.get_order_details(payment.id)
        if details.tag == tag:
            return payment.id
    raise DemoCheckError(f"no order with tag {tag!r} was found")


async def run_demo(
    config: DemoConfig | None = None, *, console: Console | None = None
) -> DemoSummary:
    """Run the demo job against an in-process fake server; return (and print) its summary.

    Raises :class:`DemoCheckError` when a check fails (not enough available names, or a
    spending call applied more often than it was made).
    """
    cfg = config or DemoConfig()
    console = console or Console()
    split = _split(cfg.domains)
    fake_options: dict[str, Any] = {
        "seed": cfg.seed,
        "rate_limit": cfg.rate_limit,
        "critical_limit": cfg.critical_limit,
        "activate_after_polls": cfg.activate_after_polls,
        "activate_after_seconds": cfg.activate_after_seconds,
    }
    counter = _RetryCounter()
    async with FakeScaledmail(**fake_options) as fake:
        if cfg.faults:
            fake.faults.add("status", count=2, operation="get_order_details", status=503)
            fake.faults.add("reset_before", operation="update_domain_redirect")
            fake.faults.add("status", operation="buy_domains", status=429, retry_after=1)
            # an order applied whose answer is lost: exactly_once reconciles it by its tag
            fake.faults.add("reset_after", operation="create_custom_order")
        console.print(
            f"[bold]scaledmail demo[/bold]: fake Scaledmail API at {fake.base_url} "
            f"({cfg.rate_limit} requests/s per key, {cfg.critical_limit}/min for search, suggest "
            f"and buy); provisioning {cfg.domains} domains "
            f"({', '.join(f'{n} {p}' for p, n in split.items())})."
        )
        limiter = InProcessLimiter(cfg.rate_limit, critical_limit=cfg.critical_limit)
        journal_dir = tempfile.TemporaryDirectory(prefix="scaledmail-demo-")
        journal = SQLitePurchaseJournal(os.path.join(journal_dir.name, "purchases.db"))
        client = ScaledmailClient(
            fake.api_key,
            base_url=fake.base_url,
            max_retries=cfg.max_retries,
            limiter=limiter,
            trace_configs=[counter.config],
            backoff_base=0.25,
            journal=journal,
        )
        started = time.monotonic()
        try:
            async with client:
                with _Display(console, cfg.show_progress) as display:
                    result = await _Job(client, cfg, split, display).run()
            entries = await journal.entries()
        finally:
            await journal.aclose()
            journal_dir.cleanup()
        elapsed = time.monotonic() - started
        console.print(
            f"\npurchase journal: {len(entries)} spends recorded, "
            f"{sum(e.state == 'applied' for e in entries)} applied, "
            f"{sum('reconciled' in e.note for e in entries)} found again by reconciliation"
        )
        stats = fake.stats()
        purchases_applied = sum(fake.applied_count(op) for op in _SPENDING)
        summary = DemoSummary(
            domains_requested=cfg.domains,
            domains_suggested=result.suggested,
            domains_available=result.available,
            domains_bought=len(result.bought),
            domains_ordered=sum(len(o.domains) for o in result.orders),
            orders=tuple(result.orders),
            redirects_updated=result.redirects_ok,
            redirects_failed=result.redirects_failed,
            requests=int(stats["requests"]),
            requests_by_operation=dict(stats["by_operation"]),
            critical_requests=sum(
                fake.request_count(op)
                for op in ("suggest_domains", "search_domains", "buy_domains")
            ),
            retries=counter.retries,
            rate_limited=fake.request_count(status=429),
            faults_injected=int(stats["faults_injected"]),
            faults_by_kind=dict(stats["faults_by_kind"]),
            purchases_made=result.purchases,
            purchases_applied=purchases_applied,
            elapsed=elapsed,
            floor=int(stats["requests"]) / cfg.rate_limit,
            rate_limit=cfg.rate_limit,
        )
    console.print()
    console.print(summary.table())
    if not summary.no_duplicate_purchases:
        raise DemoCheckError(
            f"{summary.purchases_made} spending calls were made but the server applied "
            f"{summary.purchases_applied}"
        )
    return summary


@attrs.define
class _JobResult:
    suggested: int = 0
    available: int = 0
    bought: list[str] = attrs.Factory(list)
    orders: list[DemoOrder] = attrs.Factory(list)
    purchases: int = 0
    redirects_ok: int = 0
    redirects_failed: int = 0


class _Job:
    """The provisioning job itself (one instance per run)."""

    def __init__(
        self,
        client: ScaledmailClient,
        cfg: DemoConfig,
        split: dict[str, int],
        display: _Display,
    ) -> None:
        self.client = client
        self.cfg = cfg
        self.split = split
        self.display = display
        self.result = _JobResult()

    async def run(self) -> _JobResult:
        orgs = await self.client.get_organizations()
        self.client.organization_id = orgs.organizations[0].id
        names = await self._find_names()
        ordered = await self._buy(names)
        orders = await self._create_orders(ordered)
        await asyncio.gather(self._update_redirects(ordered), self._poll(orders))
        return self.result

    async def _find_names(self) -> list[str]:
        """Suggested names that are still available, confirmed by a search."""
        cfg, display = self.cfg, self.display
        wanted = cfg.domains + max(2, cfg.domains // 8)
        suggest = display.phase("suggest names", 1)
        candidates: list[str] = []
        async for item in iter_suggested_domains(
            self.client, cfg.keyword, limit=50, on_progress=display.hook(suggest)
        ):
            self.result.suggested += 1
            if item.status == "available" and not item.blacklisted:
                candidates.append(item.domain)
                if len(candidates) >= wanted:
                    break
        display.finish(suggest, f"{len(candidates)} candidate names")
        search = display.phase("search availability", len(candidates))
        found = await search_domains_all(self.client, candidates, on_progress=display.hook(search))
        available = [r.domain for r in found if r.status == "available" and not r.blacklisted]
        self.result.available = len(available)
        display.finish(search, f"{len(available)} available")
        if len(available) < cfg.domains:
            raise DemoCheckError(
                f"only {len(available)} available names for {cfg.domains} domains; "
                "try another keyword"
            )
        return available[: cfg.domains]

    async def _buy(self, names: list[str]) -> dict[str, list[str]]:
        """Buy the Google and Outlook names (the SMTP ones are registered by their order)."""
        ordered: dict[str, list[str]] = {}
        start = 0
        for provider in _PROVIDERS:
            ordered[provider] = names[start : start + self.split[provider]]
            start += self.split[provider]
        to_buy = ordered["google"] + ordered["outlook"]
        batches = [to_buy[i : i + 10] for i in range(0, len(to_buy), 10)]
        task = self.display.phase("buy domains", len(batches))

        async def buy(batch: list[str]) -> None:
            await self.client.buy_domains(body={"domains": batch}, exactly_once=True)

        results = await map_concurrent(
            buy, batches, concurrency=2, on_progress=self.display.hook(task)
        )
        self.result.purchases += sum(1 for r in results if r.ok)
        for r in results:
            r.unwrap()
        self.result.bought = to_buy
        inventory = await self.client.get_purchased_domains(available=True)
        owned = {d.domain for d in inventory.domains}
        missing = [name for name in to_buy if name not in owned]
        if missing:
            raise DemoCheckError(f"bought domains missing from the inventory: {missing}")
        self.display.finish(task, f"{len(to_buy)} domains, in the inventory")
        return ordered

    async def _create_orders(self, ordered: dict[str, list[str]]) -> list[tuple[str, DemoOrder]]:
        suffix = uuid.uuid4().hex[:6]
        redirect = f"https://{self.cfg.keyword}.example"
        plans = [(p, f"demo-{p}-{suffix}", ordered[p]) for p in _PROVIDERS if ordered[p]]
        task = self.display.phase("create orders", len(plans))

        async def create(plan: tuple[str, str, list[str]]) -> DemoOrder:
            provider, tag, names = plan
            response = await self.client.create_custom_order(
                provider="buy" if provider == "smtp" else "scaledmail",
                body=_order_body(provider, tag, names, redirect),
                exactly_once=True,
            )
            self.result.purchases += 1
            order_id = _order_id(response) or await _find_order_by_tag(self.client, tag)
            return DemoOrder(
                order_id=order_id,
                provider=provider,
                tag=tag,
                domains=tuple(names),
                outcome="pending",
            )

        results = await map_concurrent(
            create, plans, concurrency=len(plans), on_progress=self.display.hook(task)
        )
        orders = [r.unwrap() for r in results]
        self.display.finish(task, f"tags demo-*-{suffix}")
        return [(o.order_id, o) for o in orders]

    async def _update_redirects(self, ordered: dict[str, list[str]]) -> None:
        new = {
            name: f"https://www.{self.cfg.keyword}.example/{provider}"
            for provider, names in ordered.items()
            for name in names
        }
        task = self.display.phase("update redirects", len(new))
        results = await update_redirects(
            self.client, new, concurrency=4, on_progress=self.display.hook(task)
        )
        self.result.redirects_ok = sum(1 for r in results if r.ok)
        self.result.redirects_failed = len(results) - self.result.redirects_ok
        self.display.finish(task, f"{self.result.redirects_failed} failed")

    async def _poll(self, orders: list[tuple[str, DemoOrder]]) -> None:
        by_id = dict(orders)
        bars = {
            oid: self.display.orders.add_task(
                f"order {order.provider} ({order.tag})", total=len(order.domains), note="new"
            )
            for oid, order in by_id.items()
        }
        outcome: dict[str, str] = {}
        poller = poll_orders(
            self.client,
            list(by_id),
            interval=self.cfg.poll_interval,
            timeout=self.cfg.poll_timeout,
            raise_on_timeout=False,
        )
        async with poller:
            async for event in poller:
                bar = bars[event.order_id]
                if event.error is not None:
                    self.display.orders.update(bar, note=f"[red]{type(event.error).__name__}")
                elif event.details is not None:
                    details = event.details
                    domains = [d for p in details.packages or [] for d in p.domains or []]
                    active = sum(1 for d in domains if str(d.status or "").lower() == "active")
                    self.display.orders.update(
                        bar,
                        completed=active,
                        total=max(len(domains), 1),
                        note=f"{details.status} (poll {event.polls})",
                    )
                if event.done:
                    outcome[event.order_id] = event.outcome
        self.result.orders = [
            attrs.evolve(order, outcome=outcome.get(oid, "pending")) for oid, order in orders
        ]
