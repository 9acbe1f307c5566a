"""A request value as plain JSON data, checked in the walk that builds it.

The first stage of a request body (and of ``request(json=...)``): :func:`to_plain` turns a
mapping (enums to values, tuples to lists, ``UNSET`` entries dropped) and :func:`model_encoder`
a generated model into the plain JSON value that is then schema-checked and sent. Anything JSON
cannot carry is refused at its path (:class:`~scaledmail_async._schema_check.Invalid`):
NaN/Infinity, sets, bytes, datetimes, Decimals, other objects, non-string keys, and nesting past
:data:`MAX_BODY_DEPTH`, which is how a body that contains itself ends (:func:`too_deep` then says
where it refers back to itself).

A model is encoded by its declared attribute types, not by cattrs' ``unstructure``, which trusts
them: ``BuyDomainsRequest(domains="abc.com")`` is "body.domains: expected a list of strings, got
str" rather than a list of characters. The encoders produce exactly what ``unstructure``
produces for a well-typed model. Values of the right Python type but the wrong JSON type for the
spec are left for the schema check.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final, get_args, get_origin

import attrs

from scaledmail_async._converter import converter, unstructure
from scaledmail_async._model_types import MODEL_SET, open_enum, union_args, value_types
from scaledmail_async._schema_check import Invalid, describe
from scaledmail_async._types import UNSET
from scaledmail_async.models._wire_names import WIRE_NAMES

__all__ = ["MAX_BODY_DEPTH", "TooDeep", "model_encoder", "to_plain", "too_deep"]

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


class TooDeep(Invalid):
    """Nested past :data:`MAX_BODY_DEPTH`. Collects no path (it would be a hundred segments):
    :func:`too_deep` says where, once, at the top."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(f"is nested more than {MAX_BODY_DEPTH} levels deep")

    def at(self, segment: str) -> Invalid:
        return self


def _type_label(value: Any) -> str:
    """The Python type of a value, for the errors of model attributes (``got str``)."""
    return "UNSET" if value is UNSET else type(value).__name__


def _not_json(value: Any) -> Invalid:
    hint = next((h for kinds, h in _NOT_JSON_HINTS if isinstance(value, kinds)), None)
    what = "a string, number, boolean, None, list or dict"
    return Invalid(
        f"{_type_label(value)} is not a JSON value ({what}): {hint or 'convert it first'}"
    )


def to_plain(value: Any, depth: int = 0) -> Any:
    """The user's value as plain JSON data, checked in the same walk: enums as their values,
    generated models through their checked encoder (:func:`model_encoder`), ``UNSET`` mapping
    entries dropped, tuples as lists. Anything JSON cannot carry raises :class:`Invalid` at its
    path: NaN/Infinity, sets, bytes, datetimes, Decimals, other objects, non-string keys, and
    nesting past :data:`MAX_BODY_DEPTH` (which is also how a value that contains itself ends).
    Values of the wrong JSON type are left for the schema to reject (``must be a string``)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise Invalid(_NOT_FINITE)
    if isinstance(value, enum.Enum):
        if value is UNSET:
            raise Invalid("is UNSET, which only means 'leave this key out' as a dict value")
        return to_plain(value.value, depth)
    if isinstance(value, (str, int)):
        # ``Unlisted("x")`` stays itself: the schema check accepts it beside an enum's values;
        # ``json.dumps`` writes it as the plain string.
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise Invalid(_NOT_FINITE)
    if depth >= MAX_BODY_DEPTH:
        raise TooDeep()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if type(k) is not str and not isinstance(k, str):
                raise Invalid(f"keys must be strings, got {describe(k)}")
            if v is UNSET:
                continue
            try:
                out[k] = to_plain(v, depth + 1)
            except Invalid as e:
                raise e.at(f".{k}") from None
        return out
    if isinstance(value, (list, tuple)):
        items: list[Any] = []
        try:
            for v in value:
                items.append(to_plain(v, depth + 1))
        except Invalid as e:
            raise e.at(f"[{len(items)}]") from None
        return items
    if kind in MODEL_SET:
        return model_encoder(kind)(value, depth)
    if attrs.has(kind):  # an attrs class of the application's: cattrs' generic form, checked
        try:
            data = unstructure(value)
        except Exception as exc:
            raise Invalid(f"{kind.__name__} cannot be turned into JSON: {exc}") from None
        return to_plain(data, depth)
    raise _not_json(value)


# -- models: checked while they are turned into their wire form -------------------------------
#
# A model's attributes are not checked when it is built (attrs models without validators), and
# cattrs' unstructure hooks trust them: ``list[str]`` iterates whatever it is given (a str
# becomes its characters, a dict its keys, a set an arbitrary order) and a model slot reads the
# attributes of whatever object is there. So a request model is turned into its wire form by the
# encoders below instead: one walk, by the attributes' declared types, that produces exactly what
# ``unstructure`` produces for a well-typed model and raises ``Invalid`` at the attribute's wire
# path for anything else ("body.domains: expected a list of strings, got str").

_Encode = Callable[[Any, int], Any]
"""An encoder: ``(value, depth) -> wire value``; raises :class:`Invalid` for a wrong type."""

_MODEL_ENCODERS: dict[type, _Encode] = {}


def _enc_str(value: Any, depth: int) -> Any:
    if type(value) is str or isinstance(value, str):
        return value
    raise Invalid(f"expected a string, got {_type_label(value)}")


def _enc_int(value: Any, depth: int) -> Any:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise Invalid("expected an integer, got bool")
    if isinstance(value, int) or (type(value) is float and value.is_integer()):
        return value  # 2.0 is an integer in JSON (the schema's rule too)
    raise Invalid(f"expected an integer, got {_type_label(value)}")


def _enc_float(value: Any, depth: int) -> Any:
    if type(value) is float or isinstance(value, float):
        if math.isfinite(value):
            return value
        raise Invalid(_NOT_FINITE)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise Invalid(f"expected a number, got {_type_label(value)}")


def _enc_bool(value: Any, depth: int) -> Any:
    if type(value) is bool:
        return value
    raise Invalid(f"expected a boolean (True/False), got {_type_label(value)}")


_DATETIME_HOOK: Final = converter.get_unstructure_hook(datetime)
_DATE_HOOK: Final = converter.get_unstructure_hook(date)


def _enc_datetime(value: Any, depth: int) -> Any:
    if isinstance(value, datetime):
        return _DATETIME_HOOK(value)
    raise Invalid(f"expected a datetime.datetime, got {_type_label(value)}")


def _enc_date(value: Any, depth: int) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return _DATE_HOOK(value)
    raise Invalid(f"expected a datetime.date, got {_type_label(value)}")


_SCALAR_ENCODERS: Final[dict[Any, tuple[_Encode, str, str]]] = {
    # type: (encoder, "a ...", "...s")
    str: (_enc_str, "a string", "strings"),
    int: (_enc_int, "an integer", "integers"),
    float: (_enc_float, "a number", "numbers"),
    bool: (_enc_bool, "a boolean", "booleans"),
    datetime: (_enc_datetime, "a datetime.datetime", "datetime.datetime objects"),
    date: (_enc_date, "a datetime.date", "datetime.date objects"),
    Any: (to_plain, "a JSON value", "JSON values"),
    object: (to_plain, "a JSON value", "JSON values"),
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
            return value  # ``Unlisted("x")``: checked as such, sent as the plain "x"
        raise Invalid(f"expected a {name} or a string, got {_type_label(value)}")

    return enc_open_enum


def _type_encoder(tp: Any) -> tuple[_Encode, str, str]:
    """The encoder of declared type ``tp``, with its description (singular, plural)."""
    if union_args(tp) is not None:
        rest, nullable = value_types(tp)
        enum_cls = open_enum(rest)
        if enum_cls is not None:
            name = enum_cls.__name__
            inner = (_open_enum_encoder(enum_cls), f"a {name} or a string", f"{name} values")
        elif len(rest) == 1:
            inner = _type_encoder(rest[0])
        else:
            raise TypeError(f"no request encoder for {tp!r}")
        if not nullable:
            return inner  # UNSET is the model encoder's business (an attribute left out)
        enc_inner, one, many = inner

        def enc_nullable(value: Any, depth: int) -> Any:
            return None if value is None else enc_inner(value, depth)

        return enc_nullable, f"{one} or None", f"{many} or None"
    scalar = _SCALAR_ENCODERS.get(tp)
    if scalar is not None:
        return scalar
    if tp in MODEL_SET:
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
    encode = model_encoder(cls)
    name = cls.__name__

    def enc_model_slot(value: Any, depth: int) -> Any:
        if isinstance(value, cls):
            return encode(value, depth)
        raise Invalid(f"expected a {name}, got {_type_label(value)}")

    return enc_model_slot


def _list_encoder(enc_item: _Encode, what: str) -> _Encode:
    if enc_item is _enc_str:

        def enc_str_list(value: Any, depth: int) -> Any:
            if type(value) is not list and not isinstance(value, (list, tuple)):
                raise Invalid(f"expected {what}, got {_type_label(value)}")
            for i, item in enumerate(value):
                if type(item) is not str and not isinstance(item, str):
                    raise Invalid(f"expected a string, got {_type_label(item)}").at(f"[{i}]")
            return list(value)

        return enc_str_list

    def enc_list(value: Any, depth: int) -> Any:
        if type(value) is not list and not isinstance(value, (list, tuple)):
            raise Invalid(f"expected {what}, got {_type_label(value)}")
        if depth >= MAX_BODY_DEPTH:
            raise TooDeep()
        depth += 1
        out: list[Any] = []
        try:
            for item in value:
                out.append(enc_item(item, depth))
        except Invalid as e:
            raise e.at(f"[{len(out)}]") from None
        return out

    return enc_list


def _dict_encoder(enc_item: _Encode, what: str) -> _Encode:
    def enc_dict(value: Any, depth: int) -> Any:
        if not isinstance(value, Mapping):
            raise Invalid(f"expected {what}, got {_type_label(value)}")
        if depth >= MAX_BODY_DEPTH:
            raise TooDeep()
        depth += 1
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Invalid(f"keys must be strings, got {_type_label(key)}")
            try:
                out[key] = enc_item(item, depth)
            except Invalid as e:
                raise e.at(f".{key}") from None
        return out

    return enc_dict


def model_encoder(cls: type[Any]) -> _Encode:
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
        "Invalid": Invalid,
        "TooDeep": TooDeep,
        "_UNSET": UNSET,
        "_MAX": MAX_BODY_DEPTH,
        "_merge_extra": _merge_extra,
        "_name": name,
    }
    lines = [
        "def encode(o, d):",
        "    if d >= _MAX:",
        "        raise TooDeep()",
        "    d += 1",
        "    res = {}",
    ]
    for i, field in enumerate(fields):
        key = wire.get(field.name, field.name)
        tp = field.type
        rest, nullable = value_types(tp)
        # cattrs' omit_if_default leaves out an attribute equal to its default; UNSET is the only
        # default the generated models have.
        optional = field.default is UNSET
        ns[f"_e{i}"] = _type_encoder(tp)[0]
        plain_slot = len(rest) == 1 and not nullable
        exact = _EXACT_CHECKS.get(rest[0]) if plain_slot else None
        segment = "." + key
        convert = [
            "try:",
            f"    v = _e{i}(v, d)",
            "except Invalid as e:",
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
    exec(compile(source, f"<scaledmail_async._wire encoder of {name}>", "exec"), ns)
    encode: _Encode = ns["encode"]
    return encode


def _merge_extra(extra: Any, declared: dict[str, Any], depth: int, model: str) -> dict[str, Any]:
    """A model's wire form with its ``additional_properties`` (checked as JSON) merged in; the
    declared attributes win over a same-named extra key (as on unstructure)."""
    if not isinstance(extra, Mapping):
        raise Invalid(
            f"{model}.additional_properties must be a dict of extra keys, got {_type_label(extra)}"
        )
    return {**to_plain(extra, depth), **declared}


def too_deep(root: Any) -> Invalid:
    """The error of a body nested past :data:`MAX_BODY_DEPTH`: where it contains itself, if it
    does (found only now, on the error path), else that it is too deep."""
    segments = _cycle_path(root, set(), set(), 0)
    if segments is not None:
        return Invalid(
            "refers back to a dict or list that contains it (a reference cycle), which JSON "
            "cannot represent: build the body as a tree of new dicts and lists",
            *segments,
        )
    return Invalid(
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
