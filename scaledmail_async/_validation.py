"""Request validation before anything is sent.

The transport calls :func:`prepare_path_params`, :func:`prepare_query` and :func:`prepare_body` for
every operation; each either returns the value to put on the wire or raises
:class:`~scaledmail_async.errors.RequestValidationError` naming the offending field as a path
(``"body.providers.outlook.domains[2].aliases"``, ``"provider"``, ``"order_id"``). Nothing is sent
for an invalid call.

Two layers:

1. **The spec's JSON schemas** (``scaledmail_async._schemas``, generated from
   ``openapi/scaledmail.yaml``): every limit the spec can state lives there and only there: the
   10 names of search/buy, the 20-character tag, the 64-character alias without ``@`` or spaces,
   100 / 30 / 70 domains per provider, known provider keys, enums, ``volume > 0``, non-blank ids
   and domains, non-empty ``domains`` lists. They are compiled once, at import, into closures.
2. **Cross-field rules the schema cannot express** (:data:`_BODY_RULES`), each citing the
   documentation section (``/work/shared/scaledmail-api.md``) it comes from.

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
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs
import cattrs

from scaledmail_async._converter import structure, unstructure
from scaledmail_async._operation import Operation, QueryParam
from scaledmail_async._schemas import (
    COMPONENT_SCHEMAS,
    QUERY_PARAMETER_SCHEMAS,
    REQUEST_BODY_SCHEMAS,
)
from scaledmail_async._types import UNSET
from scaledmail_async.errors import RequestValidationError

__all__ = [
    "SchemaCompiler",
    "body_property_schema",
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

    Ids are opaque (``rec...`` lengths vary, docs §1.6), so only blankness is checked. Returns the
    values as strings (StrEnum members as their value); URL-quoting is the transport's job.
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


def _plain(value: Any) -> Any:
    """The user's body as plain JSON-ish data: enums as values, nested models unstructured,
    ``UNSET`` mapping entries dropped, tuples as lists. Other values are left for the schema to
    reject (``must be a string, got set``)."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, enum.Enum):
        return value if value is UNSET else value.value
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise _Invalid(f"keys must be strings, got {_describe(k)}")
            if v is UNSET:
                continue
            try:
                out[k] = _plain(v)
            except _Invalid as e:
                raise e.at(f".{k}") from None
        return out
    if isinstance(value, (list, tuple)):
        items: list[Any] = []
        for i, v in enumerate(value):
            try:
                items.append(_plain(v))
            except _Invalid as e:
                raise e.at(f"[{i}]") from None
        return items
    if attrs.has(type(value)):
        return unstructure(value)
    return value


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

#: Aliases required per domain when the ``aliases`` format is used (docs §3.18 DomainSpec,
#: §3.20 "the same alias rules apply"). Google's count follows ``mailboxes_per_domain`` when given
#: (observed live, §5; its 2-4 range is in the spec).
_ALIASES_PER_DOMAIN: Final = {"google": 2, "outlook": 25, "smtp": 4}

#: Operations whose body needs ``hosting`` when the query's ``provider`` is ``other`` (docs §3.10,
#: §3.17, §3.18, §3.20).
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
    (docs §3.18: "All domains under one provider must use the same format")."""
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
    """Alias counts per provider and the one-format rule (docs §3.18, §3.20)."""
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
    (docs §3.17 and §5); flat domains follow the one-format rule too."""
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
    (docs §3.10, §3.17, §3.18, §3.20)."""
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
    listed providers, and adds up to 100 (docs §3.13)."""
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
            try:
                wire = unstructure(body)
            except Exception as exc:
                raise _fail(f"cannot be encoded: {exc}", "body", op) from exc
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
        raise _fail(e.message, e.path("body"), op) from None
    return wire
