"""Read the OpenAPI document into the few facts the generators need.

Plain pyyaml and dictionaries: the generators only need the operations (path, method, parameters,
body, 200 response, vendor extensions) and the component schemas, so a full OpenAPI object model
(openapi-core, openapi-pydantic, ...) would add a dependency without removing code.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import yaml

__all__ = [
    "HTTP_METHODS",
    "OperationSpec",
    "ParamSpec",
    "SpecError",
    "load_spec",
    "read_operations",
]

#: ``x-organization-id`` of an operation.
OrgRule = Literal["required", "optional", "none"]

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

#: Keyword names every generated function takes besides the spec's own parameters.
_RESERVED_NAMES = frozenset({"client", "body", "organization_id", "timeout", "deadline", "self"})

_JSON_TO_PY = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


class SpecError(Exception):
    """The spec uses a construct the generator cannot turn into the SDK surface."""


@dataclass(frozen=True)
class ParamSpec:
    """A path or declared query parameter."""

    name: str
    """The name on the wire."""
    python_name: str
    location: str
    required: bool
    schema: dict[str, Any]
    """The parameter's schema, ``$ref`` left as written."""
    json_type: str
    """The JSON type of the value ("string", "integer", "number", "boolean")."""
    enum_schema: str | None
    """The component schema name when the parameter is a ``$ref`` to an enum schema."""
    enum_values: tuple[str, ...] | None
    default: Any
    description: str


@dataclass(frozen=True)
class OperationSpec:
    """One operation of the spec, with everything the generated surface needs."""

    operation_id: str
    tag: str
    method: str
    path: str
    summary: str
    description: str
    path_params: tuple[ParamSpec, ...]
    query_params: tuple[ParamSpec, ...]
    body_schema: dict[str, Any] | None
    body_schema_name: str | None
    body_required: bool
    response_schema_name: str
    response_is_list: bool
    retry: str
    spends_money: bool
    rate_limit_group: str | None
    organization: OrgRule
    """``x-organization-id``: ``required`` (refused before sending without one), ``optional``
    (sent when configured) or ``none`` (never sent)."""
    source: str | None
    #: ``x-reconcile`` of a spend: ``(by, field, max_length)``, ``by`` = "tag" | "domains".
    reconcile: tuple[str, str, int | None] | None = None

    @property
    def sends_organization_id(self) -> bool:
        """Whether the client's organization is sent as the ``organization_id`` query parameter."""
        return self.organization != "none"


def load_spec(path: Path) -> dict[str, Any]:
    """Load the YAML document."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise SpecError(f"{path}: not an OpenAPI document")
    return data


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s (``#/components/...``) until a non-reference node."""
    seen: set[str] = set()
    while "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise SpecError(f"only local $refs are supported, got {ref!r}")
        if ref in seen:
            raise SpecError(f"circular $ref {ref!r}")
        seen.add(ref)
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _schema_ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    prefix = "#/components/schemas/"
    if isinstance(ref, str) and ref.startswith(prefix):
        return ref[len(prefix) :]
    return None


def _python_name(name: str) -> str:
    ident = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    if not ident or ident[0].isdigit():
        ident = f"_{ident}"
    if keyword.iskeyword(ident):
        ident = f"{ident}_"
    return ident


def _param(spec: dict[str, Any], raw: dict[str, Any], where: str) -> ParamSpec:
    param = _resolve(spec, raw)
    name = param.get("name")
    location = param.get("in")
    if not isinstance(name, str) or location not in ("path", "query", "header", "cookie"):
        raise SpecError(f"{where}: malformed parameter {param!r}")
    schema = param.get("schema") or {}
    resolved = _resolve(spec, schema)
    enum_schema = _schema_ref_name(schema) if "enum" in resolved else None
    json_type = resolved.get("type", "string")
    if isinstance(json_type, list):
        non_null = [t for t in json_type if t != "null"]
        if len(non_null) != 1:
            raise SpecError(f"{where}: parameter {name!r} has an unsupported type {json_type!r}")
        json_type = non_null[0]
    if json_type not in _JSON_TO_PY:
        raise SpecError(f"{where}: parameter {name!r} has an unsupported type {json_type!r}")
    enum = resolved.get("enum")
    python_name = _python_name(name)
    if python_name in _RESERVED_NAMES:
        raise SpecError(
            f"{where}: parameter {name!r} clashes with a keyword every operation takes "
            f"({', '.join(sorted(_RESERVED_NAMES))})"
        )
    return ParamSpec(
        name=name,
        python_name=python_name,
        location=location,
        required=bool(param.get("required", location == "path")),
        schema=schema,
        json_type=json_type,
        enum_schema=enum_schema,
        enum_values=tuple(str(v) for v in enum) if isinstance(enum, list) else None,
        default=resolved.get("default"),
        description=str(param.get("description") or resolved.get("description") or "").strip(),
    )


def _json_content(node: dict[str, Any], where: str) -> dict[str, Any] | None:
    content = node.get("content") or {}
    for media_type, media in content.items():
        if media_type == "application/json" or media_type.endswith("+json"):
            schema = media.get("schema")
            if not isinstance(schema, dict):
                raise SpecError(f"{where}: {media_type} content without a schema")
            return schema
    return None


def read_operations(spec: dict[str, Any]) -> list[OperationSpec]:
    """Every operation of the spec, in document order (paths, then methods)."""
    operations: list[OperationSpec] = []
    seen_ids: set[str] = set()
    for path, path_item in (spec.get("paths") or {}).items():
        shared = path_item.get("parameters") or []
        for method in HTTP_METHODS:
            op = path_item.get(method)
            if op is None:
                continue
            where = f"{method.upper()} {path}"
            operation_id = op.get("operationId")
            if not isinstance(operation_id, str) or not operation_id.isidentifier():
                raise SpecError(f"{where}: operationId {operation_id!r} is not an identifier")
            if operation_id in seen_ids:
                raise SpecError(f"{where}: duplicate operationId {operation_id!r}")
            seen_ids.add(operation_id)
            where = f"{where} ({operation_id})"
            tags = op.get("tags") or []
            if len(tags) != 1 or not str(tags[0]).isidentifier():
                raise SpecError(f"{where}: needs exactly one identifier-like tag, got {tags!r}")

            by_key: dict[tuple[str, str], ParamSpec] = {}
            for raw in [*shared, *(op.get("parameters") or [])]:
                param = _param(spec, raw, where)
                by_key[(param.location, param.name)] = param
            org_rule = op.get("x-organization-id")
            if org_rule not in ("required", "optional", "none"):
                raise SpecError(
                    f"{where}: x-organization-id must be required, optional or none, "
                    f"got {org_rule!r}"
                )
            path_names = [
                seg[1:-1] for seg in path.split("/") if seg.startswith("{") and seg.endswith("}")
            ]
            path_params: list[ParamSpec] = []
            for name in path_names:
                param_or_none = by_key.get(("path", name))
                if param_or_none is None:
                    raise SpecError(f"{where}: path parameter {name!r} is not declared")
                path_params.append(param_or_none)
            query_params = [
                p
                for (location, name), p in by_key.items()
                if location == "query" and name != "organization_id"
            ]
            others = [p for (location, _), p in by_key.items() if location in ("header", "cookie")]
            if others:
                raise SpecError(f"{where}: header/cookie parameters are not supported")
            # Required query parameters first, then optional ones, each in spec order.
            query_params.sort(key=lambda p: not p.required)

            body_schema: dict[str, Any] | None = None
            body_name: str | None = None
            body_required = False
            if "requestBody" in op:
                body = _resolve(spec, op["requestBody"])
                body_schema = _json_content(body, where)
                if body_schema is None:
                    raise SpecError(f"{where}: the request body has no JSON content")
                body_name = _schema_ref_name(body_schema)
                if body_name is None:
                    raise SpecError(
                        f"{where}: the request body schema must be a $ref to components/schemas"
                    )
                body_required = bool(body.get("required", False))

            responses = op.get("responses") or {}
            ok = next((code for code in ("200", "201", "202") if code in responses), None)
            if ok is None:
                raise SpecError(f"{where}: no 200/201/202 response")
            response_schema = _json_content(_resolve(spec, responses[ok]), where)
            if response_schema is None:
                raise SpecError(f"{where}: the {ok} response has no JSON content")
            is_list = False
            response_name = _schema_ref_name(response_schema)
            if response_name is None and response_schema.get("type") == "array":
                response_name = _schema_ref_name(response_schema.get("items") or {})
                is_list = True
            if response_name is None:
                raise SpecError(
                    f"{where}: the {ok} response schema must be a $ref to components/schemas "
                    "or an array of one"
                )

            retry = op.get("x-retry")
            if retry not in ("safe", "pre-send-only"):
                raise SpecError(f"{where}: x-retry must be safe or pre-send-only, got {retry!r}")
            spends = op.get("x-spends-money")
            if not isinstance(spends, bool):
                raise SpecError(f"{where}: x-spends-money must be true or false")
            group = op.get("x-rate-limit-group")
            if group is not None and not isinstance(group, str):
                raise SpecError(f"{where}: x-rate-limit-group must be a string")
            reconcile = _reconcile(where, op.get("x-reconcile"), spends)

            operations.append(
                OperationSpec(
                    operation_id=operation_id,
                    tag=str(tags[0]),
                    method=method.upper(),
                    path=path,
                    summary=str(op.get("summary") or "").strip(),
                    description=str(op.get("description") or "").strip(),
                    path_params=tuple(path_params),
                    query_params=tuple(query_params),
                    body_schema=body_schema,
                    body_schema_name=body_name,
                    body_required=body_required,
                    response_schema_name=response_name,
                    response_is_list=is_list,
                    retry=retry,
                    spends_money=spends,
                    rate_limit_group=group,
                    organization=cast(OrgRule, org_rule),
                    source=op.get("x-source"),
                    reconcile=reconcile,
                )
            )
    return operations


def _reconcile(where: str, value: Any, spends: bool) -> tuple[str, str, int | None] | None:
    """``x-reconcile: {by: tag | domains, field: <body property>, max-length: N}``: how a spend
    is found again on the server; required on every operation that spends money."""
    if value is None:
        if spends:
            raise SpecError(f"{where}: a spending operation needs x-reconcile")
        return None
    if not spends:
        raise SpecError(f"{where}: x-reconcile is only for spending operations")
    if not isinstance(value, dict) or value.get("by") not in ("tag", "domains"):
        raise SpecError(f"{where}: x-reconcile must be {{by: tag | domains, field: ...}}")
    field = value.get("field")
    if not isinstance(field, str) or not field:
        raise SpecError(f"{where}: x-reconcile needs the body field that carries the evidence")
    max_length = value.get("max-length")
    if max_length is not None and (type(max_length) is not int or max_length < 1):
        raise SpecError(f"{where}: x-reconcile max-length must be a positive integer")
    return (str(value["by"]), field, max_length)
