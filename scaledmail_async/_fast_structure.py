"""Generates the fast structuring functions of the lenient converter, one per model.

:func:`build_fast_paths` writes (as Python source, compiled once when the lenient converter is
built) a function per generated model that structures **exactly JSON-shaped** input: ``dict``
objects, ``list`` arrays, values already of the attribute's type inline, and a value of another
type through the converter's own scalar hook, so every value it produces is the value cattrs
would produce. For anything else (a missing required key, a bad value, a ``Mapping`` that is not
a ``dict``...) it raises :class:`NotFast`, and :func:`scaledmail_async._converter.structure` runs
the cattrs hook, which gives the same result or the detailed error.

What the generated code does differently from cattrs' own (with detailed validation: a wrapper,
a ``try`` and a hook call per attribute): unknown keys are detected by counting the known keys
found (no per-key probe), ISO dates are parsed inline, and a slotted attrs class without
validators, converters or hooks (every generated model) is filled slot by slot instead of through
``__init__``. The figures are in ``docs/benchmarks.md`` (Decode).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Collection
from datetime import date, datetime
from typing import Any, Final, get_args

import attrs
import cattrs

from scaledmail_async._model_types import MODEL_CLASSES, MODEL_SET, open_enum, value_types
from scaledmail_async.models._wire_names import WIRE_NAMES

__all__ = ["NotFast", "build_fast_paths"]

_FACTORY: Final[type[Any]] = type(attrs.Factory(dict))
_OBJECT_SETATTR: Final[Any] = object.__setattr__


class NotFast(Exception):
    """Raised by a fast-path function for input it does not handle; cattrs then decides."""


def _fast_value_code(
    tp: Any,
    conv: cattrs.Converter,
    ns: dict[str, Any],
    tag: str,
    iso_hooks: Collection[Callable[[Any, Any], Any]],
) -> list[str]:
    """Lines converting ``v`` (present in the data) to attribute type ``tp``, in place."""
    rest, nullable = value_types(tp)
    enum_cls = open_enum(rest)
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
    elif inner in (datetime, date) and conv.get_structure_hook(inner) in iso_hooks:
        # What the converter's date hooks do with a string, without the call.
        ns[tag] = conv.get_structure_hook(inner)
        ns[tag + "_parse"] = inner.fromisoformat
        code = [
            "if type(v) is str:",
            f"    v = {tag}_parse(v)",
            "else:",
            f"    v = {tag}(v, {inner.__name__})",
        ]
        ns[inner.__name__] = inner
    elif inner in MODEL_SET:
        code = [f"v = _fast_{inner.__name__}(v)"]
    elif item in MODEL_SET:
        code = ["if type(v) is not list:", "    raise _NotFast"]
        code.append(f"v = [_fast_{item.__name__}(e) for e in v]")
    elif item is Any or item is object:
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


def _fast_source(
    cls: type[Any],
    conv: cattrs.Converter,
    ns: dict[str, Any],
    iso_hooks: Collection[Callable[[Any, Any], Any]],
) -> str:
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
    # A plain class is filled slot by slot (no keyword dict, no __init__ call); any other class
    # gets the keyword call cattrs would make.
    lines.append(f"    obj = _new(_{name}_cls)" if plain else "    res = {}")
    if counted:
        lines.append(f"    n = {required}")
    extra = "{k: x for k, x in o.items() if k not in " + known + "}"
    no_extra = "len(o) == n" if counted else f"{known}.issuperset(o)"
    for field, key in zip(fields, keys, strict=True):
        store = f"obj.{field.name} = v" if plain else f"res[{field.name!r}] = v"
        value = _fast_value_code(field.type, conv, ns, f"_{name}_{field.name}", iso_hooks)
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
            raise NotFast
        return [item(e) for e in data]

    return structure_list


def build_fast_paths(
    conv: cattrs.Converter, *, iso_hooks: Collection[Callable[[Any, Any], Any]]
) -> dict[Any, Callable[[Any], Any]]:
    """The generated structure functions for ``conv`` (the lenient converter), by target type:
    every model and ``list[Model]``. Each raises :class:`NotFast` (or any exception) for input it
    does not handle.

    ``iso_hooks`` are the converter's scalar hooks whose handling of a string is exactly
    ``fromisoformat`` of the target type: for those the generated code parses inline.
    """
    ns: dict[str, Any] = {"_NotFast": NotFast, "_new": object.__new__}
    source = "\n\n".join(_fast_source(cls, conv, ns, iso_hooks) for cls in MODEL_CLASSES.values())
    exec(compile(source, "<scaledmail_async._fast_structure>", "exec"), ns)
    paths: dict[Any, Callable[[Any], Any]] = {}
    for cls in MODEL_CLASSES.values():
        fn = ns[f"_fast_{cls.__name__}"]
        paths[cls] = fn
        paths[list[cls]] = _fast_list(fn)  # type: ignore[valid-type]
    return paths
