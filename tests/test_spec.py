"""The spec is valid OpenAPI 3.1, and every example in it round-trips through its model.

Examples are structured with the *strict* converter, so an example that carries a key its schema
does not declare, or an enum value the schema does not list, fails here: the spec's examples and
its schemas must agree.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

from codegen import DEFAULT_SPEC
from scaledmail_async import models
from scaledmail_async._converter import structure, unstructure
from scaledmail_async.models._wire_names import WIRE_NAMES


def _load() -> dict[str, Any]:
    with DEFAULT_SPEC.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


SPEC = _load()
_REF = "#/components/schemas/"


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def _schema_types(schema: dict[str, Any]) -> list[Any]:
    """The Python types an instance of ``schema`` may structure into (several for oneOf)."""
    if "$ref" in schema and schema["$ref"].startswith(_REF):
        return [getattr(models, schema["$ref"][len(_REF) :])]
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return [list[item] for item in _schema_types(schema["items"])]  # type: ignore[valid-type]
    variants = schema.get("oneOf") or schema.get("anyOf")
    if variants:
        return [tp for variant in variants for tp in _schema_types(variant)]
    raise AssertionError(f"no model for schema {schema!r}")


def _media_examples(media: dict[str, Any]) -> Iterator[Any]:
    if "example" in media:
        yield media["example"]
    for example in (media.get("examples") or {}).values():
        yield _deref(example)["value"]


def _examples() -> Iterator[tuple[str, list[Any], Any]]:
    """Every example with the types it may structure into: (where, types, value)."""
    components = SPEC["components"]
    for name, schema in components["schemas"].items():
        cls = getattr(models, name)
        values = list(schema.get("examples") or [])
        if "example" in schema:
            values.append(schema["example"])
        for i, value in enumerate(values):
            yield f"components/schemas/{name}[{i}]", [cls], value
        if "properties" not in schema:
            continue
        hints = typing.get_type_hints(cls)
        attr_by_wire = {wire: attr for attr, wire in WIRE_NAMES[name].items()}
        for wire, prop in schema["properties"].items():
            prop_values = list(prop.get("examples") or [])
            if "example" in prop:
                prop_values.append(prop["example"])
            for i, value in enumerate(prop_values):
                yield f"{name}.{wire}[{i}]", [hints[attr_by_wire[wire]]], value

    def media_of(node: dict[str, Any], where: str) -> Iterator[tuple[str, list[Any], Any]]:
        for media_type, media in (node.get("content") or {}).items():
            if "schema" not in media:
                continue
            types = _schema_types(media["schema"])
            for i, value in enumerate(_media_examples(media)):
                yield f"{where} {media_type}[{i}]", types, value

    for name, response in (components.get("responses") or {}).items():
        yield from media_of(response, f"components/responses/{name}")
    for name, body in (components.get("requestBodies") or {}).items():
        yield from media_of(body, f"components/requestBodies/{name}")
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            where = f"{method.upper()} {path}"
            if "requestBody" in op:
                yield from media_of(_deref(op["requestBody"]), f"{where} request")
            for status, response in op.get("responses", {}).items():
                if "$ref" not in response:
                    yield from media_of(response, f"{where} {status}")


EXAMPLES = list(_examples())


def test_spec_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"].startswith("3.1")
    validate(SPEC, cls=OpenAPIV31SpecValidator)


def test_spec_has_examples_for_requests_and_responses() -> None:
    wheres = [where for where, _, _ in EXAMPLES]
    assert sum(" request " in w for w in wheres) >= 10
    assert sum(" 200 " in w for w in wheres) >= 10


@pytest.mark.parametrize(
    ("where", "types", "value"), EXAMPLES, ids=[where for where, _, _ in EXAMPLES]
)
def test_example_round_trips_through_its_model(where: str, types: list[Any], value: Any) -> None:
    failures: list[str] = []
    for tp in types:
        try:
            obj = structure(value, tp, strict=True)
        except Exception as exc:
            failures.append(f"{tp!r}: {exc!r}")
            continue
        # Same JSON back: same keys, values and types (a JSON 84 stays 84, not 84.0).
        assert json.dumps(unstructure(obj), sort_keys=True) == json.dumps(value, sort_keys=True)
        return
    pytest.fail(f"{where}: the example fits none of its types: {failures}")


def test_a_tampered_example_is_rejected() -> None:
    """The round-trip test can fail: an undeclared key or unknown enum value breaks it."""
    _, types, value = next(e for e in EXAMPLES if e[0].startswith("GET /orders/{order_id}"))
    assert types == [models.OrderDetails]
    with pytest.raises(Exception):  # noqa: B017 - any structuring error
        structure({**value, "surprise": 1}, models.OrderDetails, strict=True)
    with pytest.raises(Exception):  # noqa: B017
        structure({**value, "status": "Paused"}, models.OrderDetails, strict=True)
