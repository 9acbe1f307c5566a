"""The base class of every generated model: ``to_dict()``, ``to_json()`` and ``from_dict()``.

A model's wire form is what the converter (:mod:`scaledmail_async._converter`) writes: wire
(camelCase) names, ``UNSET`` attributes left out, ``None`` as ``null``, enums as their values,
datetimes in the API's ``2026-03-14T09:26:53.000Z`` form, dates as ``YYYY-MM-DD``, and the keys the
model does not declare (``additional_properties``) kept. So ``Model.from_dict(m.to_dict()) == m``,
and a service can hand a model to its own callers as JSON (``web.json_response(m.to_dict())``,
a FastAPI handler returning ``m.to_dict()``) without ``attrs.asdict``, which shows Python names
and ``UNSET``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Self, cast

__all__ = ["ScaledmailModel"]


class ScaledmailModel:
    """What every generated model (an attrs class) can do besides holding its attributes."""

    __slots__ = ()

    def to_dict(self) -> dict[str, object]:
        """The model as plain JSON data with the API's wire names (a new dict each call)."""
        from scaledmail_async._converter import unstructure

        return cast("dict[str, object]", unstructure(self))

    def to_json(self, *, indent: int | None = None) -> str:
        """The model as a JSON document (UTF-8 text, non-ASCII kept): ``to_dict()`` encoded."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build the model from JSON data with wire names, as a response is decoded (unknown
        keys go to ``additional_properties``, unknown enum values stay strings). Raises
        ``ValueError`` naming each field that does not fit (``$.payments[0].id: required field
        missing``)."""
        from scaledmail_async._converter import structure
        from scaledmail_async._structure_errors import structure_errors

        try:
            return structure(data, cls)
        except Exception as exc:
            problems = "; ".join(f"{path}: {message}" for path, message in structure_errors(exc))
            raise ValueError(f"{cls.__name__}.from_dict: {problems}") from None
