"""Priority lanes: which of a key's queued calls the rate limiter serves first.

A call is either ``"interactive"`` (made directly, e.g. from a web request handler: served first)
or ``"bulk"`` (the bulk helpers' background work: takes every slot interactive calls leave, so it
is never starved). The lane of a call is, in this order: the ``priority=`` the call was made with
(:func:`priority` around it, or a bulk helper's ``priority=`` argument), else the client's
``ScaledmailClient(priority=...)``, else ``"interactive"``.

The lane travels in a :mod:`contextvars` variable, so tasks created inside ``with priority(...)``
(the bulk helpers' workers) inherit it, and the generated operation signatures need no extra
parameter.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, get_args

__all__ = ["LANES", "Priority", "check_priority", "current_priority", "priority"]

Priority = Literal["interactive", "bulk"]
LANES: tuple[Priority, ...] = get_args(Priority)

_lane: contextvars.ContextVar[Priority | None] = contextvars.ContextVar(
    "scaledmail_async_priority", default=None
)


def check_priority(value: object, *, field: str = "priority") -> Priority:
    """Return ``value`` as a :data:`Priority`, or raise a ``ValueError`` naming the choices."""
    if value == "interactive":
        return "interactive"
    if value == "bulk":
        return "bulk"
    from scaledmail_async.errors import ConfigurationError

    raise ConfigurationError(f"{field} must be 'interactive' or 'bulk', not {value!r}")


def current_priority() -> Priority | None:
    """The lane chosen for the current context with :func:`priority`, or ``None``."""
    return _lane.get()


@contextmanager
def priority(lane: Priority) -> Iterator[None]:
    """Run the calls made inside the block (and in tasks it creates) in ``lane``.

    ::

        with scaledmail_async.priority("bulk"):
            await client.get_orders()   # waits behind the key's interactive calls
    """
    token = _lane.set(check_priority(lane))
    try:
        yield
    finally:
        _lane.reset(token)
