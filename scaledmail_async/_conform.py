"""Puts a checked dict body into the wire form of its request model, without building the model.

A request body given as a mapping is plain JSON after :func:`scaledmail_async._wire.to_plain`
and has passed the spec's schema. What its model still decides is the wire form: the declared
keys in the model's attribute order, after any undeclared ones, and an integer-valued float of an
integer attribute (``"volume": 2.0``) as an int. The function :func:`conformer` returns does that
in one pass and gives the same result as the lenient converter's
``unstructure(structure(body, Model))``, for values of exactly the attribute's JSON type.

Anything else raises :class:`NotExact`: a missing required key, a ``str`` or ``int`` subclass, a
numeric string where the spec states no type, a value of a type the spec allows but the model
does not. The caller then hands the body to the converter, which gives the
reference result or the error with its path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, get_args, get_origin

import attrs

from scaledmail_async._model_types import MODEL_SET, open_enum, union_args, value_types
from scaledmail_async._types import UNSET
from scaledmail_async.models._wire_names import WIRE_NAMES

__all__ = ["NotExact", "conformer"]

_Conform = Callable[[Any], Any]
"""A conformer: plain JSON value -> its wire form; raises for a value it does not handle."""


class NotExact(Exception):
    """A value that is not exactly of the attribute's JSON type: the converter decides."""


def _exact(kind: type) -> _Conform:
    def conform_exact(value: Any) -> Any:
        if type(value) is kind:
            return value
        raise NotExact

    return conform_exact


_STR: Final = _exact(str)
_BOOL: Final = _exact(bool)


def _conform_int(value: Any) -> Any:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)  # what the lenient converter makes of 2.0
    raise NotExact


def _conform_float(value: Any) -> Any:
    if type(value) is float or type(value) is int:
        return value  # an int stays an int, as in the converter
    raise NotExact


def _identity(value: Any) -> Any:
    return value


def _nullable(inner: _Conform) -> _Conform:
    def conform_nullable(value: Any) -> Any:
        return None if value is None else inner(value)

    return conform_nullable


def _list_of(item: _Conform) -> _Conform:
    def conform_list(value: Any) -> Any:
        if type(value) is not list:
            raise NotExact
        return [item(v) for v in value]

    return conform_list


def _dict_of(item: _Conform) -> _Conform:
    def conform_dict(value: Any) -> Any:
        if type(value) is not dict:
            raise NotExact
        out: dict[str, Any] = {}
        for key, v in value.items():
            if type(key) is not str:
                raise NotExact
            out[key] = item(v)
        return out

    return conform_dict


def _value_conformer(tp: Any) -> _Conform:
    """The conformer of declared attribute type ``tp``; ``TypeError`` for a type not handled."""
    if union_args(tp) is not None:
        rest, nullable = value_types(tp)
        if open_enum(rest) is not None:
            inner = _STR  # a member's value or any other string: the string itself
        elif len(rest) == 1:
            inner = _value_conformer(rest[0])
        else:
            raise TypeError(f"no conformer for {tp!r}")
        return _nullable(inner) if nullable else inner
    if tp is str:
        return _STR
    if tp is bool:
        return _BOOL
    if tp is int:
        return _conform_int
    if tp is float:
        return _conform_float
    if tp is Any or tp is object:
        return _identity
    if tp in MODEL_SET:
        found = _model_conformer(tp)
        if found is None:
            raise TypeError(f"no conformer for {tp!r}")
        return found
    origin = get_origin(tp)
    if origin is list:
        return _list_of(_value_conformer(get_args(tp)[0]))
    if origin is dict and get_args(tp)[0] is str:
        return _dict_of(_value_conformer(get_args(tp)[1]))
    raise TypeError(f"no conformer for {tp!r}")


_CONFORMERS: dict[type, _Conform | None] = {}


def conformer(cls: type[Any]) -> _Conform | None:
    """The conformer of request model ``cls`` (built on first use, then cached), or ``None`` when
    ``cls`` is not a generated model or has an attribute type it does not handle."""
    if cls not in MODEL_SET:
        return None
    return _model_conformer(cls)


def _model_conformer(cls: type[Any]) -> _Conform | None:
    if cls in _CONFORMERS:
        return _CONFORMERS[cls]
    built: list[_Conform] = []

    def conform_later(value: Any) -> Any:  # a model that (indirectly) contains itself
        if not built:
            raise NotExact
        return built[0](value)

    _CONFORMERS[cls] = conform_later
    try:
        made = _build_model_conformer(cls)
    except TypeError:
        _CONFORMERS[cls] = None
        return None
    built.append(made)
    _CONFORMERS[cls] = made
    return made


def _build_model_conformer(cls: type[Any]) -> _Conform:
    attrs.resolve_types(cls)
    wire = WIRE_NAMES[cls.__name__]
    fields = [f for f in attrs.fields(cls) if f.name != "additional_properties"]
    if len(fields) == len(attrs.fields(cls)):
        raise TypeError(f"{cls.__name__} keeps no additional_properties")
    plan: list[tuple[str, bool, _Conform]] = []
    for field in fields:
        if field.default is not attrs.NOTHING and field.default is not UNSET:
            # unstructure leaves out a value equal to the default: not reproduced here.
            raise TypeError(f"{cls.__name__}.{field.name} has a default other than UNSET")
        key = wire.get(field.name, field.name)
        plan.append((key, field.default is attrs.NOTHING, _value_conformer(field.type)))
    steps = tuple(plan)
    known = frozenset(wire.values())

    def conform_model(value: Any) -> Any:
        if type(value) is not dict:
            raise NotExact
        out: dict[str, Any] = {}
        for key, required, conform in steps:
            if key in value:
                out[key] = conform(value[key])
            elif required:
                raise NotExact
        if not known.issuperset(value):
            # Undeclared keys first, as unstructure merges additional_properties.
            out = {**{k: v for k, v in value.items() if k not in known}, **out}
        return out

    return conform_model
