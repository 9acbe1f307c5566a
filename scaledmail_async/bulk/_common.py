"""What the bulk helpers share: the progress hook type, the ``organization_id`` pass-through and
the partial results an interrupted helper leaves on the exception (:func:`partial_results`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

from scaledmail_async._types import UNSET, Unset

if TYPE_CHECKING:
    from scaledmail_async._client import ScaledmailClient
    from scaledmail_async._view import ClientView

#: What the bulk helpers call through: a client, or a view of one (``client.with_options(...)``).
Client: TypeAlias = "ScaledmailClient | ClientView"

__all__ = [
    "PARTIAL_ATTRIBUTE",
    "ProgressHook",
    "keep_partial",
    "listed",
    "org_kwargs",
    "own_partial",
    "partial_results",
]

T = TypeVar("T")

ProgressHook = Callable[[int, int], None]
"""``on_progress(done, total)``: called after each unit of work (a call, a batch, an order)."""

#: The attribute of the exception a bulk helper raises that holds what it finished before it.
PARTIAL_ATTRIBUTE: Final = "partial"

#: How many linked exceptions :func:`partial_results` looks through at most.
_MAX_CHAIN: Final = 64


def org_kwargs(organization_id: str | Unset | None) -> dict[str, Any]:
    """The ``organization_id`` keyword to pass on to a client method: none for ``UNSET`` (the
    client's own setting applies), else the given value (``None``: send none)."""
    return {} if organization_id is UNSET else {"organization_id": organization_id}


def listed(value: list[T] | Unset) -> list[T]:
    """A model's optional list attribute as a new list (``UNSET``, not sent: empty)."""
    return [] if value is UNSET else list(value)


def keep_partial(exc: BaseException, partial: object) -> None:
    """Set ``exc.partial`` to what a helper finished before ``exc`` stopped it.

    The exception itself is left as it is (its type, message and identity: the very
    ``CancelledError`` of a cancellation goes on, so ``asyncio.timeout``, ``TaskGroup`` and the
    task's cancellation state work unchanged). A helper around another one overwrites the inner
    helper's value with its own. An exception that takes no attributes is left alone."""
    if isinstance(exc, GeneratorExit):
        return
    try:
        setattr(exc, PARTIAL_ATTRIBUTE, partial)
    except (AttributeError, TypeError):  # pragma: no cover - exceptions with __slots__
        pass


def own_partial(exc: BaseException) -> Any:
    """``exc.partial`` as an inner helper left it (``None``: none), without following links."""
    return getattr(exc, PARTIAL_ATTRIBUTE, None)


def partial_results(exc: BaseException | None) -> Any:
    """What a bulk helper had finished when ``exc`` stopped it, or ``None``.

    Every helper of :mod:`scaledmail_async.bulk` that ends by raising (a cancellation, Ctrl-C,
    an error of a batch, an exception of a callback) leaves its finished work on that exception
    as ``exc.partial`` before re-raising it, unchanged: the ``CancelledError`` of a cancellation
    stays a plain :class:`asyncio.CancelledError`. This function finds it on ``exc`` or on the
    exceptions linked to it (``__cause__``, ``__context__``, the members of an exception group),
    so it also works on the :class:`KeyboardInterrupt` ``asyncio.run`` raises after Ctrl-C
    cancelled the main task, and on the :class:`TimeoutError` of ``asyncio.timeout``. What it
    holds, per helper:

    - :func:`map_concurrent`, :func:`update_redirects`: ``list[Result]``, the items that
      finished (successes and failures), in input order;
    - :func:`search_domains_all`: a :class:`DomainSearchResults` of the batches answered, with
      ``not_searched`` the names whose batch had not answered;
    - :func:`inventory`: an :class:`Inventory` of the calls that finished;
    - :func:`iter_suggested_domains`: ``list[DomainAvailability]``, everything yielded;
    - :func:`poll_orders`: a :class:`PollSummary` (how each order ended so far, and the events
      observed but not yielded).
    """
    seen: set[int] = set()
    todo: list[BaseException] = [] if exc is None else [exc]
    while todo and len(seen) < _MAX_CHAIN:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        found = getattr(current, PARTIAL_ATTRIBUTE, None)
        if found is not None:
            return found
        linked = [current.__cause__, current.__context__]
        if isinstance(current, BaseExceptionGroup):
            linked.extend(current.exceptions)
        todo.extend(e for e in linked if e is not None)
    return None
