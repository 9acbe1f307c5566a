"""The ``UNSET`` sentinel: "missing is not null".

A request field left at ``UNSET`` is not sent at all; a field set to ``None`` is sent as JSON
``null``. Response fields the server did not send are ``UNSET`` too, so callers can tell "absent"
from "null". This is openapi-python-client's ``Unset`` model; cattrs has no built-in sentinel
(cattrs issue #178), so the converter handles it (``scaledmail_async._converter``).
"""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias

__all__ = ["UNSET", "Unset"]


class _UnsetType(enum.Enum):
    """The type of :data:`UNSET` (an enum so that ``Literal[UNSET]`` narrows under mypy)."""

    UNSET = "UNSET"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "UNSET"

    def __copy__(self) -> _UnsetType:
        return self

    def __deepcopy__(self, memo: object) -> _UnsetType:
        return self


UNSET: Final = _UnsetType.UNSET
"""The value of every optional field or parameter the caller did not give."""

Unset: TypeAlias = Literal[_UnsetType.UNSET]
"""The type of :data:`UNSET`, for annotations: ``tag: str | Unset = UNSET``."""
