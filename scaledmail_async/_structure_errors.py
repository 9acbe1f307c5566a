"""Renders a structuring error of the converters as ``(path, message)`` pairs with wire names.

cattrs reports a failed ``structure`` as a tree of ``ClassValidationError`` /
``IterableValidationError`` with attribute names and list indexes; :func:`structure_errors`
flattens it into ``$.packages[0].domains[3].status`` style paths, with each model attribute
written as its JSON (wire) name, for decode errors and the tests.
"""

from __future__ import annotations

from typing import Any

from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

from scaledmail_async._model_types import MODEL_CLASSES
from scaledmail_async.models._wire_names import WIRE_NAMES

__all__ = ["structure_error_path", "structure_errors"]


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
