"""The cattrs converters: renames, dates, nullability, open enums, unknown keys, strictness."""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, cast

import attrs
import pytest
import yaml
from cattrs.errors import ClassValidationError

from codegen import DEFAULT_SPEC
from scaledmail_async import _client as client_module
from scaledmail_async._converter import (
    _FAST_PATHS,
    converter,
    strict_converter,
    structure,
    unstructure,
)
from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async._model_types import MODEL_CLASSES
from scaledmail_async._structure_errors import structure_error_path, structure_errors
from scaledmail_async._types import UNSET
from scaledmail_async.models import (
    AvailabilityStatus,
    CalculatePackageRequest,
    CalculationTier,
    Domain,
    DomainAvailability,
    MailProvider,
    OrderDetails,
    OrderStatus,
    PendingFormList,
    PreWarmDomain,
    PreWarmInboxes,
    PurchasedDomain,
)

ORDER: dict[str, Any] = {
    "id": "recPay0000000000A",
    "created_at": "2026-03-14T09:26:53.000Z",
    "amount": 84,
    "tag": "northwind-01",
    "status": "Active",
    "packages": [
        {
            "type": "Google",
            "id": "recPk00000000000A",
            "created_at": "2026-03-14T09:30:00.123Z",
            "status": "Active",
            "domains": [
                {"id": "recDm00000000000A", "name": "northwindmail.com", "status": ""},
                {"id": "recDm00000000000B", "name": "northwindhq.com", "status": "Active"},
            ],
        }
    ],
}

PRE_WARM: dict[str, Any] = {
    "total": 1,
    "google": [
        {
            "id": "recPw0000000000G1",
            "domain": "brightlanehq.com",
            "warmup_age": 2,
            "emailMailboxCount": 2,
            "pricing": {"oneTimePrice": 20, "monthlyPrice": 9.5},
            "emailMailbox": [{"first_name": "Ana", "last_name": "Reyes", "alias": "ana"}],
        }
    ],
    "outlook": [],
}


def test_camel_case_wire_names_map_to_snake_case_attributes() -> None:
    inbox = structure(PRE_WARM, PreWarmInboxes)
    domain = inbox.google[0]
    assert isinstance(domain, PreWarmDomain)
    assert domain.email_mailbox_count == 2
    assert domain.pricing is not UNSET
    assert (domain.pricing.one_time_price, domain.pricing.monthly_price) == (20, 9.5)
    assert domain.email_mailbox is not UNSET and domain.email_mailbox[0].alias == "ana"
    assert unstructure(inbox) == PRE_WARM
    search = structure(
        [{"domain": "a.com", "status": "available", "renewPrice": 17}], list[DomainAvailability]
    )
    assert search[0].renew_price == 17
    assert unstructure(search) == [{"domain": "a.com", "status": "available", "renewPrice": 17}]


def test_datetimes_are_aware_and_written_back_with_milliseconds_and_z() -> None:
    order = structure(ORDER, OrderDetails)
    assert order.created_at == datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
    assert order.created_at is not UNSET and order.created_at.utcoffset() == timedelta(0)
    assert order.packages is not UNSET
    package_created = order.packages[0].created_at
    assert package_created is not UNSET and package_created.microsecond == 123_000
    assert unstructure(order) == ORDER
    assert unstructure(order)["created_at"] == "2026-03-14T09:26:53.000Z"
    # Values built by users: UTC gets Z, other offsets keep theirs, sub-millisecond is kept.
    order.created_at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert unstructure(order)["created_at"] == "2026-01-02T03:04:05.000006Z"
    order.created_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert unstructure(order)["created_at"] == "2026-01-02T03:04:05.000+02:00"


def test_date_only_strings_become_dates() -> None:
    forms = structure(
        {
            "total": 1,
            "forms": [{"payment_id": "recPay", "uuid": "0b6c", "created_at": "2026-04-02"}],
        },
        PendingFormList,
    )
    assert forms.forms[0].created_at == date(2026, 4, 2)
    assert type(forms.forms[0].created_at) is date
    assert unstructure(forms)["forms"][0]["created_at"] == "2026-04-02"
    with pytest.raises(ClassValidationError):
        structure(
            {"forms": [{"payment_id": "p", "uuid": "u", "created_at": "04/02/2026"}]},
            PendingFormList,
        )


def test_missing_is_not_null() -> None:
    taken = structure(
        {"domain": "google.com", "status": "taken", "price": None}, DomainAvailability
    )
    assert taken.price is None
    assert taken.renew_price is UNSET
    assert unstructure(taken) == {"domain": "google.com", "status": "taken", "price": None}

    purchased = structure({"domain": "a.com", "domain_id": None}, PurchasedDomain)
    assert purchased.domain_id is None
    assert unstructure(purchased) == {"domain": "a.com", "domain_id": None}

    # Request side: UNSET attributes are left out, explicit None is sent as null.
    domain = Domain(id="recDm", domain="a.com", redirect=None)
    assert unstructure(domain) == {"id": "recDm", "domain": "a.com", "redirect": None}
    request = CalculatePackageRequest(volume=100, providers=[MailProvider.GOOGLE])
    assert unstructure(request) == {"volume": 100, "providers": ["google"]}


def test_null_is_rejected_where_the_schema_does_not_allow_it() -> None:
    with pytest.raises(ClassValidationError) as info:
        structure({"domain": "a.com", "status": None}, DomainAvailability)
    assert structure_error_path(info.value) == "$.status"


def test_unknown_enum_values_are_kept_as_strings() -> None:
    order = structure({**ORDER, "status": "Paused"}, OrderDetails)
    assert order.status == "Paused"
    assert type(order.status) is str
    assert structure(ORDER, OrderDetails).status is OrderStatus.ACTIVE
    assert unstructure(order)["status"] == "Paused"

    request = CalculatePackageRequest(
        volume=1,
        # A plain str the spec does not list (as an untyped caller sends it), not an Unlisted.
        providers=["google", MailProvider.OUTLOOK, cast(Any, "carrier-pigeon")],
        tier=CalculationTier.MAX,
    )
    wire = unstructure(request)
    assert wire["providers"] == ["google", "outlook", "carrier-pigeon"]
    assert [type(p) for p in wire["providers"]] == [str, str, str]
    assert wire["tier"] == "max" and type(wire["tier"]) is str
    back = structure(wire, CalculatePackageRequest)
    assert back.providers == [MailProvider.GOOGLE, MailProvider.OUTLOOK, "carrier-pigeon"]


def test_unknown_keys_are_kept_and_written_back() -> None:
    data = {
        **ORDER,
        "refund": {"amount": 5},
        "packages": [
            {
                **ORDER["packages"][0],
                "domains": [{**ORDER["packages"][0]["domains"][0], "dkim": True}],
            }
        ],
    }
    order = structure(data, OrderDetails)
    assert order.additional_properties == {"refund": {"amount": 5}}
    assert order.packages is not UNSET
    assert order.packages[0].additional_properties == {}
    assert order.packages[0].domains is not UNSET
    assert order.packages[0].domains[0].additional_properties == {"dkim": True}
    assert unstructure(order) == data


def test_declared_attributes_win_over_additional_properties() -> None:
    domain = Domain(id="recDm", domain="a.com", additional_properties={"domain": "b.com", "x": 1})
    assert unstructure(domain) == {"id": "recDm", "domain": "a.com", "x": 1}


def test_strict_mode_rejects_unknown_keys_and_enum_values() -> None:
    assert structure(ORDER, OrderDetails, strict=True) == structure(ORDER, OrderDetails)
    with pytest.raises(ClassValidationError) as info:
        structure({**ORDER, "status": "Paused"}, OrderDetails, strict=True)
    assert structure_error_path(info.value) == "$.status"
    assert "Paused" in structure_errors(info.value)[0][1]

    nested = {**PRE_WARM, "google": [{**PRE_WARM["google"][0], "badge": "new"}]}
    with pytest.raises(ClassValidationError) as info:
        strict_converter.structure(nested, PreWarmInboxes)
    assert structure_errors(info.value) == [("$.google[0].badge", "unknown field")]


def test_error_paths_use_wire_names() -> None:
    bad = {**PRE_WARM, "google": [{**PRE_WARM["google"][0], "emailMailboxCount": [2]}]}
    with pytest.raises(ClassValidationError) as info:
        structure(bad, PreWarmInboxes)
    assert structure_error_path(info.value) == "$.google[0].emailMailboxCount"

    missing = {**ORDER, "packages": [{**ORDER["packages"][0], "domains": [{"id": "recDm"}]}]}
    with pytest.raises(ClassValidationError) as info:
        structure(missing, OrderDetails)
    assert structure_errors(info.value) == [
        ("$.packages[0].domains[0].name", "required field missing")
    ]
    assert structure_error_path(ValueError("top level")) == "$"


def test_scalars_are_not_coerced_from_the_wrong_json_type() -> None:
    for bad in ({"domain": "a.com", "domain_masking": "false"}, {"domain": {"x": 1}}):
        with pytest.raises(ClassValidationError):
            structure({"id": "recDm", "domain": "a.com", **bad}, Domain)
    # Lenient: numeric strings for numbers and numbers for strings; strict: exact JSON types.
    lenient = structure({"id": 123, "domain": "a.com", "total_mailboxes": "3"}, Domain)
    assert (lenient.id, lenient.total_mailboxes) == ("123", 3)
    with pytest.raises(ClassValidationError):
        structure({"id": "recDm", "domain": "a.com", "total_mailboxes": "3"}, Domain, strict=True)
    with pytest.raises(ClassValidationError):
        structure({"id": 1, "domain": "a.com"}, Domain, strict=True)


def test_json_integers_stay_integers() -> None:
    order = structure(ORDER, OrderDetails)
    assert order.amount == 84 and type(order.amount) is int
    assert type(unstructure(order)["amount"]) is int


_NO_LAZY_HOOKS = """
import json, sys
import scaledmail_async._converter as c
from scaledmail_async.models import OrderDetails, PreWarmInboxes, DomainAvailability

def refuse(*args, **kwargs):
    raise AssertionError("a hook was generated after import")

_ = c.strict_converter  # built on first use (not at import), with every hook, like the lenient one
c.make_dict_structure_fn = c.make_dict_unstructure_fn = refuse
order, pre_warm = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for strict in (False, True):
    for cls in c.MODEL_CLASSES.values():
        conv = c.strict_converter if strict else c.converter
        conv.get_structure_hook(cls)
        conv.get_unstructure_hook(cls)
    assert c.unstructure(c.structure(order, OrderDetails, strict=strict)) == order
    assert c.unstructure(c.structure(pre_warm, PreWarmInboxes, strict=strict)) == pre_warm
found = c.structure([{"domain": "a.com", "status": "taken"}], list[DomainAvailability])
assert c.unstructure(found) == [{"domain": "a.com", "status": "taken"}]
weird = {**order, "invoices": [{"id": 1, "lines": [1.5, None]}], "x": {"y": [True]}}
assert c.unstructure(c.structure(weird, OrderDetails)) == weird
print("ok", len(c.MODEL_CLASSES))
"""


def test_every_hook_is_built_at_import() -> None:
    """Structuring and unstructuring never generate a hook on the request path.

    The lenient converter builds every hook at import, the strict one (for tests) when it is
    first used. Runs in a fresh interpreter so that no earlier test has already built a hook
    lazily.
    """
    result = subprocess.run(
        [sys.executable, "-c", _NO_LAZY_HOOKS, json.dumps(ORDER), json.dumps(PRE_WARM)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", str(len(MODEL_CLASSES))]
    assert len(MODEL_CLASSES) > 50


_LAZY_STRICT = """
import scaledmail_async
import scaledmail_async._converter as c
from scaledmail_async.models import Domain

print(c._strict_converter.cache_info().currsize)
c.structure({"id": "recDm", "domain": "a.com"}, Domain, strict=True)
print(c._strict_converter.cache_info().currsize, c.strict_converter is c._strict_converter())
"""


def test_the_strict_converter_is_built_on_first_use_not_at_import() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LAZY_STRICT], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "1", "True"]


def test_enum_members_and_statuses() -> None:
    search = structure(
        [{"domain": "a.com", "status": "available"}, {"domain": "b.com", "status": "reserved"}],
        list[DomainAvailability],
    )
    assert search[0].status is AvailabilityStatus.AVAILABLE
    assert search[1].status == "reserved"


# -- the generated fast path gives exactly what cattrs gives ----------------------------------


def _spec_examples() -> list[tuple[str, Any, Any]]:
    """(where, type, body) of every model-shaped example in the spec: component schemas, and the
    200 and request bodies of the operations (with the operation's response / request type)."""
    with DEFAULT_SPEC.open(encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    found: list[tuple[str, Any, Any]] = []
    for name, schema in spec["components"]["schemas"].items():
        for i, value in enumerate([*schema.get("examples", []), *[schema.get("example")][:1]]):
            if value is not None and name in MODEL_CLASSES:
                found.append((f"schemas/{name}[{i}]", MODEL_CLASSES[name], value))
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or op.get("operationId") not in OPERATIONS:
                continue
            operation = OPERATIONS[op["operationId"]]
            for tp, where, node in (
                (operation.response_type, "200", op.get("responses", {}).get("200", {})),
                (operation.request_type, "request", op.get("requestBody", {})),
            ):
                for content in node.get("content", {}).values():
                    values = [content["example"]] if "example" in content else []
                    values += [ex["value"] for ex in (content.get("examples") or {}).values()]
                    for i, value in enumerate(values):
                        found.append((f"{method.upper()} {path} {where}[{i}]", tp, value))
    return found


def _typed(value: Any) -> Any:
    """``value`` as a tree that also compares types (``1`` vs ``1.0`` vs ``True``, an enum member
    vs its string, ``UNSET`` vs ``None``) and every attribute, ``additional_properties`` too."""
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return (type(value), tuple((f.name, _typed(getattr(value, f.name))) for f in fields))
    if isinstance(value, dict):
        return (dict, tuple((k, _typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return (list, tuple(_typed(v) for v in value))
    if isinstance(value, datetime):
        return (datetime, value.isoformat(), value.utcoffset())
    return (type(value), value)


def _outcome(fn: Any, data: Any, tp: Any) -> Any:
    try:
        return ("ok", _typed(fn(data, tp)))
    except Exception as exc:
        return ("error", type(exc), structure_errors(exc))


_ODD_VALUES: list[Any] = [
    None,
    "SomethingNew",
    "",
    "2026-03-14T09:26:53.000Z",
    "not a date",
    "12",
    "1.5",
    0,
    7,
    -1,
    2.5,
    3.0,
    True,
    False,
    [],
    [1, "x"],
    {},
    {"k": "v"},
]


def _containers(node: Any) -> list[Any]:
    """Every dict and list in the JSON tree ``node``, ``node`` included."""
    if not isinstance(node, dict | list):
        return []
    found = [node]
    for child in node.values() if isinstance(node, dict) else node:
        found += _containers(child)
    return found


def _mutate(value: Any, rng: random.Random) -> Any:
    """A deep copy of ``value`` with one to three random edits somewhere in its tree: a key
    added, deleted or set to null, a value of another JSON type, an unknown enum-like string,
    a list emptied, grown or given a foreign element."""
    body = copy.deepcopy(value)

    def odd() -> Any:
        return copy.deepcopy(rng.choice(_ODD_VALUES))

    for _ in range(rng.randint(1, 3)):
        nodes = _containers(body)
        if not nodes:
            return odd()
        node = rng.choice(nodes)
        action = rng.random()
        if isinstance(node, dict):
            keys = list(node)
            if action < 0.2 or not keys:
                node[f"unknown_{rng.randint(0, 99)}"] = odd()
            elif action < 0.4:
                del node[rng.choice(keys)]
            elif action < 0.55:
                node[rng.choice(keys)] = None
            else:
                node[rng.choice(keys)] = odd()
        elif action < 0.3:
            node.clear()
        elif action < 0.6 and node:
            node.append(copy.deepcopy(rng.choice(node)))
        elif node:
            node[rng.randrange(len(node))] = odd()
    return body


def test_fast_path_matches_plain_cattrs_on_spec_examples_and_varied_bodies() -> None:
    """``structure()`` (generated fast path first) and the converter's own cattrs hooks give
    identical results (types included) or identical errors (same class, same paths)."""
    examples = _spec_examples()
    assert len(examples) >= 20
    assert any(tp is OrderDetails for _, tp, _ in examples)
    # Hand-picked variants of a typical order: what the API may send besides the documented.
    domain = ORDER["packages"][0]["domains"][1]
    varied = [
        {**ORDER, "status": "Paused", "tag": None, "refund": {"amount": 5}},
        {k: v for k, v in ORDER.items() if k not in ("created_at", "amount", "tag")},
        {**ORDER, "amount": 84.5, "total_domains": "2", "description": 12},
        {**ORDER, "packages": [{"id": "recPk", "domains": [{**domain, "dkim": True}]}]},
        {**ORDER, "packages": [{"id": "recPk", "domains": [{"id": "recDm", "name": "a.com"}]}]},
        {**ORDER, "packages": [{"id": "recPk", "domains": [{"id": 1, "name": None}]}]},
        {**ORDER, "packages": None},
        {**ORDER, "created_at": "2026-03-14"},
        {**ORDER, "created_at": 1710408413},
        {"id": "recPay"},
        {},
        [],
        "order",
    ]
    cases = [(where, tp, body) for where, tp, body in examples]
    cases += [(f"varied[{i}]", OrderDetails, body) for i, body in enumerate(varied)]
    rng = random.Random(20260314)
    for where, tp, body in list(cases):
        cases += [(f"{where} mutated[{i}]", tp, _mutate(body, rng)) for i in range(40)]
    direct = fallback = 0
    for where, tp, body in cases:
        fast = _FAST_PATHS.get(tp)
        assert fast is not None, f"{where}: {tp!r} has no fast path"
        expected = _outcome(converter.structure, body, tp)
        assert _outcome(structure, body, tp) == expected, where
        try:
            fast(copy.deepcopy(body))
        except Exception:
            fallback += 1
        else:
            direct += 1
        if where in {w for w, _, _ in examples}:
            assert expected[0] == "ok", where  # every spec example takes the fast path
    # Both routes were exercised: the generated functions and the fall-back to cattrs.
    assert direct > 300 and fallback > 100, (direct, fallback)


def test_json_bytes_decode_is_exactly_json_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's body decoder (msgspec when installed) returns what ``json.loads`` returns,
    types and key order included, or raises what ``json.loads`` raises."""
    bodies = [
        json.dumps(ORDER).encode(),
        json.dumps(PRE_WARM, ensure_ascii=False).encode(),
        b'{"a":1,"a":2}',
        b"123456789012345678901234567890",
        b"[1e400, -0.0, 0.1, 5e-324, 1E2, -0]",
        b'"\\ud800"',
        b'"\\ud83d\\ude00 \xc3\xa9"',
        b"[NaN, Infinity, -Infinity]",
        b"\xef\xbb\xbf{}",
        '{"x": "\u00e9"}'.encode("utf-16"),
        b'"\xff"',
        b'"a\tb"',
        b"01",
        b"[1,]",
        b"{}x",
        b"",
        b" \r\n\t[] ",
    ]
    rng = random.Random(7)
    alphabet = b'{}[]:,"\\ 0123456789.eE+-tfnulNaIy\x00\x1f\xc3\xa9\xed\xa0\x80\xff'
    for _ in range(3000):
        raw = bytearray(rng.choice(bodies[:2]))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(raw))
            if rng.random() < 0.5:
                del raw[at]
            else:
                raw[at:at] = bytes([rng.choice(alphabet)])
        bodies.append(bytes(raw))

    def outcome(loads: Any, body: bytes) -> Any:
        try:
            return ("ok", _typed(loads(body)))
        except Exception as exc:
            return ("error", type(exc))

    for body in bodies:
        expected = outcome(json.loads, body)
        assert outcome(client_module._json_loads, body) == expected, body
    assert client_module._fast_loads is not None  # msgspec is installed in the dev environment
    monkeypatch.setattr(client_module, "_fast_loads", None)
    for body in bodies[:20]:
        assert outcome(client_module._json_loads, body) == outcome(json.loads, body)
