"""What the bulk helpers share: the progress hook type and the ``organization_id`` pass-through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from scaledmail_async._types import UNSET, Unset

__all__ = ["ProgressHook", "listed", "org_kwargs"]

T = TypeVar("T")

ProgressHook = Callable[[int, int], None]
"""``on_progress(done, total)``: called after each unit of work (a call, a batch, an order)."""


def org_kwargs(organization_id: str | Unset | None) -> dict[str, Any]:
    """The ``organization_id`` keyword to pass on to a client method: none for ``UNSET`` (the
    client's own setting applies), else the given value (``None``: send none)."""
    return {} if organization_id is UNSET else {"organization_id": organization_id}


def listed(value: list[T] | Unset) -> list[T]:
    """A model's optional list attribute as a new list (``UNSET``, not sent: empty)."""
    return [] if value is UNSET else list(value)
