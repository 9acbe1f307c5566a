"""The documented request rules, checked the way the server would (400 ``{"error": "..."}``).

Sources: the per-endpoint pages of the public API docs (https://api.scaledmail.com, e.g.
https://api.scaledmail.com/create-custom-order-34245339e0), as the spec
``openapi/scaledmail.yaml`` records them. Where the docs give no error text, the message is
the fake's own wording (it names the field and the rule).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from scaledmail_async.testing._state import MAILBOXES_PER_DOMAIN, DomainPlan, FakeState, Mailbox

__all__ = [
    "MAX_DOMAINS_PER_ORDER",
    "PROVIDERS",
    "ApiError",
    "bad_request",
    "check_hosting",
    "check_sequencer",
    "check_tag",
    "normalize_domain",
    "parse_domain_specs",
    "query_provider",
    "require_object",
]

PROVIDERS: Final = ("google", "outlook", "smtp")
MAX_DOMAINS_PER_ORDER: Final = {"google": 100, "outlook": 30, "smtp": 70}
MAX_TAG: Final = 20
MAX_ALIAS: Final = 64
_DOMAIN_RE: Final = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ApiError(Exception):
    """An API error answer: ``status`` and JSON ``body``.

    ``applied`` is True when the request changed state anyway (the "Subscription created but
    unable to charge" case).
    """

    def __init__(self, status: int, body: Any, *, applied: bool = False) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.applied = applied


def bad_request(message: str) -> ApiError:
    """400 ``{"error": message}``."""
    return ApiError(400, {"error": message})


def require_object(body: Any) -> dict[str, Any]:
    """The body as a JSON object, or 400."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def normalize_domain(value: Any, field: str = "domain") -> str:
    """A syntactically valid, lower-cased domain name, or 400."""
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{field} is required")
    name = value.strip().lower()
    if not _DOMAIN_RE.match(name):
        raise bad_request(f"Invalid domain: {value}")
    return name


def check_tag(body: Mapping[str, Any]) -> str:
    """``tag``: optional string of at most 20 characters."""
    tag = body.get("tag")
    if tag is None:
        return ""
    if not isinstance(tag, str):
        raise bad_request("tag must be a string")
    if len(tag) > MAX_TAG:
        raise bad_request(f"tag must be at most {MAX_TAG} characters")
    return tag


def query_provider(query: Mapping[str, str], allowed: tuple[str, ...]) -> str:
    """The ``provider`` query parameter, required and one of ``allowed``."""
    provider = query.get("provider")
    if not provider:
        raise bad_request("provider is required")
    if provider not in allowed:
        raise bad_request(f"Invalid provider: {provider}. Use one of: {', '.join(allowed)}")
    return provider


def check_hosting(body: Mapping[str, Any], *, provider: str, required: bool) -> None:
    """``hosting`` (registrar login): required when ``provider=other`` (if ``required``);
    when sent, ``provider``, ``username`` and ``password`` are required."""
    hosting = body.get("hosting")
    if hosting is None:
        if provider == "other" and required:
            raise bad_request("hosting is required when provider is other")
        return
    if not isinstance(hosting, dict):
        raise bad_request("hosting must be an object")
    for key in ("provider", "username", "password"):
        if not _nonempty_str(hosting.get(key)):
            raise bad_request(f"hosting.{key} is required")


def check_sequencer(body: Mapping[str, Any], *, link_required: bool = False) -> None:
    """``sequencer``: ``provider``, ``username``, ``password`` required; ``link`` (required on
    Buy Pre Warm Inboxes), ``workspace`` and ``tag`` optional but not empty when sent."""
    sequencer = body.get("sequencer")
    if sequencer is None:
        return
    if not isinstance(sequencer, dict):
        raise bad_request("sequencer must be an object")
    required = ["provider", "username", "password"] + (["link"] if link_required else [])
    for key in required:
        if not _nonempty_str(sequencer.get(key)):
            raise bad_request(f"sequencer.{key} is required")
    for key in ("link", "workspace", "tag"):
        if key in sequencer and not _nonempty_str(sequencer[key]):
            raise bad_request(f"sequencer.{key} must not be empty")


@dataclass
class _Spec:
    name: str
    redirect: str
    picture: str | None
    names: tuple[str, str] | None
    aliases: list[dict[str, Any]] | None


def _parse_spec(raw: Any, where: str, *, names_required: bool) -> _Spec:
    if not isinstance(raw, dict):
        raise bad_request(f"{where} must be an object")
    name = normalize_domain(raw.get("domain"), f"{where}.domain")
    redirect = raw.get("redirect", "")
    if redirect is None:
        redirect = ""
    if not isinstance(redirect, str):
        raise bad_request(f"{where}.redirect must be a string")
    picture = raw.get("profile_picture")
    if picture is not None and not isinstance(picture, str):
        raise bad_request(f"{where}.profile_picture must be a string")
    if "aliases" in raw:
        aliases = raw["aliases"]
        if not isinstance(aliases, list):
            raise bad_request(f"{where}.aliases must be an array")
        for index, alias in enumerate(aliases):
            at = f"{where}.aliases[{index}]"
            if not isinstance(alias, dict):
                raise bad_request(f"{at} must be an object")
            for key in ("first_name", "last_name", "alias"):
                if not _nonempty_str(alias.get(key)):
                    raise bad_request(f"{at}.{key} is required")
            local = alias["alias"]
            if len(local) > MAX_ALIAS:
                raise bad_request(f"{at}.alias must be at most {MAX_ALIAS} characters")
            if "@" in local or any(ch.isspace() for ch in local):
                raise bad_request(f"{at}.alias must be the local part only (no @, no spaces)")
        locals_ = [a["alias"].lower() for a in aliases]
        if len(set(locals_)) != len(locals_):
            raise bad_request(f"{where}.aliases contains duplicate aliases")
        return _Spec(name, redirect, picture, None, aliases)
    first, last = raw.get("first_name"), raw.get("last_name")
    if isinstance(first, str) and isinstance(last, str) and first.strip() and last.strip():
        return _Spec(name, redirect, picture, (first.strip(), last.strip()), None)
    if first is not None or last is not None or names_required:
        raise bad_request(f"{where} needs first_name and last_name, or aliases")
    return _Spec(name, redirect, picture, None, None)


def parse_domain_specs(
    state: FakeState,
    body: Mapping[str, Any],
    *,
    names_required: bool = True,
    domain_provider: str = "scaledmail",
) -> list[DomainPlan]:
    """Validate ``providers`` (the Create Custom Order / Submit Form shape) into plans.

    Rules: known provider keys; ``domains`` non-empty and within google 100 / outlook 30 /
    smtp 70; one format per provider (names or aliases, never mixed); alias count google 2
    (2-4 with ``mailboxes_per_domain``) / outlook 25 / smtp 4; alias local part <= 64 characters
    without ``@`` or spaces; no domain twice.
    """
    providers = body.get("providers")
    if providers is None:
        raise bad_request("providers is required")
    if not isinstance(providers, dict) or not providers:
        raise bad_request("providers must be an object with at least one of google, outlook, smtp")
    plans: list[DomainPlan] = []
    seen: set[str] = set()
    for provider, section in providers.items():
        if provider not in PROVIDERS:
            raise bad_request(f"Invalid provider: {provider}. Use one of: {', '.join(PROVIDERS)}")
        if not isinstance(section, dict):
            raise bad_request(f"providers.{provider} must be an object")
        per_domain = MAILBOXES_PER_DOMAIN[provider]
        allowed_counts = {per_domain}
        if "mailboxes_per_domain" in section:
            mpd = section["mailboxes_per_domain"]
            if provider != "google":
                raise bad_request("mailboxes_per_domain is only supported for google")
            if isinstance(mpd, bool) or not isinstance(mpd, int) or not 2 <= mpd <= 4:
                raise bad_request("providers.google.mailboxes_per_domain must be 2, 3 or 4")
            per_domain, allowed_counts = mpd, {2, 3, 4}
        domains = section.get("domains")
        if not isinstance(domains, list) or not domains:
            raise bad_request(f"providers.{provider}.domains is required")
        maximum = MAX_DOMAINS_PER_ORDER[provider]
        if len(domains) > maximum:
            raise bad_request(f"Maximum {maximum} domains per order for {provider}")
        specs = [
            _parse_spec(raw, f"providers.{provider}.domains[{i}]", names_required=names_required)
            for i, raw in enumerate(domains)
        ]
        formats = {"aliases" if s.aliases is not None else "names" for s in specs}
        if len(formats) > 1:
            raise bad_request(
                f"Do not mix the name format and the aliases format within {provider}"
            )
        for index, spec in enumerate(specs):
            if spec.name in seen:
                raise bad_request(f"Duplicate domain: {spec.name}")
            seen.add(spec.name)
            plans.append(
                _plan(state, spec, provider, per_domain, allowed_counts, index, domain_provider)
            )
    return plans


def _plan(
    state: FakeState,
    spec: _Spec,
    provider: str,
    per_domain: int,
    allowed_counts: set[int],
    index: int,
    domain_provider: str,
) -> DomainPlan:
    if spec.aliases is not None:
        if len(spec.aliases) not in allowed_counts:
            wanted = " to ".join(str(n) for n in sorted({min(allowed_counts), max(allowed_counts)}))
            raise bad_request(
                f"providers.{provider}.domains[{index}] needs {wanted} aliases for {provider}, "
                f"got {len(spec.aliases)}"
            )
        mailboxes = [
            Mailbox(
                a["first_name"],
                a["last_name"],
                a["alias"],
                state.new_password(),
                a.get("profile_picture") or spec.picture,
            )
            for a in spec.aliases
        ]
    else:
        first, last = spec.names or state.rng.choice(
            [("Lea", "Moss"), ("Ana", "Reyes"), ("Tom", "Hart")]
        )
        mailboxes = state.make_mailboxes(first, last, per_domain)
        for mailbox in mailboxes:
            mailbox.profile_picture = spec.picture
    return DomainPlan(spec.name, provider, mailboxes, spec.redirect, domain_provider)
