"""The ``UNSET`` sentinel: "missing is not null".

A request field left at ``UNSET`` is not sent at all; a field set to ``None`` is sent as JSON
``null``. Response fields the server did not send are ``UNSET`` too, so callers can tell "absent"
from "null". This is openapi-python-client's ``Unset`` model; cattrs has no built-in sentinel
(cattrs issue #178), so the converter handles it (``scaledmail_async._converter``).
"""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias

__all__ = ["UNSET", "JSONValue", "QueryValue", "Unlisted", "Unset"]


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


class Unlisted(str):
    """A value the spec does not list (yet) for an enumerated field or parameter.

    Enumerated request values are typed as the enum or its literal strings
    (``tier="max"``, ``tier=CalculationTier.MAX``), so a type checker reports a misspelt
    ``"maxx"``. When the API accepts a value the spec does not know yet, say so explicitly:
    ``tier=Unlisted("ultra")``. It is sent as the plain string.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Unlisted({str.__repr__(self)})"


JSONValue: TypeAlias = "dict[str, JSONValue] | list[JSONValue] | str | int | float | bool | None"
"""Any value JSON can hold, as ``json.loads`` returns it: what ``client.request()`` returns."""

QueryValue: TypeAlias = "str | int | float | bool | Unset | None"
"""A query parameter value for ``client.request(params=...)`` (``None``/``UNSET``: not sent)."""
