"""In-memory state of the fake: organizations, packages, orders, domains, inventory, forms.

Everything is generated from ``FakeOptions.seed`` with one :class:`random.Random`, so a given seed
gives the same organizations, ids and names on every run (and the same ids for the same sequence
of purchases). Records are plain dataclasses; ``_handlers`` renders them in the API's wire shapes.
Mutations are synchronous, so each request's check-then-change is atomic under asyncio.

Reads may lag writes (``FakeOptions.visibility_delay``): what a spend creates carries a
``visible_at`` (on the fake's clock) and the read handlers go through the ``visible_*`` lookups;
the write paths (availability, inventory, "already in use") always see everything. The server's
wall clock may be skewed (``FakeOptions.clock_skew``): :meth:`FakeState.now` and
:meth:`FakeState.wall_time` are the skewed clock every new timestamp comes from.
"""

from __future__ import annotations

import hashlib
import random
import string
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from scaledmail_async.testing._options import FakeOptions

__all__ = [
    "Domain",
    "DomainPlan",
    "FakeState",
    "Mailbox",
    "Order",
    "OrderPackage",
    "Organization",
    "Package",
    "PendingForm",
    "PreWarmDomain",
    "PurchasedDomain",
    "SwapRequest",
]

_ALNUM = string.ascii_letters + string.digits
_FIRST = [
    "Lea",
    "Ana",
    "Tom",
    "Maya",
    "Noah",
    "Iris",
    "Owen",
    "Zara",
    "Eli",
    "Nina",
    "Liam",
    "Ruth",
]
_LAST = ["Moss", "Reyes", "Hart", "Quinn", "Stone", "Vale", "Park", "Lund", "Cole", "Frost"]
_WORD_A = ["north", "tide", "harbor", "bright", "quill", "cedar", "river", "summit", "maple"]
_WORD_A += ["silver", "copper", "ember", "lumen", "atlas", "nova", "orbit"]
_WORD_B = ["wind", "water", "lane", "point", "field", "gate", "peak", "stone", "ridge", "brook"]
_WORD_C = ["mail", "hq", "leads", "co", "labs", "reach", "send", "group", "team", "works"]
_FAMOUS = {"google", "facebook", "amazon", "microsoft", "apple", "example", "scaledmail", "openai"}
#: First-year and renewal price (USD, with markup) per supported TLD.
TLD_PRICES: dict[str, tuple[float, float]] = {
    "com": (15.5, 17.0),
    "net": (16.5, 18.0),
    "org": (12.5, 15.0),
    "io": (39.0, 45.0),
    "co": (28.0, 30.0),
    "ai": (79.0, 85.0),
}
#: Mailbox prices observed live (USD): Google per mailbox, Outlook and SMTP per domain.
PRICE_GOOGLE_MAILBOX = 3.5
PRICE_OUTLOOK_DOMAIN = 50.0
PRICE_SMTP_DOMAIN = 3.75
#: Mailboxes per domain by provider (Google: 2 by default, 2-4 with mailboxes_per_domain).
MAILBOXES_PER_DOMAIN = {"google": 2, "outlook": 25, "smtp": 4}
PACKAGE_TYPES = {"google": "Google", "outlook": "Microsoft", "smtp": "SMTP"}
_BASE_TIME = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


def iso(moment: datetime) -> str:
    """``2026-03-14T09:26:53.000Z``: the API's timestamp format."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def alias_variants(first: str, last: str, count: int) -> list[str]:
    """``count`` distinct mailbox local parts generated from a sender name."""
    f = "".join(ch for ch in first.lower() if ch.isalnum()) or "sender"
    last_clean = "".join(ch for ch in last.lower() if ch.isalnum()) or "team"
    candidates = [
        f,
        f"{f}.{last_clean}",
        f"{f}{last_clean}",
        f"{f[0]}.{last_clean}",
        f"{f[0]}{last_clean}",
        f"{f}.{last_clean[0]}",
        f"{f}_{last_clean}",
        f"{f}-{last_clean}",
        f"{last_clean}.{f}",
        last_clean,
        f"{f}{last_clean[0]}",
        f"{last_clean}{f[0]}",
    ]
    out: list[str] = []
    for candidate in candidates:
        if candidate not in out:
            out.append(candidate)
    number = 1
    while len(out) < count:
        out.append(f"{f}{number}")
        number += 1
    return out[:count]


@dataclass
class Organization:
    """An organization (workspace) under the account."""

    id: str
    name: str


@dataclass
class Package:
    """A fixed package sold by Create Order (``provider`` is ``google`` or ``outlook``)."""

    id: str
    tier: str
    name: str
    price: float
    domains: int
    provider: str
    mailboxes: int


@dataclass
class Mailbox:
    """One mailbox (sender) on a domain."""

    first_name: str
    last_name: str
    alias: str
    password: str
    profile_picture: str | None = None


@dataclass
class Domain:
    """A sending domain attached to an order (what ``GET /domains`` lists)."""

    id: str
    organization_id: str
    name: str
    payment_id: str
    provider: str
    mailboxes: list[Mailbox]
    redirect: str
    tag: str
    domain_provider: str
    domain_masking: bool = False


@dataclass
class OrderPackage:
    """One provider's part of an order (``packages[]`` of Get Order Details)."""

    id: str
    provider: str
    created_at: str
    domain_ids: list[str]
    note: str = ""

    @property
    def type(self) -> str:
        """``Google`` / ``Microsoft`` / ``SMTP``."""
        return PACKAGE_TYPES[self.provider]


@dataclass
class Order:
    """An order (a payment / subscription)."""

    id: str
    organization_id: str
    created_at: str
    created_clock: float
    amount: float
    tag: str
    description: str
    packages: list[OrderPackage]
    active: bool
    cancelled: bool = False
    polls: int = 0
    #: The operation that created it (``seed`` for seeded data).
    source: str = "seed"
    #: True when the card could not be charged ("Subscription created but unable to charge").
    payment_pending: bool = False
    #: When reads start showing it (fake clock; ``None``: at once). See ``visibility_delay``.
    visible_at: float | None = None


@dataclass
class PurchasedDomain:
    """A domain registration bought through Scaledmail; ``domain_id`` set once attached."""

    id: str
    organization_id: str
    domain: str
    created_at: str
    renewal_at: str
    renewal_price: float
    domain_id: str | None = None
    #: When ``/purchased-domains`` starts listing it (fake clock; ``None``: at once).
    visible_at: float | None = None


@dataclass
class PreWarmDomain:
    """A pre-warmed domain for sale (shared stock)."""

    id: str
    domain: str
    provider: str
    warmup_age: int
    one_time_price: float
    monthly_price: float
    mailboxes: list[Mailbox]
    #: Whether the listing includes ``emailMailbox`` (it is missing on some live items).
    list_mailboxes: bool = True


@dataclass
class PendingForm:
    """A paid order whose domain setup form was not submitted yet."""

    uuid: str
    organization_id: str
    payment_id: str
    description: str
    created_at: str
    amount: float
    type: str
    quantity: int
    domains_required: int
    domains: list[str]
    submitted: bool = False


@dataclass
class SwapRequest:
    """A swap-domain or swap-redirect request, reviewed "later" by Scaledmail staff."""

    id: str
    organization_id: str
    kind: str  # "domain" | "redirect"
    domain: str
    new_value: str
    provider: str | None
    created_at: str
    created_clock: float
    status: str = "pending"  # "pending" | "completed" | "rejected"


@dataclass
class DomainPlan:
    """A validated domain of a purchase: what to create."""

    name: str
    provider: str
    mailboxes: list[Mailbox]
    redirect: str = ""
    domain_provider: str = "scaledmail"


@dataclass
class FakeState:
    """All the fake's data. Inspect it in tests (``fake.state.orders``, ``swap_requests``...)."""

    options: FakeOptions
    clock: Callable[[], float]
    organizations: list[Organization] = field(default_factory=list)
    packages: list[Package] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)
    purchased: list[PurchasedDomain] = field(default_factory=list)
    pre_warm: list[PreWarmDomain] = field(default_factory=list)
    forms: dict[str, PendingForm] = field(default_factory=dict)
    swap_requests: list[SwapRequest] = field(default_factory=list)
    #: Names registered by anyone (never available again).
    registered: set[str] = field(default_factory=set)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.options.seed)
        self._seed_data()

    # ----------------------------------------------------------------- ids, names, clocks
    def new_id(self, prefix: str = "rec", length: int = 14) -> str:
        """A fresh id: ``rec`` + 14 alphanumerics (Airtable style) by default."""
        return prefix + "".join(self.rng.choice(_ALNUM) for _ in range(length))

    def new_password(self) -> str:
        """A mailbox password."""
        return "".join(self.rng.choice(_ALNUM) for _ in range(16))

    def now(self) -> datetime:
        """The server's current UTC time (timestamps of new records): the real time shifted by
        ``options.clock_skew`` seconds."""
        return datetime.now(UTC) + timedelta(seconds=self.options.clock_skew)

    def wall_time(self) -> float:
        """The server's current Unix time (``Date`` headers, 429 epochs): skewed like
        :meth:`now`."""
        return time.time() + self.options.clock_skew

    # ----------------------------------------------------------------- read visibility
    def _visible_from(self) -> float | None:
        delay = self.options.visibility_delay
        return self.clock() + delay if delay > 0 else None

    def visible(self, record: Order | PurchasedDomain) -> bool:
        """Whether reads show ``record`` yet (``visibility_delay`` has passed since it was
        created)."""
        return record.visible_at is None or self.clock() >= record.visible_at

    def reveal_all(self) -> None:
        """Make every record readable now (ends every ``visibility_delay`` wait)."""
        for order in self.orders.values():
            order.visible_at = None
        for registration in self.purchased:
            registration.visible_at = None

    def visible_order(self, organization_id: str, order_id: str) -> Order | None:
        """The organization's order with this id if reads show it yet."""
        order = self.order(organization_id, order_id)
        return order if order is not None and self.visible(order) else None

    def visible_orders(self, organization_id: str) -> list[Order]:
        """The organization's orders reads show, newest first."""
        return [o for o in self.org_orders(organization_id) if self.visible(o)]

    def visible_domains(self, organization_id: str) -> list[Domain]:
        """The organization's live domains whose order reads show."""
        return [
            d for d in self.org_domains(organization_id) if self.visible(self.orders[d.payment_id])
        ]

    def domain_visible(self, domain: Domain) -> bool:
        """Whether reads show ``domain`` (its order is visible)."""
        return self.visible(self.orders[domain.payment_id])

    def visible_purchased(self, organization_id: str) -> list[PurchasedDomain]:
        """The organization's registrations reads show."""
        return [
            p for p in self.purchased if p.organization_id == organization_id and self.visible(p)
        ]

    def _domain_name(self) -> str:
        while True:
            name = (
                self.rng.choice(_WORD_A)
                + self.rng.choice(_WORD_B)
                + self.rng.choice(_WORD_C)
                + ".com"
            )
            if name not in self.registered:
                return name

    def _person(self) -> tuple[str, str]:
        return self.rng.choice(_FIRST), self.rng.choice(_LAST)

    def make_mailboxes(self, first: str, last: str, count: int) -> list[Mailbox]:
        """``count`` mailboxes generated from one sender name."""
        return [
            Mailbox(first, last, alias, self.new_password())
            for alias in alias_variants(first, last, count)
        ]

    # ----------------------------------------------------------------- availability
    def name_status(self, name: str) -> str:
        """``available`` / ``taken`` / ``error`` (unsupported TLD) for a registrable name."""
        name = name.lower()
        base, _, tld = name.rpartition(".")
        if tld not in TLD_PRICES or not base:
            return "error"
        if name in self.registered or name in self.options.taken_domains:
            return "taken"
        if base.split(".")[-1] in _FAMOUS:
            return "taken"
        digest = hashlib.sha256(f"{self.options.seed}:{name}".encode()).digest()
        if int.from_bytes(digest[:4], "big") / 2**32 < self.options.taken_ratio:
            return "taken"
        return "available"

    def availability(self, name: str) -> dict[str, object]:
        """A ``DomainAvailability`` item as search and suggest return it."""
        name = name.lower()
        status = self.name_status(name)
        price, renew = TLD_PRICES.get(name.rpartition(".")[2], (None, None))
        available = status == "available"
        blacklisted = ["Spamhaus DBL"] if name in self.options.blacklisted_domains else []
        return {
            "domain": name,
            "status": status,
            "price": price if available else None,
            "renewPrice": renew if available else None,
            "blacklisted": blacklisted,
        }

    # ----------------------------------------------------------------- lookups
    def organization(self, organization_id: str) -> Organization | None:
        """The organization with this id, if any."""
        return next((o for o in self.organizations if o.id == organization_id), None)

    def package(self, price_id: str) -> Package | None:
        """The package with this Stripe price id, if any."""
        return next((p for p in self.packages if p.id == price_id), None)

    def order(self, organization_id: str, order_id: str) -> Order | None:
        """The organization's order with this id, if any."""
        order = self.orders.get(order_id)
        return order if order is not None and order.organization_id == organization_id else None

    def org_orders(self, organization_id: str) -> list[Order]:
        """The organization's orders, newest first."""
        found = [o for o in self.orders.values() if o.organization_id == organization_id]
        return sorted(found, key=lambda o: o.created_at, reverse=True)

    def org_domains(self, organization_id: str) -> list[Domain]:
        """The organization's domains on orders that are not cancelled."""
        return [
            d
            for d in self.domains.values()
            if d.organization_id == organization_id and not self.orders[d.payment_id].cancelled
        ]

    def domain_by_name(self, organization_id: str, name: str) -> Domain | None:
        """The organization's (live) domain with this name, if any."""
        name = name.lower()
        return next((d for d in self.org_domains(organization_id) if d.name == name), None)

    def in_use(self, name: str) -> bool:
        """Whether a live order anywhere uses this domain name."""
        name = name.lower()
        return any(
            d.name == name and not self.orders[d.payment_id].cancelled
            for d in self.domains.values()
        )

    def inventory(self, organization_id: str, name: str) -> PurchasedDomain | None:
        """The organization's unattached purchased registration of ``name``, if any."""
        name = name.lower()
        return next(
            (
                p
                for p in self.purchased
                if p.organization_id == organization_id and p.domain == name and p.domain_id is None
            ),
            None,
        )

    # ----------------------------------------------------------------- lifecycle
    def refresh(self, order: Order) -> None:
        """Activate ``order`` if its time or poll count has come."""
        if order.active or order.cancelled:
            return
        opts = self.options
        if (
            opts.activate_after_seconds is not None
            and self.clock() - order.created_clock >= opts.activate_after_seconds
        ):
            order.active = True
        if opts.activate_after_polls is not None and order.polls > opts.activate_after_polls:
            order.active = True

    def order_status(self, order: Order) -> str:
        """``Cancelled`` / ``Active`` / ``In Progress``."""
        self.refresh(order)
        if order.cancelled:
            return "Cancelled"
        return "Active" if order.active else "In Progress"

    def activate_order(self, order_id: str) -> None:
        """Make an order active now (users' tests can skip the lifecycle)."""
        self.orders[order_id].active = True

    def refresh_swaps(self) -> None:
        """Complete the pending swap requests whose time has come."""
        after = self.options.complete_swaps_after_seconds
        if after is None:
            return
        now = self.clock()
        for request in self.swap_requests:
            if request.status == "pending" and now - request.created_clock >= after:
                self._complete(request)

    def complete_swap_requests(self) -> list[SwapRequest]:
        """Apply every pending swap request, as Scaledmail staff would; returns them."""
        done = [r for r in self.swap_requests if r.status == "pending"]
        for request in done:
            self._complete(request)
        return done

    def _complete(self, request: SwapRequest) -> None:
        domain = self.domain_by_name(request.organization_id, request.domain)
        if domain is None:
            request.status = "rejected"
            return
        if request.kind == "redirect":
            domain.redirect = request.new_value
            request.status = "completed"
            return
        new_name = request.new_value.lower()
        if self.in_use(new_name):
            request.status = "rejected"
            return
        if request.provider == "scaledmail":
            registration = self.inventory(request.organization_id, new_name)
            if registration is None:
                request.status = "rejected"
                return
            registration.domain_id = domain.id
        for old in self.purchased:
            if old.domain_id == domain.id and old.domain != new_name:
                old.domain_id = None
        domain.name = new_name
        domain.domain_provider = request.provider or domain.domain_provider
        request.status = "completed"

    # ----------------------------------------------------------------- purchases
    def register(self, organization_id: str, name: str) -> PurchasedDomain:
        """Register ``name`` for the organization (adds it to ``/purchased-domains``)."""
        name = name.lower()
        today = self.now().date()
        renew = TLD_PRICES[name.rpartition(".")[2]][1]
        registration = PurchasedDomain(
            id=self.new_id(),
            organization_id=organization_id,
            domain=name,
            created_at=today.isoformat(),
            renewal_at=_add_year(today).isoformat(),
            renewal_price=renew,
            visible_at=self._visible_from(),
        )
        self.purchased.append(registration)
        self.registered.add(name)
        return registration

    def create_order(
        self,
        organization_id: str,
        plans: Iterable[DomainPlan],
        *,
        tag: str,
        amount: float,
        description: str,
        source: str,
        payment_pending: bool = False,
    ) -> Order:
        """Create an order with one package per provider and its domains and mailboxes.

        Purchased registrations with the same names are attached (``domain_id`` set).
        """
        opts = self.options
        created = iso(self.now())
        order = Order(
            id=self.new_id(),
            organization_id=organization_id,
            created_at=created,
            created_clock=self.clock(),
            amount=round(amount, 2),
            tag=tag,
            description=description,
            packages=[],
            active=opts.activate_after_polls == 0 or opts.activate_after_seconds == 0,
            source=source,
            payment_pending=payment_pending,
            visible_at=self._visible_from(),
        )
        self.orders[order.id] = order
        self._attach(order, plans)
        return order

    def _attach(self, order: Order, plans: Iterable[DomainPlan]) -> None:
        by_provider: dict[str, OrderPackage] = {p.provider: p for p in order.packages}
        for plan in plans:
            package = by_provider.get(plan.provider)
            if package is None:
                package = OrderPackage(self.new_id(), plan.provider, order.created_at, [])
                by_provider[plan.provider] = package
                order.packages.append(package)
            domain = Domain(
                id=self.new_id(),
                organization_id=order.organization_id,
                name=plan.name.lower(),
                payment_id=order.id,
                provider=plan.provider,
                mailboxes=plan.mailboxes,
                redirect=plan.redirect,
                tag=order.tag,
                domain_provider=plan.domain_provider,
            )
            self.domains[domain.id] = domain
            package.domain_ids.append(domain.id)
            registration = self.inventory(order.organization_id, domain.name)
            if registration is not None:
                registration.domain_id = domain.id
            self.registered.add(domain.name)

    def add_domains_to_order(self, order: Order, plans: Iterable[DomainPlan]) -> None:
        """Attach domains to an existing order (Submit Form)."""
        self._attach(order, plans)

    def cancel(self, order: Order) -> None:
        """Cancel an order: its domains leave ``/domains``; registrations become available."""
        order.cancelled = True
        for package in order.packages:
            for domain_id in package.domain_ids:
                for registration in self.purchased:
                    if registration.domain_id == domain_id:
                        registration.domain_id = None

    # ----------------------------------------------------------------- seeding
    def _seed_data(self) -> None:
        self.organizations = [
            Organization(self.new_id(), "acme-outbound"),
            Organization(self.new_id(), "globex-growth"),
        ]
        self.packages = [
            Package(self.new_id("price_", 24), "low-sending", "SM - Google 4", 14, 2, "google", 4),
            Package(
                self.new_id("price_", 24), "medium-sending", "SM - Google", 140, 20, "google", 40
            ),
            Package(
                self.new_id("price_", 24), "high-sending", "SM - Google 100", 350, 50, "google", 100
            ),
            Package(
                self.new_id("price_", 24), "low-sending", "SM - Microsoft", 50, 1, "outlook", 25
            ),
            Package(self.new_id("price_", 24), "high-sending", "SM MS 75", 150, 3, "outlook", 75),
        ]
        acme, globex = self.organizations
        self._seed_order(acme, [("google", 3)], days_ago=120, tag="acme-q1")
        self._seed_order(acme, [("outlook", 1), ("google", 2)], days_ago=90, tag="acme-mixed")
        self._seed_order(acme, [("smtp", 2)], days_ago=45, tag="")
        self._seed_order(acme, [("google", 1)], days_ago=200, tag="acme-old", cancelled=True)
        self._seed_order(globex, [("google", 2)], days_ago=30, tag="globex-01")
        for org, spare in ((acme, 4), (globex, 2)):
            for _ in range(spare):
                name = self._domain_name()
                self.registered.add(name)
                days = self.rng.randint(10, 300)
                created = (_BASE_TIME - timedelta(days=days)).date()
                self.purchased.append(
                    PurchasedDomain(
                        self.new_id(),
                        org.id,
                        name,
                        created.isoformat(),
                        _add_year(created).isoformat(),
                        17.0,
                    )
                )
        # A web-app order whose domain setup form was never submitted.
        form_domains = [self._domain_name(), self._domain_name()]
        self.registered.update(form_domains)
        form_order = self._seed_order(acme, [], days_ago=3, tag="", amount=99)
        form_order.description = "Scaledmail + Domains: 2"
        form = PendingForm(
            uuid=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            organization_id=acme.id,
            payment_id=form_order.id,
            description="Scaledmail + Domains: 2",
            created_at=form_order.created_at[:10],
            amount=99,
            type="package-subscription",
            quantity=1,
            domains_required=2,
            domains=form_domains,
        )
        self.forms[form.uuid] = form
        for provider, count, with_list in (
            ("google", 3, True),
            ("outlook", 2, False),
        ):
            for index in range(count):
                name = self._domain_name()
                self.registered.add(name)
                first, last = self._person()
                mailboxes = self.make_mailboxes(first, last, MAILBOXES_PER_DOMAIN[provider])
                google = provider == "google"
                self.pre_warm.append(
                    PreWarmDomain(
                        id=self.new_id(),
                        domain=name,
                        provider=provider,
                        warmup_age=self.rng.randint(1, 6),
                        one_time_price=20.0 if google else 35.0,
                        monthly_price=9.0 if google else 55.0,
                        mailboxes=mailboxes,
                        list_mailboxes=with_list or index == 0,
                    )
                )

    def _seed_order(
        self,
        org: Organization,
        parts: list[tuple[str, int]],
        *,
        days_ago: int,
        tag: str,
        cancelled: bool = False,
        amount: float | None = None,
    ) -> Order:
        moment = _BASE_TIME - timedelta(days=days_ago, seconds=self.rng.randint(0, 86_000))
        plans: list[DomainPlan] = []
        price = 0.0
        for provider, count in parts:
            for _ in range(count):
                first, last = self._person()
                per_domain = MAILBOXES_PER_DOMAIN[provider]
                plans.append(
                    DomainPlan(
                        name=self._domain_name(),
                        provider=provider,
                        mailboxes=self.make_mailboxes(first, last, per_domain),
                        redirect=f"https://{org.name}.example",
                    )
                )
                price += mailbox_price(provider, 1, per_domain)
        names = [PACKAGE_TYPES[p] for p, _ in parts]
        order = Order(
            id=self.new_id(),
            organization_id=org.id,
            created_at=iso(moment),
            created_clock=self.clock(),
            amount=round(amount if amount is not None else price, 2),
            tag=tag,
            description=(
                f"SM - {names[0]}" if len(names) == 1 else " - ".join(f"SM {n}" for n in names)
            )
            or "Scaledmail",
            packages=[],
            active=True,
            cancelled=cancelled,
        )
        self.orders[order.id] = order
        for plan in plans:
            registration = PurchasedDomain(
                self.new_id(),
                org.id,
                plan.name,
                moment.date().isoformat(),
                _add_year(moment.date()).isoformat(),
                17.0,
            )
            self.purchased.append(registration)
        self._attach(order, plans)
        for package in order.packages:
            package.created_at = iso(moment + timedelta(minutes=6, seconds=47))
        return order


def mailbox_price(provider: str, domains: int, mailboxes_per_domain: int) -> float:
    """The monthly price of ``domains`` domains of ``provider`` (live prices)."""
    if provider == "google":
        return PRICE_GOOGLE_MAILBOX * domains * mailboxes_per_domain
    if provider == "outlook":
        return PRICE_OUTLOOK_DOMAIN * domains
    return PRICE_SMTP_DOMAIN * domains


def _add_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)
