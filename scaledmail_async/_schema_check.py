"""A JSON-schema checker: validates plain JSON values against the spec's schemas.

:class:`SchemaCompiler` compiles a schema once into a :data:`Check`, a closure that returns
``None`` for a valid value and raises :class:`Invalid` otherwise, with the path to the offending
value (``.providers.outlook.domains[2].aliases``) and a message that names the limit. Nothing here
knows Scaledmail: the callers compile the spec's schemas
(``scaledmail_async._generated.schemas``) and turn
:class:`Invalid` into :class:`~scaledmail_async.errors.RequestValidationError`.

The subset implemented is the one the spec uses: type with ``null`` unions (and OpenAPI's
``nullable``), enum/const, required, properties, additionalProperties (schema or ``false``),
min/maxProperties, items, min/maxItems, uniqueItems, min/maxLength, pattern, minimum/maximum and
their exclusive forms (both the 3.0 boolean and the 3.1 number spelling), multipleOf,
allOf/anyOf/oneOf/not and ``$ref`` to ``#/components/schemas/<Name>``; annotations are ignored.
:func:`unsupported_keywords` lists what a schema uses beyond that; a test keeps the spec inside the
subset.

Why hand-written rather than ``jsonschema``: the SDK's runtime dependencies are aiohttp, attrs and
cattrs only; ``jsonschema`` would add ``referencing``, ``rpds-py`` and ``attrs``-version coupling
for the few keywords the spec uses, and its error paths would still need translating into ours.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from scaledmail_async._types import UNSET, Unlisted

__all__ = [
    "Check",
    "Invalid",
    "SchemaCompiler",
    "accept",
    "describe",
    "fmt_number",
    "unsupported_keywords",
]

Check = Callable[[Any], None]
"""A compiled schema: returns ``None`` for a valid value, raises :class:`Invalid` otherwise."""


class Invalid(Exception):
    """A schema or rule violation; ``segments`` collects the field path (innermost first)."""

    __slots__ = ("message", "segments")

    def __init__(self, message: str, *segments: str) -> None:
        super().__init__(message)
        self.message = message
        self.segments: list[str] = list(reversed(segments))

    def at(self, segment: str) -> Invalid:
        """Add an outer path segment (``".key"`` or ``"[3]"``) and return self (for ``raise``)."""
        self.segments.append(segment)
        return self

    def path(self, root: str) -> str:
        """The field path below ``root`` (``"body" + ".providers.google"``)."""
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


def describe(value: Any) -> str:
    """A short, secret-free description of a value's JSON type for error messages."""
    if value is UNSET:
        return "UNSET"
    if isinstance(value, float):  # also the non-finite ones, which have no JSON type
        return "a number"
    kind = _json_type_of(value)
    return _TYPE_NAMES[kind] if kind is not None else type(value).__name__


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


def accept(value: Any) -> None:
    """The check of the empty schema: every value is valid."""
    return None


def _all(checks: list[Check]) -> Check:
    if not checks:
        return accept
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


def fmt_number(n: float) -> str:
    """A number as the messages show it (``100``, not ``100.0``)."""
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
            return accept
        if schema is False:

            def check_never(value: Any) -> None:
                raise Invalid("no value is allowed here")

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
                raise Invalid(f"must be {wanted}, got {describe(value)}")

        return check_type

    @staticmethod
    def _enum_check(allowed: tuple[Any, ...]) -> Check:
        keys = frozenset(_json_equal_key(v) for v in allowed)
        shown = ", ".join(repr(v) for v in allowed)

        def check_enum(value: Any) -> None:
            if _json_equal_key(value) not in keys:
                if isinstance(value, Unlisted):
                    return  # the caller's explicit "a value the spec does not list yet"
                got = repr(value) if isinstance(value, (str, int, float)) else describe(value)
                hint = (
                    f" (to send a value the spec does not list yet: Unlisted({value!r}))"
                    if isinstance(value, str)
                    else ""
                )
                raise Invalid(f"must be one of {shown}; got {got}{hint}")

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
                    raise Invalid("must not be empty")
                raise Invalid(f"must be at least {min_len} characters long, got {n}")
            if max_len is not None and n > max_len:
                raise Invalid(f"must be at most {max_len} characters long, got {n}")
            if pattern is not None and pattern.search(value) is None:
                if raw_pattern == r"\S":
                    raise Invalid("must not be blank")
                raise Invalid(f"must match the pattern {raw_pattern!r}{hint}; got {value!r}")

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
                raise Invalid(f"must be >= {fmt_number(minimum)}, got {fmt_number(value)}")
            if ex_min is not None and value <= ex_min:
                raise Invalid(f"must be > {fmt_number(ex_min)}, got {fmt_number(value)}")
            if maximum is not None and value > maximum:
                raise Invalid(f"must be <= {fmt_number(maximum)}, got {fmt_number(value)}")
            if ex_max is not None and value >= ex_max:
                raise Invalid(f"must be < {fmt_number(ex_max)}, got {fmt_number(value)}")
            if multiple is not None:
                q = value / multiple
                if not math.isclose(q, round(q), rel_tol=0.0, abs_tol=1e-9):
                    raise Invalid(f"must be a multiple of {fmt_number(multiple)}")

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
                    raise Invalid("must not be empty")
                raise Invalid(f"must have at least {min_items} items, got {n}")
            if max_items is not None and n > max_items:
                raise Invalid(f"must have at most {max_items} items, got {n}")
            if item_check is not None:
                for i, item in enumerate(value):
                    try:
                        item_check(item)
                    except Invalid as e:
                        raise e.at(f"[{i}]") from None
            if unique:
                seen: set[Any] = set()
                for i, item in enumerate(value):
                    key = _json_equal_key(item)
                    if key in seen:
                        raise Invalid(f"duplicate item {item!r}").at(f"[{i}]")
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
                    raise Invalid("is required").at(f".{name}")
            for name, check in prop_items:
                if name in value:
                    try:
                        check(value[name])
                    except Invalid as e:
                        raise e.at(f".{name}") from None
            if closed or extra_check is not None:
                for key, item in value.items():
                    if key in props:
                        continue
                    if closed:
                        raise Invalid(f"unknown key {key!r} (allowed: {known})").at(f".{key}")
                    if extra_check is not None:
                        try:
                            extra_check(item)
                        except Invalid as e:
                            raise e.at(f".{key}") from None
            n = len(value)
            if min_props is not None and n < min_props:
                raise Invalid(f"must have at least {min_props} key(s)")
            if max_props is not None and n > max_props:
                raise Invalid(f"must have at most {max_props} key(s)")

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
                except Invalid:
                    return
                raise Invalid("matches a shape that is not allowed")

            out.append(check_not)
        return out

    def _branches(self, keyword: str, subs: list[Any]) -> Check:
        compiled = [(self.compile(s), self._branch_types(s)) for s in subs]
        exactly_one = keyword == "oneOf"

        def check_branches(value: Any) -> None:
            matched = 0
            best: Invalid | None = None
            for check, types in compiled:
                try:
                    check(value)
                except Invalid as e:
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
                raise Invalid("matches more than one of the allowed shapes")
            if best is not None:
                raise best
            raise Invalid(f"{describe(value)} does not match any of the allowed shapes")

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
