"""Request validation before anything is sent.

The transport calls :func:`prepare_path_params`, :func:`prepare_query` and :func:`prepare_body` for
every operation; each either returns the value to put on the wire or raises
:class:`~scaledmail_async.errors.RequestValidationError` naming the offending field as a path
(``"body.providers.outlook.domains[2].aliases"``, ``"provider"``, ``"order_id"``). Nothing is sent
for an invalid call.

Before the checks, a body becomes its wire form in **one walk that also checks it**: a mapping
by :func:`_plain` (enums to values, tuples to lists; NaN/Infinity, sets, bytes, datetimes,
Decimals, other objects, non-string keys and nesting past :data:`MAX_BODY_DEPTH`, which is how a
body that contains itself ends, are refused at their path), a model by its generated encoder
(:func:`_model_encoder`: cattrs' unstructure code plus a type test per attribute, so
``BuyDomainsRequest(domains="abc.com")`` is "body.domains: expected a list of strings, got str"
rather than a list of characters). :func:`encode_json` then serialises with ``allow_nan=False``
and names a string UTF-8 cannot encode (a lone surrogate). ``request(json=...)`` goes through
the same walk (:func:`check_json`).

Then two layers:

1. **The spec's JSON schemas** (``scaledmail_async._schemas``, generated from
   ``openapi/scaledmail.yaml``): every limit the spec can state lives there and only there: the
   10 names of search/buy, the 20-character tag, the 64-character alias without ``@`` or spaces,
   100 / 30 / 70 domains per provider, known provider keys, enums, ``volume > 0``, non-blank ids
   and domains, non-empty ``domains`` lists. They are compiled once, at import, into closures.
2. **Cross-field rules the schema cannot express** (:data:`_BODY_RULES`), each citing the page
   of the public API documentation it comes from (https://api.scaledmail.com: Create Order
   https://api.scaledmail.com/create-order-18334152e0, Create Custom Order
   https://api.scaledmail.com/create-custom-order-34245339e0, Submit Form
   https://api.scaledmail.com/submit-form-33397142e0, Update Domain Name
   https://api.scaledmail.com/update-domain-name-18547274e0, Calculate Package
   https://api.scaledmail.com/calculate-package-33809827e0), or the spec
   (``openapi/scaledmail.yaml``) where only users' client code shows the behaviour
   (``x-source: observed``).

Why a hand-written schema checker rather than ``jsonschema``: the SDK's runtime dependencies are
aiohttp, attrs and cattrs only; ``jsonschema`` would add ``referencing``, ``rpds-py`` and
``attrs``-version coupling for the few keywords the spec uses, and its error paths would still
need translating into ours. The subset implemented here is the one the spec uses (type with
``null`` unions, enum/const, required, properties, additionalProperties (schema or ``false``),
min/maxProperties, items, min/maxItems, uniqueItems, min/maxLength, pattern, minimum/maximum and
their exclusive forms, multipleOf, allOf/anyOf/oneOf/not, ``$ref``); annotations are ignored.
A test asserts the spec uses no assertion keyword outside it.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from types import UnionType
from typing import Any, Final, Union, get_args, get_origin

import attrs
import cattrs

from scaledmail_async._converter import MODEL_CLASSES, converter, structure, unstructure
from scaledmail_async._operation import Operation, QueryParam
from scaledmail_async._schemas import (
    COMPONENT_SCHEMAS,
    QUERY_PARAMETER_SCHEMAS,
    REQUEST_BODY_SCHEMAS,
)
from scaledmail_async._types import UNSET, Unset
from scaledmail_async._urls import LONE_SURROGATE
from scaledmail_async.errors import RequestValidationError
from scaledmail_async.models._wire_names import WIRE_NAMES

__all__ = [
    "MAX_BODY_DEPTH",
    "SchemaCompiler",
    "body_property_schema",
    "check_json",
    "encode_json",
    "prepare_body",
    "prepare_path_params",
    "prepare_query",
    "unsupported_keywords",
]

# --------------------------------------------------------------------------------------------
# The JSON-schema subset
# --------------------------------------------------------------------------------------------

Check = Callable[[Any], None]
"""A compiled schema: returns ``None`` for a valid value, raises :class:`_Invalid` otherwise."""


class _Invalid(Exception):
    """A schema or rule violation; ``segments`` collects the field path (innermost first)."""

    __slots__ = ("message", "segments")

    def __init__(self, message: str, *segments: str) -> None:
        super().__init__(message)
        self.message = message
        self.segments: list[str] = list(reversed(segments))

    def at(self, segment: str) -> _Invalid:
        """Add an outer path segment (``".key"`` or ``"[3]"``) and return self (for ``raise``)."""
        self.segments.append(segment)
        return self

    def path(self, root: str) -> str:
        return root + "".join(reversed(self.segments))


#: Keywords that only annotate: ignored by the checker.
_ANNOTATIONS: Final = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "example",
        "format",
        "readOnly",
        "writeOnly",
        "deprecated",
        "$comment",
        "discriminator",
        "xml",
        "externalDocs",
        "contentMediaType",
        "contentEncoding",
        "$schema",
        "$id",
    }
)
#: Keywords the checker implements.
_SUPPORTED: Final = frozenset(
    {
        "$ref",
        "type",
        "nullable",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
    }
)

_TYPE_NAMES: Final = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
    "array": "an array",
    "object": "an object",
}


#: Exact Python types that always match a JSON type (``float`` is not here: NaN/inf are not JSON).
_FAST_TYPES: Final[dict[str, type]] = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "null": type(None),
    "array": list,
    "object": dict,
}


_DESCRIPTIONS: dict[str, str] = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}


def _describe(value: Any) -> str:
    """A short, secret-free description of a value's JSON type for error messages."""
    if value is UNSET:
        return "UNSET"
    if isinstance(value, float):  # also the non-finite ones, which have no JSON type
        return "a number"
    kind = _json_type_of(value)
    return _DESCRIPTIONS[kind] if kind is not None else type(value).__name__


def _json_type_of(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number" if math.isfinite(value) else None
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def _accepts_type(types: frozenset[str], value: Any) -> bool:
    t = _json_type_of(value)
    if t is None:
        return False
    if t in types:
        return True
    if t == "integer" and "number" in types:
        return True
    # 2.0 is an integer in JSON Schema.
    return t == "number" and "integer" in types and float(value).is_integer()


def _accept(value: Any) -> None:
    return None


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _accept
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks

        def check_both(value: Any) -> None:
            first(value)
            second(value)

        return check_both
    frozen = tuple(checks)

    def check_all(value: Any) -> None:
        for c in frozen:
            c(value)

    return check_all


def _json_equal_key(value: Any) -> Any:
    """A hashable key with JSON equality (``1 == 1.0``, ``True != 1``) for uniqueItems/enum."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", float(value))
    if isinstance(value, list):
        return ("a", tuple(_json_equal_key(v) for v in value))
    if isinstance(value, dict):
        return ("o", frozenset((k, _json_equal_key(v)) for k, v in value.items()))
    return ("s", value) if isinstance(value, str) else ("z", repr(value))


def _fmt_number(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


class SchemaCompiler:
    """Compiles JSON schemas (the subset above) into checking closures.

    ``components`` maps component names to schemas, for ``{"$ref": "#/components/schemas/X"}``.
    References are compiled once each and may be recursive.
    """

    def __init__(self, components: Mapping[str, Any]) -> None:
        self._components = components
        self._refs: dict[str, Check] = {}

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow ``$ref`` links to the referenced schema (siblings of ``$ref`` are dropped)."""
        seen = 0
        while "$ref" in schema:
            schema = self._components[self._ref_name(schema["$ref"])]
            seen += 1
            if seen > 64:
                raise ValueError("$ref cycle")
        return schema

    @staticmethod
    def _ref_name(ref: str) -> str:
        prefix = "#/components/schemas/"
        if not ref.startswith(prefix):
            raise ValueError(f"unsupported $ref {ref!r}: only {prefix}<Name> is resolved")
        return ref[len(prefix) :]

    def _ref(self, ref: str) -> Check:
        name = self._ref_name(ref)
        found = self._refs.get(name)
        if found is not None:
            return found
        target: list[Check] = []

        def check_ref(value: Any) -> None:
            target[0](value)

        self._refs[name] = check_ref  # placeholder first: recursive schemas terminate
        target.append(self.compile(self._components[name]))
        self._refs[name] = target[0]
        return target[0]

    def compile(self, schema: Any) -> Check:
        """Compile one schema (a mapping, or a boolean schema) into a :data:`Check`."""
        if schema is True:
            return _accept
        if schema is False:

            def check_never(value: Any) -> None:
                raise _Invalid("no value is allowed here")

            return check_never
        if not isinstance(schema, Mapping):
            raise TypeError(f"a schema must be a mapping or a boolean, got {type(schema).__name__}")
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"]))
        types = self._types(schema)
        if types is not None:
            checks.append(self._type_check(types))
        if "enum" in schema:
            checks.append(self._enum_check(tuple(schema["enum"])))
        if "const" in schema:
            checks.append(self._enum_check((schema["const"],)))
        for build in (self._string_check, self._number_check, self._array_check):
            c = build(schema)
            if c is not None:
                checks.append(c)
        c = self._object_check(schema)
        if c is not None:
            checks.append(c)
        checks.extend(self._combinators(schema))
        return _all(checks)

    # -- keyword groups ------------------------------------------------------------------

    @staticmethod
    def _types(schema: Mapping[str, Any]) -> frozenset[str] | None:
        raw = schema.get("type")
        if raw is None:
            return None
        types = frozenset([raw] if isinstance(raw, str) else raw)
        unknown = types - _TYPE_NAMES.keys()
        if unknown:
            raise ValueError(f"unknown JSON-schema type(s) {sorted(unknown)}")
        if schema.get("nullable") is True:
            types |= {"null"}
        return types

    @staticmethod
    def _type_check(types: frozenset[str]) -> Check:
        ordered = sorted(types, key=lambda t: (t == "null", list(_TYPE_NAMES).index(t)))
        wanted = " or ".join(_TYPE_NAMES[t] for t in ordered)
        # Fast path: the value's exact Python type says it matches (the common case); anything
        # else goes through the full JSON-type rules (bool vs int, 2.0 as integer, NaN...).
        fast = frozenset(_FAST_TYPES[t] for t in types if t in _FAST_TYPES)
        if "number" in types:
            fast |= {int}

        def check_type(value: Any) -> None:
            if type(value) in fast:
                return
            if not _accepts_type(types, value):
                raise _Invalid(f"must be {wanted}, got {_describe(value)}")

        return check_type

    @staticmethod
    def _enum_check(allowed: tuple[Any, ...]) -> Check:
        keys = frozenset(_json_equal_key(v) for v in allowed)
        shown = ", ".join(repr(v) for v in allowed)

        def check_enum(value: Any) -> None:
            if _json_equal_key(value) not in keys:
                got = repr(value) if isinstance(value, (str, int, float)) else _describe(value)
                raise _Invalid(f"must be one of {shown}; got {got}")

        return check_enum

    @staticmethod
    def _string_check(schema: Mapping[str, Any]) -> Check | None:
        min_len: int | None = schema.get("minLength")
        max_len: int | None = schema.get("maxLength")
        raw_pattern: str | None = schema.get("pattern")
        if min_len is None and max_len is None and raw_pattern is None:
            return None
        pattern = re.compile(raw_pattern) if raw_pattern is not None else None
        about = schema.get("description")
        hint = f" ({about.strip().rstrip('.')})" if isinstance(about, str) and about.strip() else ""

        def check_string(value: Any) -> None:
            if not isinstance(value, str):
                return
            n = len(value)
            if min_len is not None and n < min_len:
                if min_len == 1:
                    raise _Invalid("must not be empty")
                raise _Invalid(f"must be at least {min_len} characters long, got {n}")
            if max_len is not None and n > max_len:
                raise _Invalid(f"must be at most {max_len} characters long, got {n}")
            if pattern is not None and pattern.search(value) is None:
                if raw_pattern == r"\S":
                    raise _Invalid("must not be blank")
                raise _Invalid(f"must match the pattern {raw_pattern!r}{hint}; got {value!r}")

        return check_string

    @staticmethod
    def _number_check(schema: Mapping[str, Any]) -> Check | None:
        minimum: float | None = schema.get("minimum")
        maximum: float | None = schema.get("maximum")
        ex_min: Any = schema.get("exclusiveMinimum")
        ex_max: Any = schema.get("exclusiveMaximum")
        multiple: float | None = schema.get("multipleOf")
        # OpenAPI 3.0 style: exclusiveMinimum: true modifies minimum.
        if ex_min is True:
            ex_min, minimum = minimum, None
        elif ex_min is False:
            ex_min = None
        if ex_max is True:
            ex_max, maximum = maximum, None
        elif ex_max is False:
            ex_max = None
        if all(v is None for v in (minimum, maximum, ex_min, ex_max, multiple)):
            return None

        def check_number(value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return
            if minimum is not None and value < minimum:
                raise _Invalid(f"must be >= {_fmt_number(minimum)}, got {_fmt_number(value)}")
            if ex_min is not None and value <= ex_min:
                raise _Invalid(f"must be > {_fmt_number(ex_min)}, got {_fmt_number(value)}")
            if maximum is not None and value > maximum:
                raise _Invalid(f"must be <= {_fmt_number(maximum)}, got {_fmt_number(value)}")
            if ex_max is not None and value >= ex_max:
                raise _Invalid(f"must be < {_fmt_number(ex_max)}, got {_fmt_number(value)}")
            if multiple is not None:
                q = value / multiple
                if not math.isclose(q, round(q), rel_tol=0.0, abs_tol=1e-9):
                    raise _Invalid(f"must be a multiple of {_fmt_number(multiple)}")

        return check_number

    def _array_check(self, schema: Mapping[str, Any]) -> Check | None:
        min_items: int | None = schema.get("minItems")
        max_items: int | None = schema.get("maxItems")
        unique = schema.get("uniqueItems") is True
        items_schema = schema.get("items")
        item_check = (
            self.compile(items_schema)
            if items_schema is not None and items_schema != {} and items_schema is not True
            else None
        )
        if min_items is None and max_items is None and not unique and item_check is None:
            return None

        def check_array(value: Any) -> None:
            if not isinstance(value, list):
                return
            n = len(value)
            if min_items is not None and n < min_items:
                if min_items == 1:
                    raise _Invalid("must not be empty")
                raise _Invalid(f"must have at least {min_items} items, got {n}")
            if max_items is not None and n > max_items:
                raise _Invalid(f"must have at most {max_items} items, got {n}")
            if item_check is not None:
                for i, item in enumerate(value):
                    try:
                        item_check(item)
                    except _Invalid as e:
                        raise e.at(f"[{i}]") from None
            if unique:
                seen: set[Any] = set()
                for i, item in enumerate(value):
                    key = _json_equal_key(item)
                    if key in seen:
                        raise _Invalid(f"duplicate item {item!r}").at(f"[{i}]")
                    seen.add(key)

        return check_array

    def _object_check(self, schema: Mapping[str, Any]) -> Check | None:
        required: tuple[str, ...] = tuple(schema.get("required", ()))
        props: dict[str, Check] = {
            name: self.compile(sub) for name, sub in (schema.get("properties") or {}).items()
        }
        extra = schema.get("additionalProperties", True)
        closed = extra is False
        extra_check = self.compile(extra) if isinstance(extra, Mapping) and extra != {} else None
        min_props: int | None = schema.get("minProperties")
        max_props: int | None = schema.get("maxProperties")
        if (
            not required
            and not props
            and not closed
            and extra_check is None
            and min_props is None
            and max_props is None
        ):
            return None
        prop_items = tuple(props.items())
        known = ", ".join(props)

        def check_object(value: Any) -> None:
            if not isinstance(value, dict):
                return
            for name in required:
                if name not in value:
                    raise _Invalid("is required").at(f".{name}")
            for name, check in prop_items:
                if name in value:
                    try:
                        check(value[name])
                    except _Invalid as e:
                        raise e.at(f".{name}") from None
            if closed or extra_check is not None:
                for key, item in value.items():
                    if key in props:
                        continue
                    if closed:
                        raise _Invalid(f"unknown key {key!r} (allowed: {known})").at(f".{key}")
                    if extra_check is not None:
                        try:
                            extra_check(item)
                        except _Invalid as e:
                            raise e.at(f".{key}") from None
            n = len(value)
            if min_props is not None and n < min_props:
                raise _Invalid(f"must have at least {min_props} key(s)")
            if max_props is not None and n > max_props:
                raise _Invalid(f"must have at most {max_props} key(s)")

        return check_object

    def _combinators(self, schema: Mapping[str, Any]) -> list[Check]:
        out: list[Check] = []
        for sub in schema.get("allOf", ()):
            out.append(self.compile(sub))
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                out.append(self._branches(keyword, list(schema[keyword])))
        if "not" in schema:
            negated = self.compile(schema["not"])

            def check_not(value: Any) -> None:
                try:
                    negated(value)
                except _Invalid:
                    return
                raise _Invalid("matches a shape that is not allowed")

            out.append(check_not)
        return out

    def _branches(self, keyword: str, subs: list[Any]) -> Check:
        compiled = [(self.compile(s), self._branch_types(s)) for s in subs]
        exactly_one = keyword == "oneOf"

        def check_branches(value: Any) -> None:
            matched = 0
            best: _Invalid | None = None
            for check, types in compiled:
                try:
                    check(value)
                except _Invalid as e:
                    # Report the error of the branch whose type fits the value (the useful one
                    # for a nullable $ref: the object's own error, not "must be null").
                    if best is None and (types is None or _accepts_type(types, value)):
                        best = e
                    continue
                matched += 1
                if not exactly_one:
                    return
            if matched == 1 or (matched and not exactly_one):
                return
            if matched > 1:
                raise _Invalid("matches more than one of the allowed shapes")
            if best is not None:
                raise best
            raise _Invalid(f"{_describe(value)} does not match any of the allowed shapes")

        return check_branches

    def _branch_types(self, schema: Any) -> frozenset[str] | None:
        if not isinstance(schema, Mapping):
            return None
        try:
            return self._types(self.resolve(schema)) or self._types(schema)
        except (KeyError, ValueError):
            return None


def unsupported_keywords(schemas: Iterable[Any]) -> set[str]:
    """Keywords used in ``schemas`` (recursively) that the checker neither checks nor ignores.

    Vendor extensions (``x-*``) are ignored. Used by a test that keeps the spec inside the subset.
    """
    found: set[str] = set()

    def walk(s: Any) -> None:
        if isinstance(s, list):
            for x in s:
                walk(x)
            return
        if not isinstance(s, Mapping):
            return
        for key, sub in s.items():
            if key.startswith("x-") or key in _ANNOTATIONS:
                continue
            if key not in _SUPPORTED:
                found.add(key)
            if key == "properties":
                for p in sub.values():
                    walk(p)
            elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
                walk(sub)

    for schema in schemas:
        walk(schema)
    return found


# --------------------------------------------------------------------------------------------
# Compiled at import
# --------------------------------------------------------------------------------------------

_COMPILER: Final = SchemaCompiler(COMPONENT_SCHEMAS)
_BODY_CHECKS: Final[dict[str, Check]] = {
    op_id: _COMPILER.compile(schema) for op_id, schema in REQUEST_BODY_SCHEMAS.items()
}
_QUERY_CHECKS: Final[dict[str, dict[str, Check]]] = {
    op_id: {name: _COMPILER.compile(schema) for name, schema in params.items()}
    for op_id, params in QUERY_PARAMETER_SCHEMAS.items()
}


def body_property_schema(operation_id: str, name: str) -> Mapping[str, Any]:
    """The spec's schema of request-body property ``name`` of an operation (``$ref`` resolved).

    Lets other modules read a limit from the spec (e.g. ``maxItems`` of ``search_domains``'
    ``domains``) instead of repeating it. Raises ``KeyError`` when the spec has no such property.
    """
    body = _COMPILER.resolve(REQUEST_BODY_SCHEMAS[operation_id])
    return _COMPILER.resolve(body["properties"][name])


# --------------------------------------------------------------------------------------------
# Path and query parameters
# --------------------------------------------------------------------------------------------


def _fail(message: str, field: str, op: Operation) -> RequestValidationError:
    return RequestValidationError(message, field=field, operation=op.operation_id)


def _enum_value(value: Any) -> Any:
    """StrEnum / Enum members become their value; anything else is returned unchanged."""
    return value.value if isinstance(value, enum.Enum) and value is not UNSET else value


def prepare_path_params(op: Operation, path_params: Mapping[str, Any]) -> dict[str, str]:
    """Check the path parameters: each declared one present, a string, not blank.

    Ids are opaque (the docs' ``rec...`` examples have 13 to 17 characters, e.g. on
    https://api.scaledmail.com/get-order-details-23663823e0), so only blankness is checked.
    Returns the values as strings (StrEnum members as their value); URL-quoting is the
    transport's job.
    """
    out: dict[str, str] = {}
    for name in op.path_params:
        value = _enum_value(path_params.get(name, UNSET))
        if value is UNSET or value is None:
            raise _fail("is required", name, op)
        if not isinstance(value, str):
            raise _fail(f"must be a string, got {_describe(value)}", name, op)
        if not value.strip():
            raise _fail("must not be blank", name, op)
        out[name] = value
    return out


@attrs.frozen
class _ParamPlan:
    param: QueryParam
    check: Check


def _query_plan(op: Operation) -> tuple[_ParamPlan, ...]:
    checks = _QUERY_CHECKS.get(op.operation_id, {})
    return tuple(_ParamPlan(p, checks.get(p.name, _accept)) for p in op.query_params)


_QUERY_PLANS: dict[str, tuple[tuple[QueryParam, ...], tuple[_ParamPlan, ...]]] = {}


def _plan_for(op: Operation) -> tuple[_ParamPlan, ...]:
    cached = _QUERY_PLANS.get(op.operation_id)
    if cached is not None and cached[0] is op.query_params:
        return cached[1]
    plan = _query_plan(op)
    _QUERY_PLANS[op.operation_id] = (op.query_params, plan)
    return plan


def _encode_param(op: Operation, plan: _ParamPlan, raw: Any) -> str:
    p = plan.param
    value = _enum_value(raw)
    if p.type == "boolean":
        if not isinstance(value, bool):
            raise _fail(f"must be a boolean (True/False), got {_describe(value)}", p.name, op)
        encoded = "true" if value else "false"
    elif p.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(f"must be an integer, got {_describe(value)}", p.name, op)
        encoded = str(value)
    elif p.type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(f"must be a number, got {_describe(value)}", p.name, op)
        if not math.isfinite(value):
            raise _fail("must be a finite number", p.name, op)
        encoded = repr(value)
    else:
        if not isinstance(value, str):
            raise _fail(f"must be a string, got {_describe(value)}", p.name, op)
        if not value.strip():
            raise _fail("must not be blank", p.name, op)
        encoded = value
    if p.enum is not None and encoded not in p.enum:
        allowed = ", ".join(repr(v) for v in p.enum)
        raise _fail(f"must be one of {allowed}; got {encoded!r}", p.name, op)
    try:
        plan.check(value)
    except _Invalid as e:
        raise _fail(e.message, e.path(p.name), op) from None
    return encoded


def prepare_query(op: Operation, query: Mapping[str, Any]) -> dict[str, str]:
    """Check and encode the declared query parameters of ``op``.

    ``UNSET`` (and ``None``) values are dropped; a required parameter missing raises. Booleans are
    sent as ``"true"``/``"false"``, integers in decimal, StrEnum members as their value. Enum
    parameters (``provider``) are checked against the spec's values, and every value against the
    parameter's schema (``page >= 1``, ``limit <= 50``, non-empty strings). An undeclared name
    raises, except ``organization_id`` (injected by the client; checked non-blank and passed on).
    Returns the parameters in declaration order.
    """
    out: dict[str, str] = {}
    used = 0
    for plan in _plan_for(op):
        name = plan.param.name
        if name in query:
            used += 1
            value = query[name]
            if value is not UNSET and value is not None:
                out[name] = _encode_param(op, plan, value)
                continue
        if plan.param.required:
            raise _fail("is required", name, op)
    if used != len(query):
        declared = {p.name for p in op.query_params}
        for name, value in query.items():
            if name in declared:
                continue
            if name == "organization_id":
                org = _enum_value(value)
                if org is UNSET or org is None:
                    continue
                if not isinstance(org, str) or not org.strip():
                    raise _fail("must be a non-blank string", name, op)
                out[name] = org
                continue
            allowed = ", ".join(sorted(declared)) or "none"
            raise _fail(
                f"is not a query parameter of this operation (allowed: {allowed})", name, op
            )
    return out


# --------------------------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------------------------


#: How deep a request body may nest (objects and arrays). The API's bodies are a few levels deep;
#: the bound keeps every walk (this one, the schema's, ``json.dumps``) far from Python's recursion
#: limit, and stops a body that contains itself.
MAX_BODY_DEPTH: Final = 100

_NOT_FINITE: Final = "must be a finite number (NaN and Infinity are not valid JSON)"

#: What to do with a value of a type JSON does not have.
_NOT_JSON_HINTS: Final[tuple[tuple[type | tuple[type, ...], str], ...]] = (
    ((set, frozenset), "send a list instead"),
    ((bytes, bytearray, memoryview), "decode it to a str first"),
    ((datetime, date, time), "send an ISO 8601 string instead (value.isoformat())"),
    (Decimal, "send an int, a float or a str instead"),
)


class _TooDeep(_Invalid):
    """Nested past :data:`MAX_BODY_DEPTH`. Collects no path (it would be a hundred segments):
    :func:`_too_deep` says where, once, at the top."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(f"is nested more than {MAX_BODY_DEPTH} levels deep")

    def at(self, segment: str) -> _Invalid:
        return self


def _type_label(value: Any) -> str:
    """The Python type of a value, for the errors of model attributes (``got str``)."""
    return "UNSET" if value is UNSET else type(value).__name__


def _not_json(value: Any) -> _Invalid:
    hint = next((h for kinds, h in _NOT_JSON_HINTS if isinstance(value, kinds)), None)
    what = "a string, number, boolean, None, list or dict"
    return _Invalid(
        f"{_type_label(value)} is not a JSON value ({what}): {hint or 'convert it first'}"
    )


def _plain(value: Any, depth: int = 0) -> Any:
    """The user's value as plain JSON data, checked in the same walk: enums as their values,
    generated models through their checked encoder (:func:`_model_encoder`), ``UNSET`` mapping
    entries dropped, tuples as lists. Anything JSON cannot carry raises :class:`_Invalid` at its
    path: NaN/Infinity, sets, bytes, datetimes, Decimals, other objects, non-string keys, and
    nesting past :data:`MAX_BODY_DEPTH` (which is also how a value that contains itself ends).
    Values of the wrong JSON type are left for the schema to reject (``must be a string``)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise _Invalid(_NOT_FINITE)
    if isinstance(value, enum.Enum):
        if value is UNSET:
            raise _Invalid("is UNSET, which only means 'leave this key out' as a dict value")
        return _plain(value.value, depth)
    if isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise _Invalid(_NOT_FINITE)
    if depth >= MAX_BODY_DEPTH:
        raise _TooDeep()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if type(k) is not str and not isinstance(k, str):
                raise _Invalid(f"keys must be strings, got {_describe(k)}")
            if v is UNSET:
                continue
            try:
                out[k] = _plain(v, depth + 1)
            except _Invalid as e:
                raise e.at(f".{k}") from None
        return out
    if isinstance(value, (list, tuple)):
        items: list[Any] = []
        try:
            for v in value:
                items.append(_plain(v, depth + 1))
        except _Invalid as e:
            raise e.at(f"[{len(items)}]") from None
        return items
    if kind in _GENERATED_MODELS:
        return _model_encoder(kind)(value, depth)
    if attrs.has(kind):  # an attrs class of the application's: cattrs' generic form, checked
        try:
            data = unstructure(value)
        except Exception as exc:
            raise _Invalid(f"{kind.__name__} cannot be turned into JSON: {exc}") from None
        return _plain(data, depth)
    raise _not_json(value)


# -- models: checked while they are turned into their wire form -------------------------------
#
# A model's attributes are not checked when it is built (attrs models without validators), and
# cattrs' unstructure hooks trust them: ``list[str]`` iterates whatever it is given (a str
# becomes its characters, a dict its keys, a set an arbitrary order) and a model slot reads the
# attributes of whatever object is there. So a request model is turned into its wire form by the
# encoders below instead: one walk, by the attributes' declared types, that produces exactly what
# ``unstructure`` produces for a well-typed model and raises ``_Invalid`` at the attribute's wire
# path for anything else ("body.domains: expected a list of strings, got str").

_Encode = Callable[[Any, int], Any]
"""An encoder: ``(value, depth) -> wire value``; raises :class:`_Invalid` for a wrong type."""

_GENERATED_MODELS: Final = frozenset(MODEL_CLASSES.values())
_NONE_TYPE: Final = type(None)
_MODEL_ENCODERS: dict[type, _Encode] = {}


def _enc_str(value: Any, depth: int) -> Any:
    if type(value) is str or isinstance(value, str):
        return value
    raise _Invalid(f"expected a string, got {_type_label(value)}")


def _enc_int(value: Any, depth: int) -> Any:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise _Invalid("expected an integer, got bool")
    if isinstance(value, int) or (type(value) is float and value.is_integer()):
        return value  # 2.0 is an integer in JSON (the schema's rule too)
    raise _Invalid(f"expected an integer, got {_type_label(value)}")


def _enc_float(value: Any, depth: int) -> Any:
    if type(value) is float or isinstance(value, float):
        if math.isfinite(value):
            return value
        raise _Invalid(_NOT_FINITE)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Invalid(f"expected a number, got {_type_label(value)}")


def _enc_bool(value: Any, depth: int) -> Any:
    if type(value) is bool:
        return value
    raise _Invalid(f"expected a boolean (True/False), got {_type_label(value)}")


_DATETIME_HOOK: Final = converter.get_unstructure_hook(datetime)
_DATE_HOOK: Final = converter.get_unstructure_hook(date)


def _enc_datetime(value: Any, depth: int) -> Any:
    if isinstance(value, datetime):
        return _DATETIME_HOOK(value)
    raise _Invalid(f"expected a datetime.datetime, got {_type_label(value)}")


def _enc_date(value: Any, depth: int) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return _DATE_HOOK(value)
    raise _Invalid(f"expected a datetime.date, got {_type_label(value)}")


_SCALAR_ENCODERS: Final[dict[Any, tuple[_Encode, str, str]]] = {
    # type: (encoder, "a ...", "...s")
    str: (_enc_str, "a string", "strings"),
    int: (_enc_int, "an integer", "integers"),
    float: (_enc_float, "a number", "numbers"),
    bool: (_enc_bool, "a boolean", "booleans"),
    datetime: (_enc_datetime, "a datetime.datetime", "datetime.datetime objects"),
    date: (_enc_date, "a datetime.date", "datetime.date objects"),
    Any: (_plain, "a JSON value", "JSON values"),
}


def _open_enum_encoder(enum_cls: type[enum.Enum]) -> _Encode:
    """``TheEnum | str``: a member as its value (as cattrs writes it), any other string as is."""
    name = enum_cls.__name__

    def enc_open_enum(value: Any, depth: int) -> Any:
        if type(value) is str:
            return value
        if isinstance(value, enum.Enum):
            if isinstance(value.value, str):
                return value.value
        elif isinstance(value, str):
            return value
        raise _Invalid(f"expected a {name} or a string, got {_type_label(value)}")

    return enc_open_enum


def _type_encoder(tp: Any) -> tuple[_Encode, str, str]:
    """The encoder of declared type ``tp``, with its description (singular, plural)."""
    args = get_args(tp) if get_origin(tp) in (Union, UnionType) else None
    if args is not None:
        rest = tuple(a for a in args if a is not _NONE_TYPE and a != Unset)
        if len(rest) == 2 and rest[1] is str and isinstance(rest[0], type):
            if issubclass(rest[0], enum.Enum):
                name = rest[0].__name__
                inner = (_open_enum_encoder(rest[0]), f"a {name} or a string", f"{name} values")
            else:
                raise TypeError(f"no request encoder for {tp!r}")
        elif len(rest) == 1:
            inner = _type_encoder(rest[0])
        else:
            raise TypeError(f"no request encoder for {tp!r}")
        if _NONE_TYPE not in args:
            return inner  # UNSET is the model encoder's business (an attribute left out)
        enc_inner, one, many = inner

        def enc_nullable(value: Any, depth: int) -> Any:
            return None if value is None else enc_inner(value, depth)

        return enc_nullable, f"{one} or None", f"{many} or None"
    scalar = _SCALAR_ENCODERS.get(tp)
    if scalar is not None:
        return scalar
    if tp in _GENERATED_MODELS:
        return _model_slot_encoder(tp), f"a {tp.__name__}", f"{tp.__name__} objects"
    origin = get_origin(tp)
    if origin is list:
        (item,) = get_args(tp)
        enc_item, _, items = _type_encoder(item)
        return _list_encoder(enc_item, f"a list of {items}"), f"a list of {items}", "lists"
    if origin is dict:
        key, item = get_args(tp)
        if key is not str:
            raise TypeError(f"no request encoder for {tp!r}")
        enc_item, _, items = _type_encoder(item)
        what = f"a dict of {items}"
        return _dict_encoder(enc_item, what), what, "dicts"
    raise TypeError(f"no request encoder for {tp!r}")


def _model_slot_encoder(cls: type[Any]) -> _Encode:
    """A slot declared as model ``cls``: an instance of it, not a dict or another model."""
    encode = _model_encoder(cls)
    name = cls.__name__

    def enc_model_slot(value: Any, depth: int) -> Any:
        if isinstance(value, cls):
            return encode(value, depth)
        raise _Invalid(f"expected a {name}, got {_type_label(value)}")

    return enc_model_slot


def _list_encoder(enc_item: _Encode, what: str) -> _Encode:
    if enc_item is _enc_str:

        def enc_str_list(value: Any, depth: int) -> Any:
            if type(value) is not list and not isinstance(value, (list, tuple)):
                raise _Invalid(f"expected {what}, got {_type_label(value)}")
            for i, item in enumerate(value):
                if type(item) is not str and not isinstance(item, str):
                    raise _Invalid(f"expected a string, got {_type_label(item)}").at(f"[{i}]")
            return list(value)

        return enc_str_list

    def enc_list(value: Any, depth: int) -> Any:
        if type(value) is not list and not isinstance(value, (list, tuple)):
            raise _Invalid(f"expected {what}, got {_type_label(value)}")
        if depth >= MAX_BODY_DEPTH:
            raise _TooDeep()
        depth += 1
        out: list[Any] = []
        try:
            for item in value:
                out.append(enc_item(item, depth))
        except _Invalid as e:
            raise e.at(f"[{len(out)}]") from None
        return out

    return enc_list


def _dict_encoder(enc_item: _Encode, what: str) -> _Encode:
    def enc_dict(value: Any, depth: int) -> Any:
        if not isinstance(value, Mapping):
            raise _Invalid(f"expected {what}, got {_type_label(value)}")
        if depth >= MAX_BODY_DEPTH:
            raise _TooDeep()
        depth += 1
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Invalid(f"keys must be strings, got {_type_label(key)}")
            try:
                out[key] = enc_item(item, depth)
            except _Invalid as e:
                raise e.at(f".{key}") from None
        return out

    return enc_dict


def _model_encoder(cls: type[Any]) -> _Encode:
    """The checked encoder of generated model ``cls`` (built once per class, then cached)."""
    found = _MODEL_ENCODERS.get(cls)
    if found is not None:
        return found
    built: list[_Encode] = []

    def enc_later(value: Any, depth: int) -> Any:  # a model that (indirectly) contains itself
        return built[0](value, depth)

    _MODEL_ENCODERS[cls] = enc_later
    built.append(_build_model_encoder(cls))
    _MODEL_ENCODERS[cls] = built[0]
    return built[0]


#: Field types whose well-typed values the generated code recognises by ``type(v) is T`` alone
#: (anything else goes through the type's full encoder, which accepts or raises).
_EXACT_CHECKS: Final[dict[Any, str]] = {str: "str", int: "int", bool: "bool"}


def _build_model_encoder(cls: type[Any]) -> _Encode:
    """Generate the encoder of model ``cls``: the code cattrs' ``unstructure`` runs (wire names,
    ``UNSET`` attributes left out, extra keys merged under the declared ones), plus a type test
    per attribute (``type(v) is str``) whose failure calls the type's full encoder, which accepts
    a value of another fitting type (a str subclass, a tuple for a list, an int for a float) or
    raises at the attribute's path. About as fast as cattrs' own generated function."""
    attrs.resolve_types(cls)
    name = cls.__name__
    wire = WIRE_NAMES.get(name, {})
    fields = [f for f in attrs.fields(cls) if f.name != "additional_properties"]
    has_extra = len(fields) < len(attrs.fields(cls))
    ns: dict[str, Any] = {
        "_Invalid": _Invalid,
        "_TooDeep": _TooDeep,
        "_UNSET": UNSET,
        "_MAX": MAX_BODY_DEPTH,
        "_merge_extra": _merge_extra,
        "_name": name,
    }
    lines = [
        "def encode(o, d):",
        "    if d >= _MAX:",
        "        raise _TooDeep()",
        "    d += 1",
        "    res = {}",
    ]
    for i, field in enumerate(fields):
        key = wire.get(field.name, field.name)
        tp = field.type
        args = get_args(tp) if get_origin(tp) in (Union, UnionType) else None
        rest = tuple(a for a in args if a is not _NONE_TYPE and a != Unset) if args else (tp,)
        # cattrs' omit_if_default leaves out an attribute equal to its default; UNSET is the only
        # default the generated models have.
        optional = field.default is UNSET
        ns[f"_e{i}"] = _type_encoder(tp)[0]
        plain_slot = len(rest) == 1 and (args is None or _NONE_TYPE not in args)
        exact = _EXACT_CHECKS.get(rest[0]) if plain_slot else None
        segment = "." + key
        convert = [
            "try:",
            f"    v = _e{i}(v, d)",
            "except _Invalid as e:",
            f"    raise e.at({segment!r}) from None",
        ]
        if exact is not None:
            convert = [f"if type(v) is not {exact}:", *("    " + line for line in convert)]
        store = [*convert, f"res[{key!r}] = v"]
        lines.append(f"    v = o.{field.name}")
        if optional:
            lines.append("    if v is not _UNSET:")
            lines += ["        " + line for line in store]
        else:
            lines += ["    " + line for line in store]
    if has_extra:
        lines += [
            "    extra = o.additional_properties",
            "    if extra:",
            "        res = _merge_extra(extra, res, d - 1, _name)",
        ]
    lines.append("    return res")
    source = "\n".join(lines)
    exec(compile(source, f"<scaledmail_async._validation encoder of {name}>", "exec"), ns)
    encode: _Encode = ns["encode"]
    return encode


def _merge_extra(extra: Any, declared: dict[str, Any], depth: int, model: str) -> dict[str, Any]:
    """A model's wire form with its ``additional_properties`` (checked as JSON) merged in; the
    declared attributes win over a same-named extra key (as on unstructure)."""
    if not isinstance(extra, Mapping):
        raise _Invalid(
            f"{model}.additional_properties must be a dict of extra keys, got {_type_label(extra)}"
        )
    return {**_plain(extra, depth), **declared}


def _too_deep(root: Any) -> _Invalid:
    """The error of a body nested past :data:`MAX_BODY_DEPTH`: where it contains itself, if it
    does (found only now, on the error path), else that it is too deep."""
    segments = _cycle_path(root, set(), set(), 0)
    if segments is not None:
        return _Invalid(
            "refers back to a dict or list that contains it (a reference cycle), which JSON "
            "cannot represent: build the body as a tree of new dicts and lists",
            *segments,
        )
    return _Invalid(
        f"is nested more than {MAX_BODY_DEPTH} levels deep; the API's request bodies are a few "
        "levels deep"
    )


def _children(value: Any) -> list[tuple[str, Any]] | None:
    if isinstance(value, Mapping):
        return [(f".{k}", v) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [(f"[{i}]", v) for i, v in enumerate(value)]
    if attrs.has(type(value)):
        wire = WIRE_NAMES.get(type(value).__name__, {})
        out = []
        for f in attrs.fields(type(value)):
            v = getattr(value, f.name, None)
            if f.name == "additional_properties" and isinstance(v, Mapping):
                out += [(f".{k}", x) for k, x in v.items()]
            else:
                out.append((f".{wire.get(f.name, f.name)}", v))
        return out
    return None


def _cycle_path(value: Any, open_ids: set[int], done: set[int], depth: int) -> list[str] | None:
    """The path (outermost first) to a container that contains itself, or ``None``. A
    depth-first walk that never re-enters a finished container (linear in the body's size)."""
    children = _children(value)
    if children is None or id(value) in done or depth > MAX_BODY_DEPTH + 1:
        return None
    if id(value) in open_ids:
        return []
    open_ids.add(id(value))
    for segment, child in children:
        found = _cycle_path(child, open_ids, done, depth + 1)
        if found is not None:
            return [segment, *found]
    open_ids.discard(id(value))
    done.add(id(value))
    return None


def _unencodable_path(value: Any) -> list[str] | None:
    """The path (outermost first) to a string or key UTF-8 cannot encode (a lone surrogate)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return []
        return None
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str) and _unencodable_path(k) is not None:
                return [f"[{k!a}]"]
            found = _unencodable_path(v)
            if found is not None:
                return [f".{k}", *found]
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _unencodable_path(v)
            if found is not None:
                return [f"[{i}]", *found]
    return None


def check_json(value: Any, *, field: str, operation: str | None = None) -> Any:
    """``value`` as plain JSON data (:func:`_plain`'s walk), for ``request(json=...)``.

    Raises :class:`RequestValidationError` naming the path (``json.items[2]``) for anything JSON
    cannot carry, NaN/Infinity, nesting past :data:`MAX_BODY_DEPTH` and a value that contains
    itself.
    """
    try:
        return _plain(value)
    except _Invalid as e:
        if isinstance(e, _TooDeep):
            e = _too_deep(value)
        raise RequestValidationError(e.message, field=e.path(field), operation=operation) from None


def encode_json(value: Any, *, field: str, operation: str | None = None) -> bytes:
    """The compact UTF-8 JSON text of a checked body (``allow_nan=False``: never ``NaN``).

    A string UTF-8 cannot encode (a lone surrogate) raises :class:`RequestValidationError` at its
    path, found on this error path only; anything else ``json.dumps`` refuses (which the checks
    before should have caught) raises it for ``field`` as a whole.
    """
    try:
        return json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except UnicodeEncodeError:
        segments = _unencodable_path(value) or []
        path = field + "".join(segments)
        raise RequestValidationError(LONE_SURROGATE, field=path, operation=operation) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise RequestValidationError(
            f"cannot be encoded as JSON ({type(exc).__name__}: {exc})",
            field=field,
            operation=operation,
        ) from None


def _structure_error(exc: Exception) -> tuple[str, str]:
    """(message, field path) of a converter error, via cattrs' own path rendering."""
    if isinstance(exc, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        messages = cattrs.transform_error(exc, path="body")
        if messages:
            message, sep, path = messages[0].rpartition(" @ ")
            if sep:
                return message, path
            return messages[0], "body"
    return str(exc) or type(exc).__name__, "body"


# -- cross-field rules (the schema cannot express these) -------------------------------------

_Rule = Callable[[dict[str, Any], Mapping[str, Any]], None]

#: Aliases required per domain when the ``aliases`` format is used (the Create Custom Order page's
#: alias table; the Submit Form page: "the same alias rules apply"). Google's count follows
#: ``mailboxes_per_domain`` when given (observed live, undocumented; its 2-4 range is in the spec,
#: ``openapi/scaledmail.yaml`` ``GoogleDomains``).
_ALIASES_PER_DOMAIN: Final = {"google": 2, "outlook": 25, "smtp": 4}

#: Operations whose body needs ``hosting`` when the query's ``provider`` is ``other`` (the Update
#: Domain Name, Create Order, Create Custom Order and Submit Form pages).
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
    (the Create Custom Order page: "All domains under one provider must use the same format")."""
    if not isinstance(domains, list):
        return
    first: str | None = None
    first_index = 0
    for i, d in enumerate(domains):
        fmt = _domain_format(d)
        if fmt == "both":
            raise _Invalid(
                "gives both first_name/last_name and aliases: use one format per domain "
                "(and the same format for every domain of the provider)",
                f"{where}.domains[{i}]",
            )
        if fmt is None:
            continue
        if first is None:
            first, first_index = fmt, i
        elif fmt != first:
            raise _Invalid(
                f"uses the {fmt} format but domains[{first_index}] uses the {first} format: all "
                "domains of one provider must use the same format (first_name/last_name or "
                "aliases)",
                f"{where}.domains[{i}]",
            )


def _rule_providers(body: dict[str, Any], query: Mapping[str, Any]) -> None:
    """Alias counts per provider and the one-format rule (Create Custom Order, Submit Form)."""
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
                    raise _Invalid(f"{why}; got {n}", f"{where}.domains[{i}].aliases")


def _rule_create_order_shape(body: dict[str, Any], query: Mapping[str, Any]) -> None:
    """Create Order takes the v1 flat ``domains`` or the newer ``providers`` shape, exactly one
    (the Create Order page documents the flat v1 shape; the spec's ``CreateOrderRequest`` adds the
    ``providers`` shape seen in a 2026 live client); flat domains follow the one-format rule too."""
    has_domains = "domains" in body
    has_providers = "providers" in body
    if has_domains and has_providers:
        raise _Invalid(
            "give either domains (v1 shape) or providers (newer shape), not both", ".providers"
        )
    if not has_domains and not has_providers:
        raise _Invalid("is required (or give providers, the newer shape)", ".domains")
    _check_domain_formats(body.get("domains"), "")


def _rule_hosting(body: dict[str, Any], query: Mapping[str, Any]) -> None:
    """``hosting`` (the registrar login) is required when ``provider`` is ``other``
    (the Update Domain Name, Create Order, Create Custom Order and Submit Form pages)."""
    provider = _enum_value(query.get("provider"))
    if isinstance(provider, str) and provider.strip().lower() == "other":
        if body.get("hosting") is None:
            raise _Invalid(
                "is required when provider is 'other' (the registrar login: provider, "
                "username, password)",
                ".hosting",
            )


def _rule_distribution(body: dict[str, Any], query: Mapping[str, Any]) -> None:
    """Calculate Package: ``distribution`` is needed with more than one provider, names only
    listed providers, and adds up to 100 (the Calculate Package page)."""
    providers = body.get("providers")
    if not isinstance(providers, list):
        return
    distribution = body.get("distribution")
    if distribution is None:
        if len(set(map(str, providers))) > 1:
            raise _Invalid(
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
            raise _Invalid(
                f"names {key!r}, which is not in providers {providers!r}", f".distribution.{key}"
            )
        if isinstance(share, (int, float)) and not isinstance(share, bool):
            total += share
    if not math.isclose(total, 100.0, abs_tol=1e-9):
        raise _Invalid(f"must add up to 100, got {_fmt_number(total)}", ".distribution")


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


_RULES: Final[dict[str, tuple[_Rule, ...]]] = {
    op_id: _rules_for(op_id) for op_id in (*REQUEST_BODY_SCHEMAS, *_BODY_RULES)
}

_EMPTY: Final[Mapping[str, Any]] = {}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", repr(tp))


def prepare_body(op: Operation, body: Any, query: Mapping[str, Any] | None = None) -> Any:
    """Check a request body and return the JSON value to send, or ``UNSET`` for no body.

    ``body`` is an instance of ``op.request_type`` (an attrs model) or a mapping with the wire
    keys. A mapping is checked against the spec's schema as given (so ``{"domains": [1]}`` fails
    rather than being coerced to ``"1"``), then structured into the model through the converter
    and unstructured again; a model is unstructured and its wire form checked. Then the
    cross-field rules run. ``query`` is the call's raw query mapping, needed by the rules that
    depend on ``provider`` (``hosting`` with ``provider='other'``).

    Raises :class:`RequestValidationError` with ``field`` naming the path (``"body"`` for the
    body as a whole: a list, a string, a model of the wrong class, a missing required body, or a
    body given to an operation that takes none).
    """
    request_type = op.request_type
    if request_type is None:
        if body is UNSET or body is None:
            return UNSET
        raise _fail("this operation takes no request body", "body", op)
    if body is UNSET or body is None:
        if op.body_required:
            raise _fail(f"is required (a {_type_name(request_type)} or a mapping)", "body", op)
        return UNSET
    check = _BODY_CHECKS.get(op.operation_id, _accept)
    try:
        if isinstance(body, request_type):
            # Checked by the attributes' declared types in the walk that builds the wire form.
            try:
                wire = _model_encoder(request_type)(body, 0)
            except _Invalid:
                raise
            except Exception as exc:  # e.g. a property of a subclass that raises
                raise _fail(f"cannot be encoded: {type(exc).__name__}: {exc}", "body", op) from exc
            check(wire)
        elif isinstance(body, Mapping):
            plain = _plain(body)
            check(plain)
            try:
                model = structure(plain, request_type)
            except Exception as exc:
                message, field = _structure_error(exc)
                raise _fail(message, field, op) from exc
            wire = unstructure(model)
        else:
            raise _fail(
                f"must be a {_type_name(request_type)} or a mapping, got {type(body).__name__}",
                "body",
                op,
            )
        if isinstance(wire, dict):
            q = query if query is not None else _EMPTY
            for rule in _RULES.get(op.operation_id, ()):
                rule(wire, q)
    except _Invalid as e:
        if isinstance(e, _TooDeep):
            e = _too_deep(body)
        raise _fail(e.message, e.path("body"), op) from None
    return wire
