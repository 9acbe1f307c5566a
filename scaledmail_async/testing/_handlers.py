"""The 20 operations of the fake, on plain JSON: each handler takes a :class:`Ctx` and returns the
200 body or raises :class:`~scaledmail_async.testing._rules.ApiError`.

Response shapes follow the spec (``openapi/scaledmail.yaml``, built from the public API docs at
https://api.scaledmail.com): documented shapes where there are some, the shapes users observed
live otherwise (``{"organizations": [...]}``, ``{"domains": [...]}``...). The write operations
whose real 200 body was never captured answer a plausible shape, marked *inferred* in each
handler's docstring.

The read handlers (orders, order details, domains, purchased domains, mailboxes) show only what
is visible yet (``FakeOptions.visibility_delay``, see ``FakeState.visible``); the write handlers
check against everything, as the real primary would.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from scaledmail_async.testing._options import FakeOptions
from scaledmail_async.testing._rules import (
    PROVIDERS,
    ApiError,
    bad_request,
    check_hosting,
    check_sequencer,
    check_tag,
    normalize_domain,
    parse_domain_specs,
    query_provider,
    require_object,
)
from scaledmail_async.testing._state import (
    MAILBOXES_PER_DOMAIN,
    PACKAGE_TYPES,
    PRICE_GOOGLE_MAILBOX,
    PRICE_OUTLOOK_DOMAIN,
    PRICE_SMTP_DOMAIN,
    TLD_PRICES,
    Domain,
    DomainPlan,
    FakeState,
    Order,
    Organization,
    PreWarmDomain,
    SwapRequest,
    iso,
    mailbox_price,
)

__all__ = ["OPERATIONS", "Ctx", "FakeOperation"]

UNABLE_TO_CHARGE: Final = "Subscription created but unable to charge"
_DEFAULT_TLDS: Final = (".com", ".io", ".net", ".co", ".org")
_SUGGEST_PREFIXES: Final = ("get", "try", "use", "go", "join", "meet", "hello")
_SUGGEST_SUFFIXES: Final = ("hq", "mail", "team", "app", "labs", "group", "reach", "send")
#: Sends per mailbox per day by tier (low / medium / max), per provider.
_SENDS_PER_DAY: Final = {
    "google": {"low": 15, "medium": 20, "max": 25},
    "outlook": {"low": 5, "medium": 8, "max": 10},
    "smtp": {"low": 7, "medium": 8, "max": 10},
}
_MIN_MONTHLY_VOLUME: Final = 500
_READ_POSTS: Final = frozenset({"search_domains", "suggest_domains", "calculate_package"})


@dataclass
class Ctx:
    """What a handler gets: the state, the options and the parsed request."""

    state: FakeState
    options: FakeOptions
    org: Organization | None
    query: Mapping[str, str]
    path: Mapping[str, str]
    body: Any
    unable_to_charge: bool = False

    @property
    def org_id(self) -> str:
        """The validated organization id (only for operations that require one)."""
        assert self.org is not None
        return self.org.id


@dataclass(frozen=True)
class FakeOperation:
    """Where an operation lives and how the pipeline treats it."""

    operation_id: str
    method: str
    #: aiohttp route path relative to ``/api/v1``.
    path: str
    handler: Callable[[Ctx], Any]
    organization: bool = True
    critical: bool = False
    body: bool = False
    spends_money: bool = False

    @property
    def writes(self) -> bool:
        """Whether a successful call changes state (searches and quotes do not)."""
        return self.method != "GET" and self.operation_id not in _READ_POSTS


# --------------------------------------------------------------------------- renderers
def _render_mailbox_names(domain_mailboxes: list[Any]) -> list[dict[str, Any]]:
    return [
        {"first_name": m.first_name, "last_name": m.last_name, "alias": m.alias}
        for m in domain_mailboxes
    ]


def _domain_status(state: FakeState, domain: Domain) -> str:
    return state.order_status(state.orders[domain.payment_id])


def _render_domain(state: FakeState, domain: Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "domain": domain.name,
        "payment_id": domain.payment_id,
        "status": _domain_status(state, domain),
        "order_type": domain.provider,
        "total_mailboxes": len(domain.mailboxes),
        "mailbox": _render_mailbox_names(domain.mailboxes),
        "redirect": domain.redirect,
        "tag": domain.tag,
        "domain_provider": domain.domain_provider,
        "domain_masking": domain.domain_masking,
    }


def _render_pre_warm(item: PreWarmDomain) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "domain": item.domain,
        "warmup_age": item.warmup_age,
        "emailMailboxCount": len(item.mailboxes),
        "pricing": {"oneTimePrice": item.one_time_price, "monthlyPrice": item.monthly_price},
    }
    if item.list_mailboxes:
        out["emailMailbox"] = _render_mailbox_names(item.mailboxes)
    return out


def _render_order_details(state: FakeState, order: Order) -> dict[str, Any]:
    status = state.order_status(order)
    domain_status = {"Active": "Active", "In Progress": "", "Cancelled": "Cancelled"}[status]
    packages = []
    for package in order.packages:
        packages.append(
            {
                "type": package.type,
                "id": package.id,
                "note": package.note,
                "payment_id": order.id,
                "created_at": package.created_at,
                "total_domains": len(package.domain_ids),
                "status": status,
                "domains": [
                    {"id": d, "name": state.domains[d].name, "status": domain_status}
                    for d in package.domain_ids
                ],
            }
        )
    return {
        "id": order.id,
        "created_at": order.created_at,
        "amount": order.amount,
        "tag": order.tag,
        "status": status,
        "description": order.description,
        "invoices": [],
        "total_domains": sum(len(p.domain_ids) for p in order.packages),
        "packages": packages,
        "addons": [],
        "current_items": [],
    }


# --------------------------------------------------------------------------- helpers
def _bool_query(query: Mapping[str, str], name: str) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false")


def _int_query(query: Mapping[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"{name} must be a positive integer") from None
    if number < 1:
        raise bad_request(f"{name} must be a positive integer")
    return number


def _names_list(body: Mapping[str, Any], options: FakeOptions) -> list[str]:
    domains = body.get("domains")
    if not isinstance(domains, list) or not domains:
        raise bad_request("domains is required")
    limit = options.max_domains_per_request
    if len(domains) > limit:
        raise bad_request(f"Maximum {limit} domains per request")
    return [normalize_domain(d, "domains[]") for d in domains]


def _coupon_factor(ctx: Ctx) -> float:
    coupon = ctx.query.get("coupon")
    if not coupon:
        return 1.0
    percent = ctx.options.coupons.get(coupon)
    if percent is None:
        raise bad_request("Invalid coupon")
    return max(0.0, 1.0 - percent / 100.0)


def _check_sources(ctx: Ctx, plans: list[DomainPlan], provider: str) -> float:
    """Check where each domain comes from; returns the registration cost (``provider=buy``)."""
    state, cost = ctx.state, 0.0
    for plan in plans:
        if state.in_use(plan.name):
            raise bad_request(f"Domain already in use: {plan.name}")
        if provider == "scaledmail" and state.inventory(ctx.org_id, plan.name) is None:
            raise bad_request(f"Domain not available in your purchased domains: {plan.name}")
        if provider == "buy":
            if state.name_status(plan.name) != "available":
                raise bad_request(f"Domain not available: {plan.name}")
            cost += TLD_PRICES[plan.name.rpartition(".")[2]][0]
        plan.domain_provider = "other" if provider == "other" else "scaledmail"
    return cost


def _description(plans: list[DomainPlan], amounts: dict[str, float]) -> str:
    providers = list(dict.fromkeys(p.provider for p in plans))
    if len(providers) == 1:
        return f"SM - {PACKAGE_TYPES[providers[0]]}"
    total = sum(amounts.values()) or 1.0
    short = {"google": "Google", "outlook": "MS", "smtp": "SMTP"}
    return " - ".join(f"SM {short[p]} {round(100 * amounts[p] / total)}%" for p in providers)


def _charge(ctx: Ctx, order: Order) -> None:
    """Apply the "Subscription created but unable to charge" surprise when switched on."""
    if ctx.unable_to_charge or ctx.options.unable_to_charge:
        order.payment_pending = True
        raise ApiError(400, {"error": UNABLE_TO_CHARGE}, applied=True)


def _order_created(order: Order) -> dict[str, Any]:
    # The spec's CreateOrderResponse / CreateCustomOrderResponse fields (shape inferred).
    return {
        "success": True,
        "id": order.id,
        "payment_id": order.id,
        "message": "Order created successfully.",
    }


# --------------------------------------------------------------------------- organizations
def get_organizations(ctx: Ctx) -> Any:
    """``{"organizations": [{"id", "name"}]}`` (observed live; docs show ``{}``)."""
    return {"organizations": [{"id": o.id, "name": o.name} for o in ctx.state.organizations]}


# --------------------------------------------------------------------------- pre-warm
def get_pre_warm_inboxes(ctx: Ctx) -> Any:
    """``{"total", "google": [...], "outlook": [...]}`` (documented)."""
    google = [_render_pre_warm(i) for i in ctx.state.pre_warm if i.provider == "google"]
    outlook = [_render_pre_warm(i) for i in ctx.state.pre_warm if i.provider == "outlook"]
    return {"total": len(google) + len(outlook), "google": google, "outlook": outlook}


def buy_pre_warm_inboxes(ctx: Ctx) -> Any:
    """Buys stock items; creates an order. Response *inferred* (undocumented):
    ``{"success": true, "message", "payment_id"}``."""
    body = require_object(ctx.body)
    tag = body.get("tag", "")
    if tag is None:
        tag = ""
    if not isinstance(tag, str):
        raise bad_request("tag must be a string")
    check_sequencer(body, link_required=True)
    entries = body.get("domains")
    if not isinstance(entries, list) or not entries:
        raise bad_request("domains is required")
    chosen: list[tuple[PreWarmDomain, str]] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise bad_request(f"domains[{index}] must be an object")
        item_id, name = entry.get("id"), entry.get("domain")
        if not isinstance(item_id, str) or not item_id:
            raise bad_request(f"domains[{index}].id is required")
        if not isinstance(name, str) or not name:
            raise bad_request(f"domains[{index}].domain is required")
        redirect = entry.get("redirect") or ""
        if not isinstance(redirect, str):
            raise bad_request(f"domains[{index}].redirect must be a string")
        item = next((i for i in ctx.state.pre_warm if i.id == item_id), None)
        if item is None or item.domain != name.lower() or any(c[0] is item for c in chosen):
            raise bad_request(f"Pre-warm domain not available: {name}")
        chosen.append((item, redirect))
    plans = [DomainPlan(i.domain, i.provider, i.mailboxes, r, "scaledmail") for i, r in chosen]
    amount = sum(i.one_time_price + i.monthly_price for i, _ in chosen)
    for item, _ in chosen:
        ctx.state.pre_warm.remove(item)
    types = sorted({PACKAGE_TYPES[i.provider] for i, _ in chosen})
    order = ctx.state.create_order(
        ctx.org_id,
        plans,
        tag=tag,
        amount=amount,
        description="Pre-Warm - " + " + ".join(types),
        source="buy_pre_warm_inboxes",
    )
    return {
        "success": True,
        "message": "Pre-warm inboxes purchased successfully.",
        "payment_id": order.id,
    }


# --------------------------------------------------------------------------- domains
def get_domains(ctx: Ctx) -> Any:
    """``{"domains": [Domain]}`` (observed live); domains of orders not visible yet are left
    out."""
    ctx.state.refresh_swaps()
    return {
        "domains": [_render_domain(ctx.state, d) for d in ctx.state.visible_domains(ctx.org_id)]
    }


def _shown_domain_id(state: FakeState, domain_id: str | None) -> str | None:
    """A registration's ``domain_id`` as reads show it: ``None`` while its domain's order is not
    visible yet (the read still sees the registration unattached)."""
    if domain_id is None:
        return None
    domain = state.domains.get(domain_id)
    if domain is None or not state.domain_visible(domain):
        return None
    return domain_id


def get_purchased_domains(ctx: Ctx) -> Any:
    """``{"domains": [...]}`` (observed live); ``available=true`` lists unattached ones only.
    Registrations not visible yet are left out."""
    available = _bool_query(ctx.query, "available")
    state = ctx.state
    items = [(p, _shown_domain_id(state, p.domain_id)) for p in state.visible_purchased(ctx.org_id)]
    if available:
        items = [(p, shown) for p, shown in items if shown is None]
    return {
        "domains": [
            {
                "domain": p.domain,
                "domain_id": shown,
                "created_at": p.created_at,
                "renewal_at": p.renewal_at,
                "renewal_price": p.renewal_price,
            }
            for p, shown in items
        ]
    }


def search_domains(ctx: Ctx) -> Any:
    """A bare array of ``{domain, status, price, renewPrice, blacklisted}`` (documented)."""
    body = require_object(ctx.body)
    return [ctx.state.availability(name) for name in _names_list(body, ctx.options)]


def _keyword(value: str) -> str:
    text = value.strip().lower()
    text = re.sub(r"^[a-z]+://", "", text)
    text = text.split("/")[0]
    if text.startswith("www."):
        text = text[4:]
    text = text.split(".")[0]
    return re.sub(r"[^a-z0-9-]", "", text).strip("-")


def suggest_domains(ctx: Ctx) -> Any:
    """``{"total", "page", "limit", "total_pages", "domains": [...]}`` (documented); ``limit``
    is capped at 50; ideas are prefix/suffix variants of the keyword, as observed live."""
    body = require_object(ctx.body)
    domain = body.get("domain")
    if not isinstance(domain, str) or not domain.strip():
        raise bad_request("domain is required")
    keyword = _keyword(domain)
    if not keyword:
        raise bad_request("Invalid domain")
    tlds_raw = body.get("tlds")
    if tlds_raw is None:
        tlds_raw = list(_DEFAULT_TLDS)
    if not isinstance(tlds_raw, list) or not all(isinstance(t, str) and t for t in tlds_raw):
        raise bad_request("tlds must be an array of strings")
    tlds = list(dict.fromkeys(t.lower().lstrip(".") for t in tlds_raw))
    page = _int_query(ctx.query, "page", 1)
    limit = min(_int_query(ctx.query, "limit", 20), 50)
    bases = [keyword]
    bases += [p + keyword for p in _SUGGEST_PREFIXES]
    bases += [keyword + s for s in _SUGGEST_SUFFIXES]
    names = [f"{b}.{t}" for b in bases if len(b) <= 63 for t in tlds]
    total = len(names)
    start = (page - 1) * limit
    return {
        "total": total,
        "page": page,
        "limit": limit,
        "total_pages": math.ceil(total / limit),
        "domains": [ctx.state.availability(n) for n in names[start : start + limit]],
    }


def buy_domains(ctx: Ctx) -> Any:
    """Registers every name or none (any unavailable name fails the whole request).
    Response *inferred* (undocumented): ``{"success": true, "message"}``; the registrations
    appear in ``/purchased-domains``."""
    body = require_object(ctx.body)
    names = _names_list(body, ctx.options)
    if len(set(names)) != len(names):
        raise bad_request("Duplicate domain in request")
    for name in names:
        if ctx.state.name_status(name) != "available":
            raise bad_request(f"Domain not available: {name}")
    for name in names:
        ctx.state.register(ctx.org_id, name)
    return {"success": True, "message": f"{len(names)} domain(s) purchased successfully."}


def _swap(ctx: Ctx, kind: str, new_value: str, provider: str | None) -> SwapRequest:
    request = SwapRequest(
        id=ctx.state.new_id(),
        organization_id=ctx.org_id,
        kind=kind,
        domain=ctx.path["domain"].lower(),
        new_value=new_value,
        provider=provider,
        created_at=iso(ctx.state.now()),
        created_clock=ctx.state.clock(),
    )
    ctx.state.swap_requests.append(request)
    return request


def _existing_domain(ctx: Ctx) -> Domain:
    ctx.state.refresh_swaps()
    domain = ctx.state.domain_by_name(ctx.org_id, ctx.path["domain"])
    if domain is None:
        raise ApiError(404, {"error": "Domain not found"})
    return domain


def update_domain_name(ctx: Ctx) -> Any:
    """Records a swap request (applied later; see ``fake.state.swap_requests``). Response
    *inferred*: ``{"success": true, "message"}``."""
    provider = query_provider(ctx.query, ("scaledmail", "other"))
    domain = _existing_domain(ctx)
    body = require_object(ctx.body)
    new_domain = normalize_domain(body.get("new_domain"), "new_domain")
    if new_domain == domain.name:
        raise bad_request("new_domain must differ from the current domain")
    if ctx.state.in_use(new_domain):
        raise bad_request(f"Domain already in use: {new_domain}")
    if provider == "scaledmail" and ctx.state.inventory(ctx.org_id, new_domain) is None:
        raise bad_request(f"Domain not available in your purchased domains: {new_domain}")
    check_hosting(body, provider=provider, required=ctx.options.require_hosting)
    _swap(ctx, "domain", new_domain, provider)
    return {"success": True, "message": "Domain swap request submitted."}


def update_domain_redirect(ctx: Ctx) -> Any:
    """Records a redirect request; rejected with **409** while one is pending for the domain.
    Response *inferred*: ``{"success": true, "message"}``."""
    domain = _existing_domain(ctx)
    body = require_object(ctx.body)
    new_redirect = body.get("new_redirect")
    if not isinstance(new_redirect, str):
        raise bad_request("new_redirect is required")
    pending = any(
        r.kind == "redirect"
        and r.status == "pending"
        and r.organization_id == ctx.org_id
        and r.domain == domain.name
        for r in ctx.state.swap_requests
    )
    if pending:
        raise ApiError(409, {"error": "A redirect update is already in progress for this domain"})
    _swap(ctx, "redirect", new_redirect.strip(), None)
    return {"success": True, "message": "Redirect update request submitted."}


# --------------------------------------------------------------------------- packages
def get_packages(ctx: Ctx) -> Any:
    """``{"total", "packages": [...]}`` (documented)."""
    packages = []
    for p in ctx.state.packages:
        item: dict[str, Any] = {
            "id": p.id,
            "tier": p.tier,
            "name": p.name,
            "mode": "subscription",
            "price": p.price,
            "domains": p.domains,
        }
        if p.provider == "google":
            item["google"] = {"mailbox": p.mailboxes}
        else:
            item["microsoft"] = {"mailbox": p.mailboxes, "domains": p.domains}
        item["frequency"] = "/monthly"
        packages.append(item)
    return {"total": len(packages), "packages": packages}


def calculate_package(ctx: Ctx) -> Any:
    """``{"data": {...}, "success": true}`` (the live shape); prices in dollars (live)."""
    body = require_object(ctx.body)
    volume = body.get("volume")
    if volume is None or volume == 0 or volume is False:
        raise bad_request("volume is required")
    if isinstance(volume, bool) or not isinstance(volume, int | float):
        raise bad_request("volume must be a number")
    period = body.get("period", "month")
    if period not in ("month", "day"):
        raise bad_request("period must be month or day")
    tier = body.get("tier", "max")
    if tier not in ("low", "medium", "max"):
        raise bad_request("tier must be low, medium or max")
    providers = body.get("providers")
    if not isinstance(providers, list) or not providers:
        raise bad_request("providers is required")
    for provider in providers:
        if provider not in PROVIDERS:
            raise bad_request(f"Invalid provider: {provider}. Use one of: {', '.join(PROVIDERS)}")
    providers = list(dict.fromkeys(providers))
    distribution = body.get("distribution")
    if distribution is None:
        if len(providers) > 1:
            raise bad_request("distribution is required when more than one provider is given")
        distribution = {providers[0]: 100}
    if not isinstance(distribution, dict) or set(distribution) != set(providers):
        raise bad_request("distribution must give a percentage for each provider")
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
        for v in distribution.values()
    ):
        raise bad_request("distribution values must be non-negative numbers")
    if abs(sum(distribution.values()) - 100) > 1e-9:
        raise bad_request("distribution must add up to 100")
    monthly = float(volume) * (30 if period == "day" else 1)
    if monthly < _MIN_MONTHLY_VOLUME:
        minimum = _MIN_MONTHLY_VOLUME if period == "month" else math.ceil(_MIN_MONTHLY_VOLUME / 30)
        raise ApiError(
            400,
            {
                "error": "Volume too low - Minimum 1 domain per ESP required",
                "message": "Your requested volume is below the minimum threshold",
                "requested": {"volume": volume, "period": period},
                "minimum_required": {"volume": minimum, "period": period},
            },
        )
    breakdown = []
    for provider in providers:
        share = monthly * distribution[provider] / 100.0
        per_mailbox_month = _SENDS_PER_DAY[provider][tier] * 30
        per_domain = MAILBOXES_PER_DOMAIN[provider]
        mailboxes_needed = math.ceil(share / per_mailbox_month) if share > 0 else 0
        domains = math.ceil(mailboxes_needed / per_domain) if mailboxes_needed else 0
        if distribution[provider] > 0:
            domains = max(domains, 1)
        mailboxes = domains * per_domain
        if provider == "google":
            unit, basis = PRICE_GOOGLE_MAILBOX, "mailbox"
        else:
            unit = PRICE_OUTLOOK_DOMAIN if provider == "outlook" else PRICE_SMTP_DOMAIN
            basis = "domain"
        breakdown.append(
            {
                "provider": provider,
                "requiredDomains": domains,
                "requiredMailboxes": mailboxes,
                "pricePerUnit": unit,
                "pricingBasis": basis,
                "totalPrice": round(mailbox_price(provider, domains, per_domain), 2),
                "percentage": distribution[provider],
            }
        )
    return {
        "data": {
            "monthlyVolume": round(monthly, 2),
            "dailyVolume": round(monthly / 30, 2),
            "providerBreakdown": breakdown,
            "totalDomains": sum(b["requiredDomains"] for b in breakdown),
            "totalMailboxes": sum(b["requiredMailboxes"] for b in breakdown),
            "totalPrice": round(sum(b["totalPrice"] for b in breakdown), 2),
        },
        "success": True,
    }


# --------------------------------------------------------------------------- orders
def _find_order(ctx: Ctx, *, visible_only: bool = False) -> Order:
    find = ctx.state.visible_order if visible_only else ctx.state.order
    order = find(ctx.org_id, ctx.path["order_id"])
    if order is None:
        raise ApiError(404, {"error": "Order not found"})
    return order


def get_orders(ctx: Ctx) -> Any:
    """``{"total", "payments": [{id, amount, created_at, status, description}]}`` (documented);
    orders not visible yet are left out."""
    payments = [
        {
            "id": o.id,
            "amount": o.amount,
            "created_at": o.created_at,
            "status": ctx.state.order_status(o),
            "description": o.description,
        }
        for o in ctx.state.visible_orders(ctx.org_id)
    ]
    return {"total": len(payments), "payments": payments}


def get_order_details(ctx: Ctx) -> Any:
    """The documented order details; each call counts as a poll of the order's lifecycle. An
    order not visible yet is 404 "Order not found" (and the call is not a poll)."""
    order = _find_order(ctx, visible_only=True)
    order.polls += 1
    return _render_order_details(ctx.state, order)


def cancel_order(ctx: Ctx) -> Any:
    """``{"success": true, "message": "Subscription canceled successfully."}`` (documented);
    400 when the order is already cancelled."""
    order = _find_order(ctx)
    if order.cancelled:
        raise bad_request("Order is already cancelled")
    ctx.state.cancel(order)
    return {"success": True, "message": "Subscription canceled successfully."}


def create_order(ctx: Ctx) -> Any:
    """Buys a package. Takes the v1 flat ``domains[]`` body or the newer ``providers`` body;
    the number of domains must equal ``package.domains * quantity``. Response *inferred*:
    ``{"success": true, "id", "payment_id", "message"}`` (both ids are the new order's)."""
    package = ctx.state.package(ctx.path["price_id"])
    if package is None:
        raise ApiError(404, {"error": "Package not found"})
    provider = query_provider(ctx.query, ("scaledmail", "other"))
    factor = _coupon_factor(ctx)
    body = require_object(ctx.body)
    quantity = body.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise bad_request("quantity must be a positive integer")
    tag = check_tag(body)
    check_sequencer(body)
    check_hosting(body, provider=provider, required=ctx.options.require_hosting)
    if "providers" in body:
        if not isinstance(body["providers"], dict) or set(body["providers"]) - {package.provider}:
            raise bad_request(f"This package takes {package.provider} domains only")
        spec_body: Mapping[str, Any] = body
    else:
        if not isinstance(body.get("domains"), list):
            raise bad_request("domains is required")
        spec_body = {"providers": {package.provider: {"domains": body["domains"]}}}
    plans = parse_domain_specs(ctx.state, spec_body, names_required=False)
    wanted = package.domains * quantity
    if len(plans) != wanted:
        raise bad_request(f"This package needs exactly {wanted} domains, got {len(plans)}")
    _check_sources(ctx, plans, provider)
    order = ctx.state.create_order(
        ctx.org_id,
        plans,
        tag=tag,
        amount=package.price * quantity * factor,
        description=package.name,
        source="create_order",
    )
    _charge(ctx, order)
    return _order_created(order)


def create_custom_order(ctx: Ctx) -> Any:
    """Creates a subscription priced from what is sent (``provider=buy`` registers the names
    too). Response *inferred*: ``{"success": true, "id", "payment_id", "message"}``; 400
    "Subscription created but unable to charge" when switched on (the order exists)."""
    provider = query_provider(ctx.query, ("scaledmail", "other", "buy"))
    factor = _coupon_factor(ctx)
    body = require_object(ctx.body)
    tag = check_tag(body)
    check_sequencer(body)
    check_hosting(body, provider=provider, required=ctx.options.require_hosting)
    plans = parse_domain_specs(ctx.state, body)
    registration = _check_sources(ctx, plans, provider)
    amounts: dict[str, float] = {}
    for plan in plans:
        price = mailbox_price(plan.provider, 1, len(plan.mailboxes))
        amounts[plan.provider] = amounts.get(plan.provider, 0.0) + price
    if provider == "buy":
        for plan in plans:
            ctx.state.register(ctx.org_id, plan.name)
    order = ctx.state.create_order(
        ctx.org_id,
        plans,
        tag=tag,
        amount=(sum(amounts.values()) + registration) * factor,
        description=_description(plans, amounts),
        source="create_custom_order",
    )
    _charge(ctx, order)
    return _order_created(order)


# --------------------------------------------------------------------------- forms
def get_pending_forms(ctx: Ctx) -> Any:
    """``{"total", "forms": [...]}`` (documented; ``created_at`` is a date)."""
    forms = [
        {
            "payment_id": f.payment_id,
            "uuid": f.uuid,
            "description": f.description,
            "created_at": f.created_at,
            "amount": f.amount,
            "type": f.type,
            "data": {
                "quantity": f.quantity,
                "domains_required": f.domains_required,
                "domains": list(f.domains),
            },
        }
        for f in ctx.state.forms.values()
        if f.organization_id == ctx.org_id and not f.submitted
    ]
    return {"total": len(forms), "forms": forms}


def submit_form(ctx: Ctx) -> Any:
    """Configures the domains of a paid order; each domain must be one of the form's. The
    order's setup restarts ("In Progress"). Response *inferred*: ``{"success": true,
    "message"}``."""
    form = ctx.state.forms.get(ctx.path["uuid"])
    if form is None or form.organization_id != ctx.org_id:
        raise ApiError(404, {"error": "Form not found"})
    if form.submitted:
        raise bad_request("Form already submitted")
    provider = query_provider(ctx.query, ("scaledmail", "other"))
    body = require_object(ctx.body)
    tag = check_tag(body)
    check_sequencer(body)
    check_hosting(body, provider=provider, required=ctx.options.require_hosting)
    plans = parse_domain_specs(ctx.state, body)
    allowed = {d.lower() for d in form.domains}
    for plan in plans:
        if plan.name not in allowed:
            raise bad_request(f"Domain is not part of the original order: {plan.name}")
        if ctx.state.in_use(plan.name):
            raise bad_request(f"Domain already in use: {plan.name}")
        plan.domain_provider = "other" if provider == "other" else "scaledmail"
    order = ctx.state.orders[form.payment_id]
    ctx.state.add_domains_to_order(order, plans)
    if tag:
        order.tag = tag
    order.active = ctx.options.activate_after_polls == 0
    order.polls = 0
    order.created_clock = ctx.state.clock()
    form.submitted = True
    return {"success": True, "message": "Form submitted successfully."}


# --------------------------------------------------------------------------- mailboxes
def get_mailboxes_by_domain_id(ctx: Ctx) -> Any:
    """``{"mailboxes": [{email, first_name, last_name, status}]}`` (observed live);
    ``password=true`` adds ``password``."""
    with_password = _bool_query(ctx.query, "password")
    domain = ctx.state.domains.get(ctx.path["domain_id"])
    if (
        domain is None
        or domain.organization_id != ctx.org_id
        or ctx.state.orders[domain.payment_id].cancelled
        or not ctx.state.domain_visible(domain)
    ):
        raise ApiError(404, {"error": "Domain not found"})
    status = _domain_status(ctx.state, domain)
    mailboxes = []
    for m in domain.mailboxes:
        item: dict[str, Any] = {
            "email": f"{m.alias}@{domain.name}",
            "first_name": m.first_name,
            "last_name": m.last_name,
            "status": status,
        }
        if with_password:
            item["password"] = m.password
        mailboxes.append(item)
    return {"mailboxes": mailboxes}


OPERATIONS: Final[tuple[FakeOperation, ...]] = (
    FakeOperation("get_organizations", "GET", "/organizations", get_organizations, False),
    FakeOperation("get_pre_warm_inboxes", "GET", "/pre-warm-inboxes", get_pre_warm_inboxes),
    FakeOperation(
        "buy_pre_warm_inboxes",
        "POST",
        "/buy-pre-warm-inboxes",
        buy_pre_warm_inboxes,
        body=True,
        spends_money=True,
    ),
    FakeOperation("get_domains", "GET", "/domains", get_domains),
    FakeOperation("get_purchased_domains", "GET", "/purchased-domains", get_purchased_domains),
    FakeOperation(
        "search_domains", "POST", "/search-domains", search_domains, critical=True, body=True
    ),
    FakeOperation(
        "suggest_domains", "POST", "/suggest-domains", suggest_domains, critical=True, body=True
    ),
    FakeOperation(
        "buy_domains",
        "POST",
        "/buy-domains",
        buy_domains,
        critical=True,
        body=True,
        spends_money=True,
    ),
    FakeOperation(
        "update_domain_name", "POST", "/swap-domain/{domain}", update_domain_name, body=True
    ),
    FakeOperation(
        "update_domain_redirect",
        "POST",
        "/swap-redirect/{domain}",
        update_domain_redirect,
        body=True,
    ),
    FakeOperation("get_packages", "GET", "/packages", get_packages, False),
    FakeOperation("calculate_package", "POST", "/calculate-package", calculate_package, body=True),
    FakeOperation("get_orders", "GET", "/orders", get_orders),
    FakeOperation("get_order_details", "GET", "/orders/{order_id}", get_order_details),
    FakeOperation("cancel_order", "DELETE", "/orders/{order_id}", cancel_order),
    FakeOperation(
        "create_order",
        "POST",
        "/create-order/{price_id}",
        create_order,
        body=True,
        spends_money=True,
    ),
    FakeOperation(
        "create_custom_order",
        "POST",
        "/create-custom-order",
        create_custom_order,
        body=True,
        spends_money=True,
    ),
    FakeOperation("get_pending_forms", "GET", "/pending-forms", get_pending_forms),
    FakeOperation("submit_form", "POST", "/submit-form/{uuid}", submit_form, body=True),
    FakeOperation(
        "get_mailboxes_by_domain_id", "GET", "/mailboxes/{domain_id}", get_mailboxes_by_domain_id
    ),
)
