"""Scaledmail's documented request rules that a JSON schema cannot state (cross-field rules).

Every limit the spec can state (lengths, counts, enums, required keys) is in the spec's schemas
and checked by :mod:`scaledmail_async._schema_check`; what is left here relates one field to
another, or a body to the call's query. Each rule cites the page of the public API documentation
it comes from, or the spec (``openapi/scaledmail.yaml``) where only users' client code or an
inference shows the behaviour:

- Create Order: https://api.scaledmail.com/create-order-18334152e0
- Create Custom Order: https://api.scaledmail.com/create-custom-order-34245339e0
- Submit Form: https://api.scaledmail.com/submit-form-33397142e0
- Update Domain Name: https://api.scaledmail.com/update-domain-name-18547274e0
- Calculate Package: https://api.scaledmail.com/calculate-package-33809827e0

:func:`check_rules` runs an operation's rules on the body's plain JSON form (after the schema
check, so the types are right where a rule looks); a violation raises
:class:`~scaledmail_async._schema_check.Invalid` with the path below ``body``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from scaledmail_async._params import enum_value
from scaledmail_async._schema_check import Invalid, fmt_number

__all__ = ["check_rules"]

_Rule = Callable[[dict[str, Any], Mapping[str, Any]], None]
"""A rule: ``(body, query)`` -> ``None``, or raises :class:`Invalid`."""

#: Aliases required per domain when the ``aliases`` format is used: Create Custom Order, the
#: DomainSpec table (google 2, outlook 25, smtp 4); Submit Form takes the same DomainSpec.
#: Google's count follows ``mailboxes_per_domain`` when given (observed live, undocumented; its
#: 2-4 range is in the spec, ``openapi/scaledmail.yaml`` ``GoogleDomains``).
_ALIASES_PER_DOMAIN: Final = {"google": 2, "outlook": 25, "smtp": 4}

#: Operations whose body needs ``hosting`` when the query's ``provider`` is ``other``: the Update
#: Domain Name, Create Order, Create Custom Order and Submit Form pages (``hosting``: required
#: when ``provider=other``).
_HOSTING_WHEN_OTHER: Final = frozenset(
    {"update_domain_name", "create_order", "create_custom_order", "submit_form"}
)


def _domain_format(domain: Any) -> str | None:
    if not isinstance(domain, dict):
        return None
    has_aliases = "aliases" in domain
    has_name = "first_name" in domain or "last_name" in domain
    if has_aliases and has_name:
        return "both"
    if has_aliases:
        return "aliases"
    return "name" if has_name else None


def _check_domain_formats(domains: Any, where: str) -> None:
    """One format per provider: ``first_name``/``last_name`` or ``aliases``, never mixed
    (Create Custom Order, the DomainSpec table: "All domains under one provider must use the
    same format")."""
    if not isinstance(domains, list):
        return
    first: str | None = None
    first_index = 0
    for i, d in enumerate(domains):
        fmt = _domain_format(d)
        if fmt == "both":
            raise Invalid(
                "gives both first_name/last_name and aliases: use one format per domain "
                "(and the same format for every domain of the provider)",
                f"{where}.domains[{i}]",
            )
        if fmt is None:
            continue
        if first is None:
            first, first_index = fmt, i
        elif fmt != first:
            raise Invalid(
                f"uses the {fmt} format but domains[{first_index}] uses the {first} format: all "
                "domains of one provider must use the same format (first_name/last_name or "
                "aliases)",
                f"{where}.domains[{i}]",
            )


def _rule_providers(body: dict[str, Any], query: Mapping[str, Any]) -> None:
    """Alias counts per provider and the one-format rule: Create Custom Order
    (https://api.scaledmail.com/create-custom-order-34245339e0, DomainSpec) and Submit Form
    (https://api.scaledmail.com/submit-form-33397142e0: the same body as Create Custom Order)."""
    providers = body.get("providers")
    if not isinstance(providers, dict):
        return
    for name, spec in providers.items():
        if not isinstance(spec, dict):
            continue
        where = f".providers.{name}"
        domains = spec.get("domains")
        _check_domain_formats(domains, where)
        expected = _ALIASES_PER_DOMAIN.get(name)
        why = f"{name} domains need exactly {expected} aliases each"
        per_domain = spec.get("mailboxes_per_domain")
        if name == "google" and isinstance(per_domain, int) and not isinstance(per_domain, bool):
            expected = per_domain
            why = f"mailboxes_per_domain is {per_domain}, so each google domain needs exactly "
            why += f"{per_domain} aliases"
        if expected is None or not isinstance(domains, list):
            continue
        for i, d in enumerate(domains):
            if isinstance(d, dict) and isinstance(d.get("aliases"), list):
                n = len(d["aliases"])
                if n != expected:
                    raise Invalid(f"{why}; got {n}", f"{where}.domains[{i}].aliases")


def _rule_create_order_shape(body: dict[str, Any], query: Mapping[str, Any]) -> None:
    """Create Order takes the v1 flat ``domains`` or the newer ``providers`` shape, exactly one:
    the Create Order page (https://api.scaledmail.com/create-order-18334152e0) documents the flat
    v1 shape; the spec's ``CreateOrderRequest`` (``openapi/scaledmail.yaml``) adds the
    ``providers`` shape seen in a 2026 live client. Flat domains follow the one-format rule too."""
    has_domains = "domains" in body
    has_providers = "providers" in body
    if has_domains and has_providers:
        raise Invalid(
            "give either domains (v1 shape) or providers (newer shape), not both", ".providers"
        )
    if not has_domains and not has_providers:
        raise Invalid("is required (or give providers, the newer shape)", ".domains")
    _check_domain_formats(body.get("domains"), "")


def _rule_hosting(body: dict[str, Any], query: Mapping[str, Any]) -> None:
    """``hosting`` (the registrar login) is required when the query's ``provider`` is ``other``:
    Update Domain Name (https://api.scaledmail.com/update-domain-name-18547274e0), Create Order
    (https://api.scaledmail.com/create-order-18334152e0), Create Custom Order
    (https://api.scaledmail.com/create-custom-order-34245339e0) and Submit Form
    (https://api.scaledmail.com/submit-form-33397142e0), each in its body table."""
    provider = enum_value(query.get("provider"))
    if isinstance(provider, str) and provider.strip().lower() == "other":
        if body.get("hosting") is None:
            raise Invalid(
                "is required when provider is 'other' (the registrar login: provider, "
                "username, password)",
                ".hosting",
            )


def _rule_distribution(body: dict[str, Any], query: Mapping[str, Any]) -> None:
    """Calculate Package (https://api.scaledmail.com/calculate-package-33809827e0, body table):
    ``distribution`` is needed with more than one provider and names listed providers; that the
    shares add up to 100 is inferred (the captured page text is truncated; ``openapi/
    scaledmail.yaml`` ``CalculatePackageRequest.distribution``)."""
    providers = body.get("providers")
    if not isinstance(providers, list):
        return
    distribution = body.get("distribution")
    if distribution is None:
        if len(set(map(str, providers))) > 1:
            raise Invalid(
                "is required with more than one provider (e.g. {'google': 60, 'outlook': 40})",
                ".distribution",
            )
        return
    if not isinstance(distribution, dict):
        return
    listed = set(providers)
    total = 0.0
    for key, share in distribution.items():
        if key not in listed:
            raise Invalid(
                f"names {key!r}, which is not in providers {providers!r}", f".distribution.{key}"
            )
        if isinstance(share, (int, float)) and not isinstance(share, bool):
            total += share
    if not math.isclose(total, 100.0, abs_tol=1e-9):
        raise Invalid(f"must add up to 100, got {fmt_number(total)}", ".distribution")


_BODY_RULES: Final[dict[str, tuple[_Rule, ...]]] = {
    "create_custom_order": (_rule_providers,),
    "submit_form": (_rule_providers,),
    "create_order": (_rule_create_order_shape, _rule_providers),
    "calculate_package": (_rule_distribution,),
}


def _rules_for(operation_id: str) -> tuple[_Rule, ...]:
    rules = _BODY_RULES.get(operation_id, ())
    if operation_id in _HOSTING_WHEN_OTHER:
        rules = (*rules, _rule_hosting)
    return rules


#: Each operation's rules, in the order they run.
_RULES: Final[dict[str, tuple[_Rule, ...]]] = {
    op_id: _rules_for(op_id) for op_id in (*_BODY_RULES, *_HOSTING_WHEN_OTHER)
}


def check_rules(operation_id: str, body: dict[str, Any], query: Mapping[str, Any]) -> None:
    """Run the rules of ``operation_id`` on a body's plain JSON form. ``query`` is the call's
    raw query mapping (``hosting`` depends on ``provider``). Raises :class:`Invalid`."""
    for rule in _RULES.get(operation_id, ()):
        rule(body, query)
