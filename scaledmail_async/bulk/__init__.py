"""Bulk helpers: the loops users write by hand around the Scaledmail API.

- :func:`search_domains_all`: availability of any number of names (batches of the documented 10).
- :func:`iter_suggested_domains`: every page of suggest-domains as one async iterator.
- :func:`poll_orders`: watch many orders until they are provisioned, sharing the rate limit fairly.
- :func:`map_concurrent`: bounded-concurrency map with per-item results (never fails the batch;
  ``on_result`` reports each item as it finishes).
- :func:`update_redirects` and :func:`inventory`: built on :func:`map_concurrent`.

Every helper goes through the client's methods, so the client's limiter (5 requests/second, and
15/minute for the "critical" domain operations), retries and validation apply unchanged; the
helpers add no pacing of their own beyond polling intervals. Each takes ``on_progress(done,
total)``, called after each unit of work, for progress bars.

Stopping keeps what was done
----------------------------

A cancellation (``task.cancel()``, ``asyncio.timeout``, Ctrl-C under ``asyncio.run``, a
``TaskGroup`` cancelling its siblings) stops a helper's calls mid-flight; what had finished is
never lost:

- **the exception**: the helper re-raises the very :class:`asyncio.CancelledError` it got (never
  a subclass or a new one, so ``asyncio.timeout``, ``TaskGroup`` and the task's cancel count
  behave as without the SDK), with ``exc.partial`` set to the finished work, in the shape the
  helper returns: ``list[Result]`` (:func:`map_concurrent`, :func:`update_redirects`), a
  :class:`DomainSearchResults` with ``not_searched`` (:func:`search_domains_all`), an
  :class:`Inventory` (:func:`inventory`), the items yielded (:func:`iter_suggested_domains`), a
  :class:`PollSummary` (:func:`poll_orders`). Any other exception ending a helper (a failing
  batch, an exception of a callback, ``KeyboardInterrupt``) carries it the same way.
  :func:`partial_results` reads it from the exception or from the exceptions linked to it:
  ``asyncio.run`` answers Ctrl-C by cancelling the main task and then raises
  :class:`KeyboardInterrupt`, whose ``__context__`` is that ``CancelledError``, so
  ``partial_results(exc)`` works on the ``KeyboardInterrupt`` too (and on the
  :class:`TimeoutError` of ``asyncio.timeout``, and when awaiting a cancelled task);
- **the callback**: ``on_result(result)`` (:func:`map_concurrent`, :func:`update_redirects`)
  is called for each item the moment it finishes, so every finished item has been reported
  before the cancellation propagates;
- **the iterator**: an async iterator cannot yield once its consumer is cancelled (that would
  swallow the cancellation), so what it had not yielded stays reachable:
  :func:`iter_suggested_domains` yields a whole page before requesting the next one (nothing
  fetched is ever held back), and :class:`OrderPoller` keeps its summary attributes and the
  events observed but not yielded in ``poller.undelivered``.

The calls cut off mid-request are the ones whose outcome is unknown. For a spend
(``Operation.spends_money``: buy_domains, buy_pre_warm_inboxes, create_order,
create_custom_order, submit_form) whose request may have been written, the client logs a
WARNING on the ``scaledmail_async`` logger naming the operation and its order tag (or domains)
and how to reconcile it (``client.reconcile(tag)`` / ``scaledmail purchases reconcile``); with a
purchase journal the entry stays ``pending`` (sent), which ``reconcile_pending()`` resolves. A
spend cancelled before its request left (waiting for the rate limiter) was not sent and is not
logged.

One module per helper family: ``_concurrent`` (:func:`map_concurrent`, :class:`Result`),
``_domains`` (search and suggestions), ``_poll`` (:func:`poll_orders` and its events),
``_inventory`` (:func:`inventory`, :func:`update_redirects`); ``_common`` holds what they share
(the progress hook, :func:`partial_results`).
"""

from scaledmail_async.bulk._common import ProgressHook, partial_results
from scaledmail_async.bulk._concurrent import Result, ResultHook, map_concurrent
from scaledmail_async.bulk._domains import (
    DomainSearchResults,
    iter_suggested_domains,
    search_domains_all,
)
from scaledmail_async.bulk._inventory import Inventory, InventoryError, inventory, update_redirects
from scaledmail_async.bulk._poll import (
    OrderPoller,
    PollEvent,
    PollOutcome,
    PollSummary,
    PollTimeout,
    order_is_active,
    poll_orders,
)

__all__ = [
    "DomainSearchResults",
    "Inventory",
    "InventoryError",
    "OrderPoller",
    "PollEvent",
    "PollOutcome",
    "PollSummary",
    "PollTimeout",
    "ProgressHook",
    "Result",
    "ResultHook",
    "inventory",
    "iter_suggested_domains",
    "map_concurrent",
    "order_is_active",
    "partial_results",
    "poll_orders",
    "search_domains_all",
    "update_redirects",
]
