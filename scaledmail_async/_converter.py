"""The cattrs converters between JSON-shaped data and the generated attrs models.

- :data:`converter`, the lenient one used for responses: unknown enum values are kept as plain
  strings and unknown keys are kept in each model's ``additional_properties``. It is built, with
  every hook, when this module is imported (never on the request path), together with its
  generated fast path (:mod:`scaledmail_async._fast_structure`).
- :data:`strict_converter` (for tests and spec checks): unknown keys and unknown enum values
  raise. It is built on first use (``structure(..., strict=True)`` or reading the attribute),
  so that ``import scaledmail_async`` does not pay for a converter no request uses.

Both use cattrs' ``detailed_validation``, so a failure names the bad field
(:func:`scaledmail_async._structure_errors.structure_errors` renders it with wire names).

What is hand-written here and why cattrs alone does not do it:

- *Unknown keys*: cattrs can ignore or forbid them but not keep them (cattrs issue #580), so each
  model's generated hook is wrapped: keys outside the model's wire names go to
  ``additional_properties`` (one C-level ``frozenset.issuperset`` check per object when there are
  none), and are merged back on unstructure.
- *Missing is not null*: cattrs has no sentinel (cattrs issue #178). Optional attributes are
  ``X | Unset`` with default ``UNSET``; a union hook drops ``Unset`` when structuring (a value that
  is present is never ``UNSET``) and ``omit_if_default`` leaves ``UNSET`` attributes out on
  unstructure. ``None`` is structured and unstructured as JSON ``null``.
- *Open enums*: ``TheEnum | str`` is structured by one dictionary lookup (member or the string).
- *Scalars*: cattrs' defaults call ``str(v)``/``bool(v)``, which would turn ``{}`` into ``"{}"``
  and ``"false"`` into ``True``; these hooks accept the JSON types (lenient: plus numeric strings
  for numbers, numbers for strings) and raise otherwise.
- *Dates*: ``date-time`` strings (``2026-03-14T09:26:53.000Z``) become aware datetimes and are
  written back in the same millisecond ``Z`` form; ``date`` strings become :class:`datetime.date`.

:func:`structure` runs the generated fast path for exactly JSON-shaped input and falls back to
the cattrs hooks for anything else (so errors and unusual inputs behave exactly as cattrs makes
them), and pauses the garbage collector while it builds the tree (figures: ``docs/benchmarks.md``,
Decode).

Wire names come from the generated ``scaledmail_async.models._wire_names`` (DCG's model metadata),
applied with ``cattrs.gen.override(rename=...)``.
"""

from __future__ import annotations

import enum
import functools
import gc
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final, TypeVar, get_args, overload

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from scaledmail_async._fast_structure import build_fast_paths
from scaledmail_async._model_types import (
    ENUM_CLASSES,
    MODEL_CLASSES,
    MODEL_SET,
    NONE_TYPE,
    is_unset,
    open_enum,
    union_args,
)
from scaledmail_async.models._wire_names import WIRE_NAMES

__all__ = [
    "converter",
    "strict_converter",
    "structure",
    "unstructure",
]

T = TypeVar("T")

_ZERO = timedelta(0)


# ------------------------------------------------------------------------------------- scalars


def _format_datetime(value: datetime) -> str:
    timespec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    if value.tzinfo is not None and value.utcoffset() == _ZERO:
        return value.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"
    return value.isoformat(timespec=timespec)


def _structure_datetime(value: Any, _: Any) -> datetime:
    if type(value) is str:
        return datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value
    raise TypeError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")


def _structure_date(value: Any, _: Any) -> date:
    if type(value) is str:
        return date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise TypeError(f"expected a YYYY-MM-DD date string, got {type(value).__name__}")


def _strict_str(value: Any, _: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _lenient_str(value: Any, _: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, (str, int, float)):  # bool is an int: "True" is as good as anything
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _strict_int(value: Any, _: Any) -> int:
    if type(value) is int:
        return value
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _lenient_int(value: Any, _: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str:
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _strict_float(value: Any, _: Any) -> float:
    # JSON integers stay ints (``199`` round-trips as ``199``); ``int`` is a valid ``float``.
    if type(value) is float or type(value) is int:
        return value
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _lenient_float(value: Any, _: Any) -> float:
    if type(value) is float or type(value) is int:
        return value
    if type(value) is str:
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _structure_bool(value: Any, _: Any) -> bool:
    if type(value) is bool:
        return value
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _identity(value: Any, _: Any) -> Any:
    return value


# -------------------------------------------------------------------------------------- unions


def _is_handled_union(tp: Any) -> bool:
    args = union_args(tp)
    if args is None:
        return False
    return any(is_unset(a) or a is NONE_TYPE for a in args) or open_enum(args) is not None


def _open_enum_hook(enum_cls: type[enum.Enum], *, strict: bool) -> Callable[[Any, Any], Any]:
    members: Mapping[Any, enum.Enum] = enum_cls._value2member_map_
    name = enum_cls.__name__
    if strict:

        def structure_strict(value: Any, _: Any) -> Any:
            member = members.get(value) if type(value) is str else None
            if member is None:
                raise ValueError(f"{value!r} is not a valid {name}")
            return member

        return structure_strict

    def structure_lenient(value: Any, _: Any) -> Any:
        if type(value) is str:
            return members.get(value, value)
        if isinstance(value, str):  # ``Unlisted("x")`` (a request's explicit unknown value)
            return members.get(str.__str__(value), value)
        raise TypeError(f"expected a string ({name}), got {type(value).__name__}")

    return structure_lenient


_SCALAR_HOOKS: Final = frozenset(
    {
        _strict_str,
        _lenient_str,
        _strict_int,
        _lenient_int,
        _strict_float,
        _lenient_float,
        _structure_bool,
        _structure_datetime,
        _structure_date,
        _identity,
    }
)


def _ignores_type_argument(tp: Any, hook: Callable[[Any, Any], Any]) -> bool:
    """Whether ``hook`` gives the same result whatever type is passed as its second argument.

    True for this module's scalar hooks, the model hooks (generated functions that use their
    bound class) and cattrs' list hooks (which use their bound element type).
    """
    if hook in _SCALAR_HOOKS or tp in MODEL_SET:
        return True
    return typing.get_origin(tp) is list and getattr(hook, "__name__", "") == "structure_list"


def _union_hook_factory(conv: cattrs.Converter, *, strict: bool) -> Callable[[Any], Any]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        args = union_args(tp) or ()
        nullable = NONE_TYPE in args
        rest = tuple(a for a in args if a is not NONE_TYPE and not is_unset(a))
        enum_cls = open_enum(rest)
        inner_hook: Callable[[Any, Any], Any]
        if enum_cls is not None:
            inner_hook = _open_enum_hook(enum_cls, strict=strict)
            inner_type: Any = tp
        elif len(rest) == 1:
            inner_type = rest[0]
            inner_hook = conv.get_structure_hook(inner_type)
        else:
            raise TypeError(f"unsupported union in a generated model: {tp!r}")
        if nullable:

            def structure_nullable(value: Any, _: Any) -> Any:
                return None if value is None else inner_hook(value, inner_type)

            return structure_nullable
        if inner_type is tp or _ignores_type_argument(inner_type, inner_hook):
            # Saves a Python call per optional attribute on the hot path.
            return inner_hook

        def structure_present(value: Any, _: Any) -> Any:
            return inner_hook(value, inner_type)

        return structure_present

    return factory


def _union_unstructure_factory(conv: cattrs.Converter) -> Callable[[Any], Any]:
    def factory(tp: Any) -> Callable[[Any], Any]:
        args = union_args(tp) or ()
        rest = tuple(a for a in args if a is not NONE_TYPE and not is_unset(a))
        if open_enum(rest) is not None:

            def unstructure_open_enum(value: Any) -> Any:
                if type(value) is str:
                    return value
                if isinstance(value, enum.Enum):
                    return value.value
                # ``Unlisted`` (or another str subclass) as the plain string it stands for.
                return str.__str__(value) if isinstance(value, str) else value

            return unstructure_open_enum
        if len(rest) != 1:
            raise TypeError(f"unsupported union in a generated model: {tp!r}")
        inner = conv.get_unstructure_hook(rest[0])

        def unstructure_value(value: Any) -> Any:
            # ``UNSET`` attributes never get here (omit_if_default); ``None`` is JSON null.
            return None if value is None else inner(value)

        return unstructure_value

    return factory


# -------------------------------------------------------------------------------------- models


def _model_hook_factories(
    conv: cattrs.Converter, *, strict: bool, builds: list[type[Any]]
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    # Each model's hooks are generated once. cattrs clears its dispatch cache whenever it
    # registers a collection hook it generated, and then asks the factory again: the second
    # answer is the hook already made, not a new one.
    structure_hooks: dict[type[Any], Callable[[Any, Any], Any]] = {}
    unstructure_hooks: dict[type[Any], Callable[[Any], Any]] = {}

    def structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        made = structure_hooks.get(cls)
        if made is None:
            made = structure_hooks[cls] = _make_structure(cls)
        return made

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        made = unstructure_hooks.get(cls)
        if made is None:
            made = unstructure_hooks[cls] = _make_unstructure(cls)
        return made

    def _make_structure(cls: type[Any]) -> Callable[[Any, Any], Any]:
        builds.append(cls)
        wire = WIRE_NAMES[cls.__name__]
        overrides: dict[str, Any] = {attr: override(rename=name) for attr, name in wire.items()}
        overrides["additional_properties"] = override(omit=True)
        base = make_dict_structure_fn(
            cls,
            conv,
            _cattrs_forbid_extra_keys=strict,
            **overrides,
        )
        if strict:
            return base
        known = frozenset(wire.values())

        def structure_model(data: Any, _: Any) -> Any:
            obj = base(data, cls)
            if not known.issuperset(data):
                obj.additional_properties = {k: v for k, v in data.items() if k not in known}
            return obj

        return structure_model

    def _make_unstructure(cls: type[Any]) -> Callable[[Any], Any]:
        builds.append(cls)
        wire = WIRE_NAMES[cls.__name__]
        overrides: dict[str, Any] = {attr: override(rename=name) for attr, name in wire.items()}
        overrides["additional_properties"] = override(omit=True)
        base = make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **overrides)

        def unstructure_model(obj: Any) -> dict[str, Any]:
            data: dict[str, Any] = base(obj)
            extra = obj.additional_properties
            if extra:
                # Declared attributes win over a same-named key in additional_properties.
                data = {**extra, **data}
            return data

        return unstructure_model

    return structure_factory, unstructure_factory


def _build(*, strict: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=strict)
    conv.register_structure_hook(str, _strict_str if strict else _lenient_str)
    conv.register_structure_hook(int, _strict_int if strict else _lenient_int)
    conv.register_structure_hook(float, _strict_float if strict else _lenient_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(date, _structure_date)
    conv.register_structure_hook(Any, _identity)
    # ``object``: a field the spec gives no type (kept as the JSON value that came). A predicate,
    # not a class hook: every class is a subclass of ``object``.
    conv.register_structure_hook_func(lambda tp: tp is object, _identity)
    conv.register_unstructure_hook(datetime, _format_datetime)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook_factory(
        _is_handled_union, _union_hook_factory(conv, strict=strict)
    )
    conv.register_unstructure_hook_factory(_is_handled_union, _union_unstructure_factory(conv))
    builds: list[type[Any]] = []
    structure_factory, unstructure_factory = _model_hook_factories(
        conv, strict=strict, builds=builds
    )
    conv.register_structure_hook_factory(lambda tp: tp in MODEL_SET, structure_factory)
    conv.register_unstructure_hook_factory(lambda tp: tp in MODEL_SET, unstructure_factory)
    _warm(conv, builds)
    return conv


def _field_types(tp: Any) -> set[Any]:
    """``tp`` and every type nested in it (union members, list items, dict values)."""
    found = {tp}
    for arg in get_args(tp):
        found |= _field_types(arg)
    return found


def _warm(conv: cattrs.Converter, builds: list[type[Any]]) -> None:
    """Build (and cache in the converter's dispatch) every hook now, not on the first request.

    cattrs clears its dispatch cache when it registers a collection hook it generated (e.g. the
    first ``dict[str, float]``), which drops model hooks cached before (the model factories then
    hand back the hook they made, see :func:`_model_hook_factories`); so collection types are
    warmed first, then the models, and the pass is repeated until it builds nothing new.
    """
    collections: set[Any] = set()
    for cls in MODEL_CLASSES.values():
        attrs.resolve_types(cls)
        for field in attrs.fields(cls):
            collections |= {
                t
                for t in _field_types(field.type)
                if typing.get_origin(t) in (list, dict) and not _field_types(t) & MODEL_SET
            }
    # Unstructuring dispatches on runtime classes too (``unstructure([...])``, ``Any`` values).
    runtime = [dict, list, tuple, str, int, float, bool, NONE_TYPE, datetime, date, *ENUM_CLASSES]
    for _ in range(5):
        builds.clear()
        for tp in sorted(collections, key=repr):
            conv.get_structure_hook(tp)
            conv.get_unstructure_hook(tp)
        for runtime_type in runtime:
            conv.get_unstructure_hook(runtime_type)
        for cls in MODEL_CLASSES.values():
            conv.get_structure_hook(cls)
            conv.get_structure_hook(list[cls])  # type: ignore[valid-type]
            conv.get_unstructure_hook(cls)
            conv.get_unstructure_hook(list[cls])  # type: ignore[valid-type]
        if not builds:
            return
    raise RuntimeError("cattrs hooks did not settle")  # pragma: no cover


converter: Final[cattrs.Converter] = _build(strict=False)
"""The lenient converter: unknown keys and enum values are kept."""

#: The scalar hooks whose handling of a string is exactly ``fromisoformat`` (inlined by the fast
#: path).
_ISO_HOOKS: Final = frozenset({_structure_datetime, _structure_date})

#: The lenient converter's generated structure functions (model and ``list[Model]`` -> function).
_FAST_PATHS: Final = build_fast_paths(converter, iso_hooks=_ISO_HOOKS)


@functools.cache
def _strict_converter() -> cattrs.Converter:
    """The strict converter, built (with every hook) on the first call."""
    return _build(strict=True)


strict_converter: cattrs.Converter
"""The strict converter (for tests): unknown keys and unknown enum values raise. Built on first
access (module ``__getattr__``)."""


def __getattr__(name: str) -> Any:
    if name == "strict_converter":
        return _strict_converter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@overload
def structure(data: Any, tp: type[T], *, strict: bool = False) -> T: ...


@overload
def structure(data: Any, tp: Any, *, strict: bool = False) -> Any: ...


def structure(data: Any, tp: Any, *, strict: bool = False) -> Any:
    """Structure JSON-shaped ``data`` into ``tp`` (a model, ``list[Model]``, ...).

    Lenient by default (unknown keys and enum values kept); ``strict=True`` rejects them. A
    failure raises a cattrs ``ClassValidationError`` / ``IterableValidationError`` tree (or a
    plain exception for a bad top-level value);
    :func:`scaledmail_async._structure_errors.structure_errors` names the fields.

    Lenient calls of a model or ``list[Model]`` take the generated fast path first
    (:mod:`scaledmail_async._fast_structure`), with the garbage collector paused; results are the
    converter's. The first strict call builds the strict converter.
    """
    if strict:
        return _strict_converter().structure(data, tp)
    # The garbage collector is paused while the tree is built: the objects made are acyclic
    # (refcounting frees them), and on a 10,000-domain order the collections triggered by the
    # new objects, which traverse everything the process holds, were 30-45 % of the time.
    # (The switch is process-wide: other threads' collections wait for the few ms of a call.)
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        try:
            fast = _FAST_PATHS.get(tp)
        except TypeError:  # an unhashable type expression: cattrs decides
            fast = None
        if fast is not None:
            try:
                return fast(data)
            except Exception:  # not the common shape: cattrs decides (same result, or the error)
                pass
        return converter.structure(data, tp)
    finally:
        if paused:
            gc.enable()


def unstructure(obj: Any) -> Any:
    """Turn a model (or list/dict of models) into JSON-shaped data with wire names.

    ``UNSET`` attributes are left out, ``None`` becomes ``null``, ``additional_properties`` are
    merged back, datetimes are written as ``2026-03-14T09:26:53.000Z``.
    """
    return converter.unstructure(obj)
