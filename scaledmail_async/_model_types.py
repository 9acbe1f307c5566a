"""The generated models as the runtime code sees them: every model class and enum, and how their
attribute types are spelled.

The generated attributes use a few shapes only: ``X`` (required), ``X | Unset`` (optional),
``X | None | Unset`` (optional and nullable), ``TheEnum | str`` (an open enum: unknown values are
kept as strings; ``TheEnum | Literal[...] | Unlisted`` in request-only models), ``object`` (a
value the spec gives no type), and ``list[...]`` / ``dict[str, ...]`` of those. The converters
(:mod:`scaledmail_async._converter`), the fast structuring path
(:mod:`scaledmail_async._fast_structure`) and the request encoders
(:mod:`scaledmail_async._wire`) read them through the helpers here, so the rules for "which part of
a union is the value's type" are written once.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any, Final, get_args

from scaledmail_async import models
from scaledmail_async._types import Unlisted, Unset
from scaledmail_async.models._wire_names import WIRE_NAMES

__all__ = [
    "ENUM_CLASSES",
    "MODEL_CLASSES",
    "MODEL_SET",
    "NONE_TYPE",
    "is_unset",
    "open_enum",
    "union_args",
    "value_types",
]

NONE_TYPE: Final = type(None)

#: Every generated model class, by name (the names of ``WIRE_NAMES``).
MODEL_CLASSES: Final[dict[str, type[Any]]] = {name: getattr(models, name) for name in WIRE_NAMES}

#: Every generated enum.
ENUM_CLASSES: Final[tuple[type[enum.Enum], ...]] = tuple(
    value
    for value in vars(models).values()
    if isinstance(value, type)
    and issubclass(value, enum.Enum)
    and value.__module__ == models.__name__
)

#: The generated model classes, for ``tp in MODEL_SET`` tests.
MODEL_SET: Final = frozenset(MODEL_CLASSES.values())


def is_unset(tp: Any) -> bool:
    """Whether ``tp`` is the ``Unset`` type (``Literal[UNSET]``)."""
    return bool(tp == Unset)


def union_args(tp: Any) -> tuple[Any, ...] | None:
    """The members of union type ``tp`` (``X | Y`` or ``Union[X, Y]``), or ``None``."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return get_args(tp)
    return None


def value_types(tp: Any) -> tuple[tuple[Any, ...], bool]:
    """``(types, nullable)`` of an attribute type: its members other than ``None`` and ``Unset``
    (``(tp,)`` for a type that is not a union), and whether ``None`` is one of them."""
    args = union_args(tp)
    if args is None:
        return (tp,), False
    rest = tuple(a for a in args if a is not NONE_TYPE and not is_unset(a))
    return rest, NONE_TYPE in args


def _is_string_alternative(tp: Any) -> bool:
    """``str``, ``Unlisted`` or a ``Literal`` of strings: what may stand beside an enum."""
    if tp is str or tp is Unlisted:
        return True
    return typing.get_origin(tp) is typing.Literal and all(type(a) is str for a in get_args(tp))


def open_enum(args: tuple[Any, ...]) -> type[enum.Enum] | None:
    """The enum of an open-enum union (``args`` without None/Unset), else None: ``TheEnum | str``
    (responses: unknown values kept as strings) or ``TheEnumValue`` = ``TheEnum |
    Literal[...] | Unlisted`` (request-only models: any string is still sent as given)."""
    if len(args) >= 2 and isinstance(args[0], type) and issubclass(args[0], enum.Enum):
        if all(_is_string_alternative(a) for a in args[1:]):
            return args[0]
    return None
