"""cattrs converters between JSON-shaped data and the generated attrs models.

Two converters are built, with every hook, when this module is imported (never on the request
path):

- :data:`converter`, the lenient one used for responses: unknown enum values are kept as plain
  strings and unknown keys are kept in each model's ``additional_properties``;
- :data:`strict_converter` (for tests): unknown keys and unknown enum values raise.

Both use cattrs' ``detailed_validation``, so a failure names the bad field
(:func:`structure_errors`). Turning it off was measured on a 10,000-domain order (Python 3.11):
only 4-7% faster (10.3 ms instead of 10.7 ms; most of the time goes into the attrs ``__init__``
calls), so the errors with paths are kept.

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

Speed (``bench/decode.py``): :func:`structure` runs generated plain-Python functions for
exactly JSON-shaped input and falls back to the cattrs hooks for anything else (so errors and
unusual inputs behave exactly as cattrs makes them), and pauses the garbage collector while it
builds the tree. On a 10,000-domain order (Python 3.11, 2-core Xeon) structuring went from about
15 ms to 5 ms (garbage collector on; ``docs/benchmarks.md``). The generated functions detect
unknown keys by counting the known keys they found (no per-key probe) and parse ISO dates inline;
a typical 20-domain order takes about 116,000 CPU instructions instead of 137,000.

Wire names come from the generated ``scaledmail_async.models._wire_names`` (DCG's model metadata),
applied with ``cattrs.gen.override(rename=...)``.
"""

from __future__ import annotations

import enum
import gc
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final, TypeVar, get_args, overload

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from scaledmail_async import models
from scaledmail_async._types import Unset
from scaledmail_async.models._wire_names import WIRE_NAMES

__all__ = [
    "converter",
    "strict_converter",
    "structure",
    "structure_error_path",
    "structure_errors",
    "unstructure",
]

T = TypeVar("T")

_NONE_TYPE: Final = type(None)
_ZERO = timedelta(0)

#: Every generated model class, by name, and every generated enum.
MODEL_CLASSES: Final[dict[str, type[Any]]] = {name: getattr(models, name) for name in WIRE_NAMES}
ENUM_CLASSES: Final[tuple[type[enum.Enum], ...]] = tuple(
    value
    for value in vars(models).values()
    if isinstance(value, type)
    and issubclass(value, enum.Enum)
    and value.__module__ == models.__name__
)
_MODEL_SET: Final = frozenset(MODEL_CLASSES.values())


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


def _is_unset(tp: Any) -> bool:
    return bool(tp == Unset)


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return get_args(tp)
    return None


def _is_handled_union(tp: Any) -> bool:
    args = _union_args(tp)
    if args is None:
        return False
    return any(_is_unset(a) or a is _NONE_TYPE for a in args) or _open_enum(args) is not None


def _open_enum(args: tuple[Any, ...]) -> type[enum.Enum] | None:
    """The enum of an ``TheEnum | str`` union (``args`` without None/Unset), else None."""
    if len(args) == 2 and args[1] is str and isinstance(args[0], type):
        if issubclass(args[0], enum.Enum):
            return args[0]
    return None


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
    if hook in _SCALAR_HOOKS or tp in _MODEL_SET:
        return True
    return typing.get_origin(tp) is list and getattr(hook, "__name__", "") == "structure_list"


def _union_hook_factory(conv: cattrs.Converter, *, strict: bool) -> Callable[[Any], Any]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        args = _union_args(tp) or ()
        nullable = _NONE_TYPE in args
        rest = tuple(a for a in args if a is not _NONE_TYPE and not _is_unset(a))
        enum_cls = _open_enum(rest)
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
        args = _union_args(tp) or ()
        rest = tuple(a for a in args if a is not _NONE_TYPE and not _is_unset(a))
        if _open_enum(rest) is not None:

            def unstructure_open_enum(value: Any) -> Any:
                return value.value if isinstance(value, enum.Enum) else value

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
    def structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
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

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
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
    conv.register_structure_hook_factory(lambda tp: tp in _MODEL_SET, structure_factory)
    conv.register_unstructure_hook_factory(lambda tp: tp in _MODEL_SET, unstructure_factory)
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
    first ``dict[str, float]``), which drops model hooks cached before; so collection types are
    warmed first, then the models, and the pass is repeated until it builds nothing new.
    """
    collections: set[Any] = set()
    for cls in MODEL_CLASSES.values():
        attrs.resolve_types(cls)
        for field in attrs.fields(cls):
            collections |= {
                t
                for t in _field_types(field.type)
                if typing.get_origin(t) in (list, dict) and not _field_types(t) & _MODEL_SET
            }
    # Unstructuring dispatches on runtime classes too (``unstructure([...])``, ``Any`` values).
    runtime = [dict, list, tuple, str, int, float, bool, _NONE_TYPE, datetime, date, *ENUM_CLASSES]
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

strict_converter: Final[cattrs.Converter] = _build(strict=True)
"""The strict converter (for tests): unknown keys and unknown enum values raise."""


# ----------------------------------------------------------------------------------- fast path


_FACTORY: Final[type[Any]] = type(attrs.Factory(dict))
_OBJECT_SETATTR: Final[Any] = object.__setattr__


#: The scalar hooks whose handling of a string is exactly ``fromisoformat`` (inlined below).
_ISO_HOOKS: Final = frozenset({_structure_datetime, _structure_date})


class _NotFast(Exception):
    """Raised by a fast-path function for input it does not handle; cattrs then decides."""


def _fast_value_code(tp: Any, conv: cattrs.Converter, ns: dict[str, Any], tag: str) -> list[str]:
    """Lines converting ``v`` (present in the data) to attribute type ``tp``, in place."""
    args = _union_args(tp)
    rest = tuple(a for a in (args or (tp,)) if a is not _NONE_TYPE and not _is_unset(a))
    nullable = args is not None and _NONE_TYPE in args
    enum_cls = _open_enum(rest)
    inner = rest[0] if len(rest) == 1 else None
    item = get_args(inner)[0] if typing.get_origin(inner) is list else None
    code: list[str]
    if enum_cls is not None:
        ns[tag] = enum_cls._value2member_map_
        code = ["if type(v) is not str:", "    raise _NotFast", f"v = {tag}.get(v, v)"]
    elif inner in (str, int, bool):
        ns[tag] = conv.get_structure_hook(inner)
        code = [f"if type(v) is not {inner.__name__}:", f"    v = {tag}(v, {inner.__name__})"]
    elif inner is float:
        ns[tag] = conv.get_structure_hook(float)
        code = [
            "if type(v) is not float and type(v) is not int:",
            f"    v = {tag}(v, {inner.__name__})",
        ]
    elif inner in (datetime, date) and conv.get_structure_hook(inner) in _ISO_HOOKS:
        # What _structure_datetime / _structure_date do with a string, without the call.
        ns[tag] = conv.get_structure_hook(inner)
        ns[tag + "_parse"] = inner.fromisoformat
        code = [
            "if type(v) is str:",
            f"    v = {tag}_parse(v)",
            "else:",
            f"    v = {tag}(v, {inner.__name__})",
        ]
        ns[inner.__name__] = inner
    elif inner in _MODEL_SET:
        code = [f"v = _fast_{inner.__name__}(v)"]
    elif item in _MODEL_SET:
        code = ["if type(v) is not list:", "    raise _NotFast"]
        code.append(f"v = [_fast_{item.__name__}(e) for e in v]")
    elif item is Any:
        code = ["if type(v) is not list:", "    raise _NotFast", "v = list(v)"]
    else:
        # Anything else (dicts, lists of scalars, ...): the converter's own hook.
        ns[tag] = conv.get_structure_hook(tp)
        ns[tag + "_t"] = tp
        return [f"v = {tag}(v, {tag}_t)"]
    if nullable:
        return ["if v is not None:", *("    " + line for line in code)]
    return code


def _plain_attrs(cls: type[Any]) -> bool:
    """Whether instances of ``cls`` can be built without ``__init__`` to the same effect: a
    slotted attrs class without validators, converters, ``on_setattr`` hooks or init hooks."""
    if cls.__setattr__ is not _OBJECT_SETATTR or "__slots__" not in vars(cls):
        return False
    if hasattr(cls, "__attrs_pre_init__") or hasattr(cls, "__attrs_post_init__"):
        return False
    for field in attrs.fields(cls):
        if field.validator is not None or field.converter is not None or not field.init:
            return False
        if isinstance(field.default, _FACTORY) and field.default.takes_self:
            return False
    return True


def _fast_source(cls: type[Any], conv: cattrs.Converter, ns: dict[str, Any]) -> str:
    name = cls.__name__
    wire = WIRE_NAMES[name]
    plain = _plain_attrs(cls)
    ns[f"_{name}_cls"] = cls
    known = f"_{name}_known"
    ns[known] = frozenset(wire.values())
    fields = [f for f in attrs.fields(cls) if f.name != "additional_properties"]
    keys = [wire.get(f.name, f.name) for f in fields]
    # Unknown keys are detected by counting: every key looked up below is a distinct known key,
    # so the object has none iff it has exactly as many keys as were found (cheaper than a
    # ``known.issuperset(o)`` probe of every key). Checked here, else the probe is used.
    counted = sorted(keys) == sorted(set(keys)) and set(keys) == ns[known]
    required = sum(1 for f in fields if f.default is attrs.NOTHING)
    lines = [f"def _fast_{name}(o):", "    if type(o) is not dict:", "        raise _NotFast"]
    # A plain class is filled slot by slot (no keyword dict, no __init__ call): about 0.3 us
    # less per object; any other class gets the keyword call cattrs would make.
    lines.append(f"    obj = _new(_{name}_cls)" if plain else "    res = {}")
    if counted:
        lines.append(f"    n = {required}")
    extra = "{k: x for k, x in o.items() if k not in " + known + "}"
    no_extra = "len(o) == n" if counted else f"{known}.issuperset(o)"
    for field, key in zip(fields, keys, strict=True):
        store = f"obj.{field.name} = v" if plain else f"res[{field.name!r}] = v"
        value = _fast_value_code(field.type, conv, ns, f"_{name}_{field.name}")
        body = [f"v = o[{key!r}]", *value, store]
        if field.default is attrs.NOTHING:
            lines += ["    " + line for line in body]
            continue
        lines.append(f"    if {key!r} in o:")
        if counted:
            lines.append("        n += 1")
        lines += ["        " + line for line in body]
        if plain:
            default = f"_{name}_{field.name}_default"
            if isinstance(field.default, _FACTORY):
                ns[default] = field.default.factory
                default += "()"
            else:
                ns[default] = field.default
            lines += ["    else:", f"        obj.{field.name} = {default}"]
    if plain:
        if any(f.name == "additional_properties" for f in attrs.fields(cls)):
            lines.append(f"    obj.additional_properties = {{}} if {no_extra} else {extra}")
    else:
        lines += [
            f"    obj = _{name}_cls(**res)",
            f"    if not ({no_extra}):",
            f"        obj.additional_properties = {extra}",
        ]
    lines.append("    return obj")
    return "\n".join(lines)


def _fast_list(item: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def structure_list(data: Any) -> list[Any]:
        if type(data) is not list:
            raise _NotFast
        return [item(e) for e in data]

    return structure_list


def _build_fast_paths(conv: cattrs.Converter) -> dict[Any, Callable[[Any], Any]]:
    """Generated structure functions of the lenient converter for the common case.

    The cattrs hooks with detailed validation cost about 1.6 us per small object (a wrapper,
    a generated function, one hook call per attribute, a ``try`` per attribute). These functions
    do the same for data that is exactly JSON-shaped (``dict`` objects, ``list`` arrays, values of
    the attribute's type), calling the converter's own scalar hooks only for a value of another
    type, so every value they produce is the value cattrs would produce. They raise on anything
    else (a missing required key, a bad value, a ``Mapping`` that is not a ``dict``...) and
    :func:`structure` then runs the cattrs hook, which gives the same result or the detailed
    error. Measured on a 10,000-domain order: 10.4 ms -> 6-7 ms (garbage collector off).
    """
    ns: dict[str, Any] = {"_NotFast": _NotFast, "_new": object.__new__}
    source = "\n\n".join(_fast_source(cls, conv, ns) for cls in MODEL_CLASSES.values())
    exec(compile(source, "<scaledmail_async._converter fast path>", "exec"), ns)
    paths: dict[Any, Callable[[Any], Any]] = {}
    for cls in MODEL_CLASSES.values():
        fn = ns[f"_fast_{cls.__name__}"]
        paths[cls] = fn
        paths[list[cls]] = _fast_list(fn)  # type: ignore[valid-type]
    return paths


_FAST_PATHS: Final = _build_fast_paths(converter)


@overload
def structure(data: Any, tp: type[T], *, strict: bool = False) -> T: ...


@overload
def structure(data: Any, tp: Any, *, strict: bool = False) -> Any: ...


def structure(data: Any, tp: Any, *, strict: bool = False) -> Any:
    """Structure JSON-shaped ``data`` into ``tp`` (a model, ``list[Model]``, ...).

    Lenient by default (unknown keys and enum values kept); ``strict=True`` rejects them. A
    failure raises a cattrs ``ClassValidationError`` / ``IterableValidationError`` tree (or a
    plain exception for a bad top-level value); :func:`structure_errors` names the fields.

    Lenient calls of a model or ``list[Model]`` take the generated fast path first
    (:func:`_build_fast_paths`), with the garbage collector paused; results are the converter's.
    """
    if strict:
        return strict_converter.structure(data, tp)
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


# -------------------------------------------------------------------------------------- errors


def _wire_name(cls: type[Any], attribute: str) -> str:
    names = WIRE_NAMES.get(cls.__name__)
    if names is not None and MODEL_CLASSES.get(cls.__name__) is cls:
        return names.get(attribute, attribute)
    return attribute


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown field(s): {', '.join(sorted(exc.extra_fields))}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _segment(key: object) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return f".{key}"
    return f"[{key!r}]"


def structure_errors(exc: BaseException, path: str = "$") -> list[tuple[str, str]]:
    """Flatten a structuring error into ``(path, message)`` pairs with wire names.

    Paths look like ``$.packages[0].domains[3].status`` (``$`` is the document root); a plain
    exception gives one pair at ``path``.
    """
    errors: list[tuple[str, str]] = []
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            sub_path = f"{path}{_segment(_wire_name(exc.cl, note.name))}"
            errors.extend(structure_errors(sub, sub_path))
        for sub in without:
            if isinstance(sub, ForbiddenExtraKeysError):
                for key in sorted(sub.extra_fields):
                    errors.append((f"{path}{_segment(key)}", "unknown field"))
            else:
                errors.extend(structure_errors(sub, path))
    elif isinstance(exc, IterableValidationError):
        with_index, without_index = exc.group_exceptions()
        for sub, index_note in with_index:
            errors.extend(structure_errors(sub, f"{path}{_segment(index_note.index)}"))
        for sub in without_index:
            errors.extend(structure_errors(sub, path))
    elif isinstance(exc, ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields):
            errors.append((f"{path}{_segment(key)}", "unknown field"))
    else:
        errors.append((path, _describe(exc)))
    return errors


def structure_error_path(exc: BaseException) -> str:
    """The wire-name path of the first bad field in a structuring error (``$.tag``), or ``$``."""
    errors = structure_errors(exc)
    return errors[0][0] if errors else "$"
