"""Request validation before sending (issue 4): the spec's schemas and the documented rules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, cast

import attrs
import cattrs
import pytest
from aioresponses import aioresponses

from scaledmail_async import _schema_check as sc
from scaledmail_async import _validation as v
from scaledmail_async._client import ScaledmailClient
from scaledmail_async._conform import NotExact, conformer
from scaledmail_async._converter import structure, unstructure
from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async._generated.schemas import (
    COMPONENT_SCHEMAS,
    QUERY_PARAMETER_SCHEMAS,
    REQUEST_BODY_SCHEMAS,
)
from scaledmail_async._operation import Operation
from scaledmail_async._types import UNSET
from scaledmail_async.errors import RequestValidationError
from scaledmail_async.models import (
    Alias,
    CalculatePackageRequest,
    CalculationTier,
    CreateCustomOrderBody,
    CreateCustomOrderRequest,
    CustomOrderDomainSource,
    DomainSource,
    DomainSpec,
    DomainSpecDict,
    GoogleDomains,
    Hosting,
    MailProvider,
    ProviderDomains,
    SearchDomainsRequest,
    UpdateDomainRedirectRequest,
)

BASE = "http://127.0.0.1:9/api/v1"


def _err(op_id: str, body: Any, query: Mapping[str, Any] | None = None) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as info:
        v.prepare_body(OPERATIONS[op_id], body, query)
    assert info.value.operation == op_id
    return info.value


def _ok(op_id: str, body: Any, query: Mapping[str, Any] | None = None) -> Any:
    return v.prepare_body(OPERATIONS[op_id], body, query)


def _aliases(n: int, *, prefix: str = "a") -> list[dict[str, str]]:
    return [{"first_name": "Lea", "last_name": "Moss", "alias": f"{prefix}{i}"} for i in range(n)]


def _named(domain: str) -> DomainSpecDict:
    return {"domain": domain, "first_name": "Lea", "last_name": "Moss"}


def _custom(providers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"providers": providers, **extra}


# --------------------------------------------------------------------------------------------
# The schema subset, on small inline schemas
# --------------------------------------------------------------------------------------------


def _compile(schema: Any, components: Mapping[str, Any] | None = None) -> sc.Check:
    return sc.SchemaCompiler(components or {}).compile(schema)


def _path_of(check: sc.Check, value: Any) -> tuple[str, str]:
    with pytest.raises(sc.Invalid) as info:
        check(value)
    return info.value.path("$"), info.value.message


def test_schema_types_and_null_unions() -> None:
    check = _compile({"type": ["string", "null"]})
    check("x")
    check(None)
    assert _path_of(check, 3) == ("$", "must be a string or null, got an integer")
    integer = _compile({"type": "integer"})
    integer(2)
    integer(2.0)  # 2.0 is an integer in JSON Schema
    for bad in (True, 2.5, "2"):
        with pytest.raises(sc.Invalid):
            integer(bad)
    number = _compile({"type": "number"})
    number(1)
    number(1.5)
    for bad in (False, float("nan"), float("inf"), "1"):
        with pytest.raises(sc.Invalid):
            number(bad)
    boolean = _compile({"type": "boolean"})
    boolean(False)
    with pytest.raises(sc.Invalid):
        boolean(0)
    nullable = _compile({"type": "string", "nullable": True})
    nullable(None)


def test_schema_object_keywords_and_paths() -> None:
    check = _compile(
        {
            "type": "object",
            "required": ["a"],
            "properties": {
                "a": {"type": "array", "items": {"type": "object", "properties": {"b": {}}}},
                "c": {"type": "string", "minLength": 2, "maxLength": 3},
            },
            "additionalProperties": {"type": "integer"},
            "minProperties": 1,
            "maxProperties": 3,
        }
    )
    check({"a": [], "n": 1})
    assert _path_of(check, {"c": "abc"}) == ("$.a", "is required")
    assert _path_of(check, {"a": [], "c": "x"}) == (
        "$.c",
        "must be at least 2 characters long, got 1",
    )
    assert _path_of(check, {"a": [], "c": "abcd"})[0] == "$.c"
    assert _path_of(check, {"a": [], "extra": "x"}) == (
        "$.extra",
        "must be an integer, got a string",
    )
    assert _path_of(check, {"a": [], "x": 1, "y": 2, "z": 3})[1] == "must have at most 3 key(s)"
    closed = _compile({"type": "object", "properties": {"k": {}}, "additionalProperties": False})
    closed({"k": 1})
    assert _path_of(closed, {"k": 1, "zz": 2}) == ("$.zz", "unknown key 'zz' (allowed: k)")
    # additionalProperties: true / absent accepts anything
    _compile({"type": "object", "additionalProperties": True})({"x": object()})


def test_schema_arrays_strings_numbers_enums() -> None:
    arr = _compile(
        {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[a-z]+$"},
        }
    )
    arr(["a", "b"])
    assert _path_of(arr, []) == ("$", "must not be empty")
    assert _path_of(arr, ["a", "b", "c", "d"]) == ("$", "must have at most 3 items, got 4")
    assert _path_of(arr, ["a", "B"])[0] == "$[1]"
    assert _path_of(arr, ["a", "a"]) == ("$[1]", "duplicate item 'a'")
    nums = _compile({"type": "number", "exclusiveMinimum": 0, "maximum": 100, "multipleOf": 0.5})
    nums(0.5)
    nums(100)
    assert _path_of(nums, 0) == ("$", "must be > 0, got 0")
    assert _path_of(nums, 100.5) == ("$", "must be <= 100, got 100.5")
    assert _path_of(nums, 0.3)[1] == "must be a multiple of 0.5"
    old_style = _compile({"type": "integer", "minimum": 1, "exclusiveMinimum": True})
    with pytest.raises(sc.Invalid):
        old_style(1)
    old_style(2)
    enum = _compile({"enum": ["a", 1, None]})
    enum("a")
    enum(1.0)
    enum(None)
    with pytest.raises(sc.Invalid):
        enum(True)
    assert (
        _path_of(enum, "b")[1] == "must be one of 'a', 1, None; got 'b' "
        "(to send a value the spec does not list yet: Unlisted('b'))"
    )
    const = _compile({"const": "x"})
    with pytest.raises(sc.Invalid):
        const("y")


def test_schema_refs_recursive_and_combinators() -> None:
    components = {
        "Node": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
            },
        },
        "Str": {"type": "string", "minLength": 1},
    }
    node = _compile({"$ref": "#/components/schemas/Node"}, components)
    node({"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]})
    assert _path_of(node, {"name": "a", "children": [{"name": "b", "children": [{}]}]}) == (
        "$.children[0].children[0].name",
        "is required",
    )
    # anyOf with null: the error of the branch that fits the value's type is reported.
    nullable_ref = _compile(
        {"anyOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]}, components
    )
    nullable_ref(None)
    assert _path_of(nullable_ref, {"children": []}) == ("$.name", "is required")
    one = _compile({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 10}]})
    one(3)
    one(10.5)
    assert _path_of(one, 12)[1] == "matches more than one of the allowed shapes"
    every = _compile(
        {"allOf": [{"$ref": "#/components/schemas/Str"}, {"maxLength": 2}]}, components
    )
    every("ab")
    with pytest.raises(sc.Invalid):
        every("")
    with pytest.raises(sc.Invalid):
        every("abc")
    negated = _compile({"not": {"type": "string"}})
    negated(1)
    with pytest.raises(sc.Invalid):
        negated("x")
    with pytest.raises(ValueError, match="unsupported"):
        _compile({"$ref": "other.yaml#/X"})


def test_the_spec_uses_only_the_supported_subset() -> None:
    schemas: list[Any] = list(COMPONENT_SCHEMAS.values())
    schemas += list(REQUEST_BODY_SCHEMAS.values())
    schemas += [s for params in QUERY_PARAMETER_SCHEMAS.values() for s in params.values()]
    found = sc.unsupported_keywords(schemas)
    # A non-empty set means the spec uses a keyword the checker would silently skip, or a YAML
    # flow mapping whose unquoted description contains ", " (split into junk keys).
    assert found == set(), f"keywords outside the validator's subset: {sorted(found)}"
    assert sc.unsupported_keywords([{"patternProperties": {}}]) == {"patternProperties"}


def test_every_body_schema_is_precompiled() -> None:
    for op in OPERATIONS.values():
        if op.request_type is not None:
            assert op.operation_id in v._BODY_CHECKS


def test_limits_come_from_the_spec() -> None:
    assert v.body_property_schema("search_domains", "domains")["maxItems"] == 10
    assert v.body_property_schema("buy_domains", "domains")["maxItems"] == 10


# --------------------------------------------------------------------------------------------
# Path and query parameters
# --------------------------------------------------------------------------------------------


def test_path_params_must_be_non_blank_strings() -> None:
    op = OPERATIONS["get_order_details"]
    assert v.prepare_path_params(op, {"order_id": "recA"}) == {"order_id": "recA"}
    for bad, message in (("", "must not be blank"), ("   ", "must not be blank")):
        with pytest.raises(RequestValidationError) as info:
            v.prepare_path_params(op, {"order_id": bad})
        assert info.value.field == "order_id"
        assert info.value.message == message
    with pytest.raises(RequestValidationError, match="must be a string") as info:
        v.prepare_path_params(op, {"order_id": 12})
    with pytest.raises(RequestValidationError, match="is required"):
        v.prepare_path_params(op, {})


def test_query_drops_unset_and_encodes_types() -> None:
    op = OPERATIONS["get_purchased_domains"]
    assert v.prepare_query(op, {"available": UNSET}) == {}
    assert v.prepare_query(op, {"available": None}) == {}
    assert v.prepare_query(op, {"available": True}) == {"available": "true"}
    assert v.prepare_query(op, {"available": False}) == {"available": "false"}
    for bad in ("true", 1, 0):
        with pytest.raises(RequestValidationError, match="must be a boolean") as info:
            v.prepare_query(op, {"available": bad})
        assert info.value.field == "available"
    suggest = OPERATIONS["suggest_domains"]
    assert v.prepare_query(suggest, {"limit": 50, "page": 2}) == {"page": "2", "limit": "50"}
    assert list(v.prepare_query(suggest, {"limit": 5, "page": 1})) == ["page", "limit"]
    for name, bad, message in (
        ("page", 0, "must be >= 1, got 0"),
        ("limit", 0, "must be >= 1, got 0"),
        ("limit", 51, "must be <= 50, got 51"),
        ("page", True, "must be an integer, got a boolean"),
        ("page", "2", "must be an integer, got a string"),
    ):
        with pytest.raises(RequestValidationError) as info:
            v.prepare_query(suggest, {name: bad})
        assert (info.value.field, info.value.message) == (name, message)


def test_query_provider_enum_required_and_strenum() -> None:
    op = OPERATIONS["create_custom_order"]
    assert v.prepare_query(op, {"provider": "buy"}) == {"provider": "buy"}
    assert v.prepare_query(op, {"provider": CustomOrderDomainSource.OTHER}) == {"provider": "other"}
    assert v.prepare_query(op, {"provider": DomainSource.SCALEDMAIL, "coupon": "X"}) == {
        "provider": "scaledmail",
        "coupon": "X",
    }
    with pytest.raises(RequestValidationError) as info:
        v.prepare_query(op, {"provider": "godaddy"})
    assert info.value.field == "provider"
    assert "'scaledmail', 'other', 'buy'" in info.value.message
    with pytest.raises(RequestValidationError, match="is required") as info:
        v.prepare_query(op, {})
    assert info.value.field == "provider"
    with pytest.raises(RequestValidationError, match="is required"):
        v.prepare_query(op, {"provider": UNSET})
    # `buy` exists only on create-custom-order (spec enum per operation).
    with pytest.raises(RequestValidationError) as info:
        v.prepare_query(OPERATIONS["update_domain_name"], {"provider": "buy"})
    assert info.value.field == "provider"
    with pytest.raises(RequestValidationError, match="must not be blank") as info:
        v.prepare_query(op, {"provider": "buy", "coupon": "  "})
    assert info.value.field == "coupon"


def test_query_unknown_names_and_organization_id() -> None:
    op = OPERATIONS["get_orders"]
    with pytest.raises(RequestValidationError, match="not a query parameter") as info:
        v.prepare_query(op, {"availble": True})
    assert info.value.field == "availble"
    assert v.prepare_query(op, {"organization_id": "recOrg"}) == {"organization_id": "recOrg"}
    assert v.prepare_query(op, {"organization_id": UNSET}) == {}
    with pytest.raises(RequestValidationError) as info:
        v.prepare_query(op, {"organization_id": " "})
    assert info.value.field == "organization_id"


# --------------------------------------------------------------------------------------------
# Bodies: shape of the input
# --------------------------------------------------------------------------------------------


def test_no_body_operations() -> None:
    assert _ok("get_orders", UNSET) is UNSET
    assert _ok("get_orders", None) is UNSET
    e = _err("get_orders", {"x": 1})
    assert (e.field, e.message) == ("body", "this operation takes no request body")


@pytest.mark.parametrize("body", [["a.com"], "a.com", 3, b"{}"])
def test_body_of_the_wrong_kind(body: Any) -> None:
    e = _err("search_domains", body)
    assert e.field == "body"
    assert "SearchDomainsRequest or a mapping" in e.message


def test_body_required_and_wrong_model_class() -> None:
    assert _err("search_domains", UNSET).field == "body"
    assert _err("search_domains", None).field == "body"
    e = _err("search_domains", UpdateDomainRedirectRequest(new_redirect="x"))
    assert e.field == "body"
    assert "got UpdateDomainRedirectRequest" in e.message


def test_valid_bodies_come_out_as_wire_json() -> None:
    assert _ok("search_domains", {"domains": ["a.com", "b.io"]}) == {"domains": ["a.com", "b.io"]}
    assert _ok("search_domains", SearchDomainsRequest(domains=["a.com"])) == {"domains": ["a.com"]}
    assert _ok("update_domain_redirect", {"new_redirect": ""}) == {"new_redirect": ""}
    body = {
        "tag": "northwind-7f3a2c",
        "providers": {
            "google": {
                "mailboxes_per_domain": 3,
                "domains": [
                    {"domain": "tidewaterleads.com", "aliases": _aliases(3), "redirect": "x.io"}
                ],
            },
            "outlook": {"domains": [_named("quillpointco.com")]},
        },
        "sequencer": {"provider": "Instantly", "username": "u", "password": "p", "tag": "{{ID}}"},
    }
    assert _ok("create_custom_order", body, {"provider": "buy"}) == body
    model = CreateCustomOrderRequest(
        tag="t1",
        providers=ProviderDomains(
            google=GoogleDomains(
                domains=[
                    DomainSpec(
                        domain="a.com",
                        aliases=[
                            Alias(first_name="A", last_name="B", alias="ab"),
                            Alias(first_name="A", last_name="B", alias="ba"),
                        ],
                    )
                ]
            )
        ),
    )
    assert _ok("create_custom_order", model, {"provider": "scaledmail"}) == {
        "tag": "t1",
        "providers": {
            "google": {
                "domains": [
                    {
                        "domain": "a.com",
                        "aliases": [
                            {"first_name": "A", "last_name": "B", "alias": "ab"},
                            {"first_name": "A", "last_name": "B", "alias": "ba"},
                        ],
                    }
                ]
            }
        },
    }
    calc = CalculatePackageRequest(
        volume=60000,
        providers=[MailProvider.GOOGLE, MailProvider.OUTLOOK],
        distribution={"google": 70, "outlook": 30},
        tier=CalculationTier.MEDIUM,
    )
    assert _ok("calculate_package", calc) == {
        "volume": 60000,
        "providers": ["google", "outlook"],
        "distribution": {"google": 70, "outlook": 30},
        "tier": "medium",
    }


def test_mapping_bodies_accept_enums_nested_models_and_unset() -> None:
    wire = _ok(
        "calculate_package",
        {"volume": 10, "providers": (MailProvider.SMTP,), "tier": CalculationTier.LOW, "x": UNSET},
    )
    assert wire == {"volume": 10, "providers": ["smtp"], "tier": "low"}
    json.dumps(wire)  # plain JSON, not enum members
    assert type(wire["providers"][0]) is str
    wire = _ok(
        "update_domain_name",
        {"new_domain": "n.com", "hosting": Hosting(provider="Porkbun", username="u", password="p")},
        {"provider": "other"},
    )
    assert wire["hosting"] == {"provider": "Porkbun", "username": "u", "password": "p"}


def test_unknown_keys_are_kept_for_forward_compatibility() -> None:
    assert _ok("update_domain_redirect", {"new_redirect": "x", "future_flag": True}) == {
        "new_redirect": "x",
        "future_flag": True,
    }


def test_wrong_types_are_caught_not_coerced() -> None:
    e = _err("search_domains", {"domains": ["a.com", "b.com", "c.com", 4]})
    assert (e.field, e.message) == ("body.domains[3]", "must be a string, got an integer")
    e = _err("calculate_package", {"volume": "100", "providers": ["google"]})
    assert e.field == "body.volume"
    e = _err("calculate_package", {"volume": 10, "providers": ["google"], "tier": None})
    assert e.field == "body.tier"
    e = _err("calculate_package", CalculatePackageRequest(volume="10", providers=["google"]))  # type: ignore[arg-type]
    assert e.field == "body.volume"


@attrs.define(kw_only=True)
class _Local:
    domains: list[int]


def test_converter_errors_are_mapped_to_field_paths() -> None:
    conv = cattrs.Converter()
    with pytest.raises(cattrs.ClassValidationError) as info:
        conv.structure({"domains": [1, 2, 3, "x"]}, _Local)
    assert v._structure_error(info.value) == (
        "invalid value for type, expected int",
        "body.domains[3]",
    )
    assert v._structure_error(ValueError("boom")) == ("boom", "body")
    # Through prepare_body: an operation without a schema leaves the checks to the converter.
    op = Operation(
        operation_id="local_op",
        tag="t",
        method="POST",
        path="/x",
        path_params=(),
        query_params=(),
        request_type=_Local,
        body_required=True,
        response_type=dict,
        retry="safe",
        spends_money=False,
        rate_limit_group=None,
        organization="optional",
    )
    with pytest.raises(RequestValidationError) as err:
        v.prepare_body(op, {"domains": [1, 2, 3, "x"]})
    assert err.value.field == "body.domains[3]"
    assert v.prepare_body(op, {"domains": [1]}) == {"domains": [1]}


# --------------------------------------------------------------------------------------------
# Bodies: the documented rules, each with its field
# --------------------------------------------------------------------------------------------


def test_tag_longer_than_20() -> None:
    providers = {"smtp": {"domains": [_named("a.com")]}}
    assert _ok("create_custom_order", _custom(providers, tag="x" * 20))["tag"] == "x" * 20
    for op_id in ("create_custom_order", "submit_form"):
        e = _err(op_id, _custom(providers, tag="x" * 21), {"provider": "scaledmail"})
        assert (e.field, e.message) == ("body.tag", "must be at most 20 characters long, got 21")
    e = _err("create_order", {"tag": "y" * 21, "domains": [_named("a.com")]})
    assert e.field == "body.tag"


@pytest.mark.parametrize("op_id", ["search_domains", "buy_domains"])
def test_more_than_10_names(op_id: str) -> None:
    names = [f"n{i}.com" for i in range(11)]
    assert _ok(op_id, {"domains": names[:10]}) == {"domains": names[:10]}
    e = _err(op_id, {"domains": names})
    assert (e.field, e.message) == ("body.domains", "must have at most 10 items, got 11")


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("a" * 65, "must be at most 64 characters long, got 65"),
        ("lea@x.com", "must match the pattern"),
        ("lea moss", "must match the pattern"),
        ("lea\tm", "must match the pattern"),
        ("", "must not be empty"),
    ],
)
def test_alias_local_part(alias: str, message: str) -> None:
    aliases = _aliases(4)
    aliases[2]["alias"] = alias
    e = _err(
        "create_custom_order",
        _custom({"smtp": {"domains": [{"domain": "a.com", "aliases": aliases}]}}),
    )
    assert e.field == "body.providers.smtp.domains[0].aliases[2].alias"
    assert e.message.startswith(message)
    ok = _aliases(4)
    ok[0]["alias"] = "a" * 64
    _ok("create_custom_order", _custom({"smtp": {"domains": [{"domain": "a.com", "aliases": ok}]}}))


@pytest.mark.parametrize(("provider", "count"), [("google", 2), ("outlook", 25), ("smtp", 4)])
def test_aliases_per_domain(provider: str, count: int) -> None:
    good = {"domain": "a.com", "aliases": _aliases(count)}
    _ok("create_custom_order", _custom({provider: {"domains": [good]}}))
    for n in (count - 1, count + 1):
        bad = {"domain": "b.com", "aliases": _aliases(n)}
        e = _err("create_custom_order", _custom({provider: {"domains": [good, bad]}}))
        assert e.field == f"body.providers.{provider}.domains[1].aliases"
        assert f"exactly {count} aliases" in e.message
        assert e.message.endswith(f"got {n}")
    e = _err("submit_form", _custom({provider: {"domains": [{"domain": "b.com", "aliases": []}]}}))
    assert e.field == f"body.providers.{provider}.domains[0].aliases"


def test_google_aliases_follow_mailboxes_per_domain() -> None:
    spec: dict[str, Any]
    for n in (2, 3, 4):
        spec = {"mailboxes_per_domain": n, "domains": [{"domain": "a.com", "aliases": _aliases(n)}]}
        _ok("create_custom_order", _custom({"google": spec}))
    spec = {"mailboxes_per_domain": 3, "domains": [{"domain": "a.com", "aliases": _aliases(2)}]}
    e = _err("create_custom_order", _custom({"google": spec}))
    assert e.field == "body.providers.google.domains[0].aliases"
    assert "mailboxes_per_domain is 3" in e.message
    spec = {"mailboxes_per_domain": 5, "domains": [_named("a.com")]}
    e = _err("create_custom_order", _custom({"google": spec}))
    assert (e.field, e.message) == (
        "body.providers.google.mailboxes_per_domain",
        "must be <= 4, got 5",
    )


def test_name_and_aliases_formats_not_mixed_within_a_provider() -> None:
    mixed = [{"domain": "a.com", "aliases": _aliases(4)}, _named("b.com")]
    e = _err("create_custom_order", _custom({"smtp": {"domains": mixed}}))
    assert e.field == "body.providers.smtp.domains[1]"
    assert "same format" in e.message
    both = [{"domain": "a.com", "aliases": _aliases(4), "first_name": "A"}]
    e = _err("submit_form", _custom({"smtp": {"domains": both}}))
    assert e.field == "body.providers.smtp.domains[0]"
    # Different formats in different providers are fine.
    _ok(
        "create_custom_order",
        _custom(
            {
                "smtp": {"domains": [{"domain": "a.com", "aliases": _aliases(4)}]},
                "google": {"domains": [_named("b.com"), {"domain": "c.com", "redirect": "x"}]},
            }
        ),
    )
    e = _err("create_order", {"domains": [_named("a.com"), {"domain": "b.com", "aliases": []}]})
    assert e.field == "body.domains[1]"


@pytest.mark.parametrize(("provider", "cap"), [("google", 100), ("outlook", 30), ("smtp", 70)])
def test_domains_per_provider(provider: str, cap: int) -> None:
    domains = [_named(f"d{i}.com") for i in range(cap + 1)]
    _ok("create_custom_order", _custom({provider: {"domains": domains[:cap]}}))
    e = _err("create_custom_order", _custom({provider: {"domains": domains}}))
    assert (e.field, e.message) == (
        f"body.providers.{provider}.domains",
        f"must have at most {cap} items, got {cap + 1}",
    )


@pytest.mark.parametrize(
    ("op_id", "body"),
    [
        ("update_domain_name", {"new_domain": "n.com"}),
        ("create_order", {"domains": [_named("a.com")]}),
        ("create_custom_order", _custom({"smtp": {"domains": [_named("a.com")]}})),
        ("submit_form", _custom({"smtp": {"domains": [_named("a.com")]}})),
    ],
)
def test_hosting_required_when_provider_is_other(op_id: str, body: dict[str, Any]) -> None:
    for provider in ("other", DomainSource.OTHER):
        e = _err(op_id, body, {"provider": provider})
        assert e.field == "body.hosting"
        assert "provider is 'other'" in e.message
    _ok(op_id, body, {"provider": "scaledmail"})
    hosting = {"provider": "Porkbun", "username": "u", "password": "p"}
    assert _ok(op_id, {**body, "hosting": hosting}, {"provider": "other"})["hosting"] == hosting
    e = _err(
        op_id, {**body, "hosting": {"provider": "Porkbun", "username": "u"}}, {"provider": "other"}
    )
    assert e.field == "body.hosting.password"


def test_unknown_provider_key_under_providers() -> None:
    e = _err("create_custom_order", _custom({"yahoo": {"domains": [_named("a.com")]}}))
    assert e.field == "body.providers.yahoo"
    assert "unknown key 'yahoo'" in e.message
    e = _err("create_custom_order", _custom({}))
    assert e.field == "body.providers"


def test_calculate_package_rules() -> None:
    def calc(**kw: Any) -> dict[str, Any]:
        return {"volume": 1000, "providers": ["google"], **kw}

    assert _ok("calculate_package", calc()) == calc()
    for volume in (0, -5):
        e = _err("calculate_package", calc(volume=volume))
        assert (e.field, e.message) == ("body.volume", f"must be > 0, got {volume}")
    assert _err("calculate_package", calc(period="week")).field == "body.period"
    assert _err("calculate_package", calc(tier="high")).field == "body.tier"
    assert _err("calculate_package", calc(providers=["gmail"])).field == "body.providers[0]"
    assert _err("calculate_package", calc(providers=[])).field == "body.providers"
    two = calc(providers=["google", "outlook"])
    e = _err("calculate_package", two)
    assert e.field == "body.distribution"
    assert "more than one provider" in e.message
    e = _err("calculate_package", {**two, "distribution": {"google": 60, "outlook": 30}})
    assert (e.field, e.message) == ("body.distribution", "must add up to 100, got 90")
    e = _err("calculate_package", {**two, "distribution": {"google": 60, "smtp": 40}})
    assert e.field == "body.distribution.smtp"
    _ok("calculate_package", {**two, "distribution": {"google": 62.5, "outlook": 37.5}})
    e = _err("calculate_package", calc(distribution={"google": 100, "outlook": 0}))
    assert e.field == "body.distribution.outlook"
    e = _err("calculate_package", {**two, "distribution": {"google": 160, "outlook": -60}})
    assert e.field == "body.distribution.google"


@pytest.mark.parametrize(
    ("op_id", "body", "field"),
    [
        ("search_domains", {"domains": ["a.com", "  "]}, "body.domains[1]"),
        ("buy_domains", {"domains": [""]}, "body.domains[0]"),
        (
            "buy_pre_warm_inboxes",
            {"domains": [{"id": " ", "domain": "a.com"}]},
            "body.domains[0].id",
        ),
        (
            "buy_pre_warm_inboxes",
            {"domains": [{"id": "recA", "domain": ""}]},
            "body.domains[0].domain",
        ),
        ("update_domain_name", {"new_domain": "\t"}, "body.new_domain"),
        ("suggest_domains", {"domain": " "}, "body.domain"),
        (
            "create_custom_order",
            _custom({"google": {"domains": [{"domain": " "}]}}),
            "body.providers.google.domains[0].domain",
        ),
    ],
)
def test_blank_ids_and_domains(op_id: str, body: dict[str, Any], field: str) -> None:
    e = _err(op_id, body, {"provider": "scaledmail"})
    assert e.field == field
    assert e.message in ("must not be blank", "must not be empty")


@pytest.mark.parametrize(
    ("op_id", "body", "field"),
    [
        ("search_domains", {"domains": []}, "body.domains"),
        ("buy_domains", {"domains": []}, "body.domains"),
        ("buy_pre_warm_inboxes", {"domains": []}, "body.domains"),
        (
            "create_custom_order",
            _custom({"outlook": {"domains": []}}),
            "body.providers.outlook.domains",
        ),
        ("create_order", {"domains": []}, "body.domains"),
    ],
)
def test_empty_domains_lists(op_id: str, body: dict[str, Any], field: str) -> None:
    e = _err(op_id, body, {"provider": "scaledmail"})
    assert (e.field, e.message) == (field, "must not be empty")


def test_create_order_takes_one_shape() -> None:
    flat = {"domains": [_named("a.com")]}
    nested = {"providers": {"outlook": {"domains": [_named("a.com")]}}}
    _ok("create_order", flat)
    _ok("create_order", nested)
    assert _err("create_order", {**flat, **nested}).field == "body.providers"
    e = _err("create_order", {"quantity": 1})
    assert e.field == "body.domains"


def test_sequencer_strings_must_not_be_empty() -> None:
    seq = {"provider": "Instantly", "username": "u", "password": "p", "link": ""}
    e = _err(
        "buy_pre_warm_inboxes", {"domains": [{"id": "recA", "domain": "a.com"}], "sequencer": seq}
    )
    assert e.field == "body.sequencer.link"


# --------------------------------------------------------------------------------------------
# Through the client: nothing is sent for invalid input
# --------------------------------------------------------------------------------------------


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


async def test_invalid_calls_send_nothing(mocked: aioresponses, api_key: str) -> None:
    async with ScaledmailClient(api_key, organization_id="recOrg", base_url=BASE) as client:
        with pytest.raises(RequestValidationError) as info:
            await client.search_domains(body={"domains": [f"n{i}.com" for i in range(11)]})
        assert info.value.field == "body.domains"
        with pytest.raises(RequestValidationError) as info:
            await client.create_custom_order(
                provider="other", body={"providers": {"smtp": {"domains": [_named("a.com")]}}}
            )
        assert info.value.field == "body.hosting"
        with pytest.raises(RequestValidationError) as info:
            await client.create_custom_order(
                provider=cast(Any, "godaddy"),  # deliberately invalid: checked at run time
                body={"providers": {"smtp": {"domains": [_named("a.com")]}}},
            )
        assert info.value.field == "provider"
        with pytest.raises(RequestValidationError) as info:
            await client.get_order_details("  ")
        assert info.value.field == "order_id"
        with pytest.raises(RequestValidationError):
            await client.calculate_package(body={"volume": 0, "providers": ["google"]})
    assert mocked.requests == {}


async def test_a_valid_call_sends_the_wire_json(mocked: aioresponses, api_key: str) -> None:
    url = re.compile(r"^http://127\.0\.0\.1:9/api/v1/create-custom-order\?.*$")
    mocked.post(url, payload={"success": True})
    body: CreateCustomOrderBody = {
        "providers": {"google": {"mailboxes_per_domain": 3, "domains": [_named("a.com")]}},
        "tag": "t",
    }
    async with ScaledmailClient(api_key, organization_id="recOrg", base_url=BASE) as client:
        await client.create_custom_order(provider=CustomOrderDomainSource.BUY, body=body)
    ((key, calls),) = mocked.requests.items()
    assert key[0] == "POST"
    assert key[1].query["provider"] == "buy"
    assert key[1].query["organization_id"] == "recOrg"
    sent = calls[0].kwargs.get("data")
    assert json.loads(sent) == body


# --------------------------------------------------------------------------------------------
# A mapping body in its model's wire form: the conformer gives what the converter gives
# --------------------------------------------------------------------------------------------

_CONFORM_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("search_domains", {"x-note": 1, "domains": ["a.com", "b.com"]}),
    ("suggest_domains", {"tlds": [".com"], "domain": "harbor"}),
    ("calculate_package", {"tier": "low", "volume": 2.0, "providers": ["google", "other"]}),
    (
        "calculate_package",
        {
            "volume": 3,
            "providers": ["google", "smtp"],
            "distribution": {"smtp": 40, "google": 60.0},
        },
    ),
    (
        "create_custom_order",
        {
            "sequencer": {"password": "p", "username": "u", "provider": "s", "extra": [1]},
            "providers": {
                "google": {"mailboxes_per_domain": 2.0, "domains": [_named("a.com")]},
                "zz": {"domains": []},
            },
            "tag": "t",
        },
    ),
    ("create_order", {"domains": [{"aliases": [], "domain": "a.com"}], "quantity": 1}),
]


@pytest.mark.parametrize(("op_id", "body"), _CONFORM_BODIES)
def test_a_mapping_body_gets_the_wire_form_of_its_model(op_id: str, body: dict[str, Any]) -> None:
    """Declared keys in the model's order after undeclared ones, ``2.0`` as ``2`` for an integer:
    exactly the converter's ``unstructure(structure(body))``, key order included."""
    request_type = OPERATIONS[op_id].request_type
    assert request_type is not None
    conform = conformer(request_type)
    assert conform is not None
    expected = unstructure(structure(body, request_type))
    got = conform(body)
    assert json.dumps(got) == json.dumps(expected)


def test_a_value_not_exactly_of_its_json_type_is_left_to_the_converter() -> None:
    class Name(str):
        pass

    conform = conformer(SearchDomainsRequest)
    assert conform is not None
    for body in ({"domains": [Name("a.com")]}, {}, {"domains": ("a.com",)}, {"domains": [None]}):
        with pytest.raises(NotExact):
            conform(body)
    assert conformer(_Local) is None  # not a generated model: always the converter
