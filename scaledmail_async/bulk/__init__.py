"""Bulk helpers: the loops users write by hand around the Scaledmail API.

- :func:`search_domains_all`: availability of any number of names (batches of the documented 10).
- :func:`iter_suggested_domains`: every page of suggest-domains as one async iterator.
- :func:`poll_orders`: watch many orders until they are provisioned, sharing the rate limit fairly.
- :func:`map_concurrent`: bounded-concurrency map with per-item results (never fails the batch).
- :func:`update_redirects` and :func:`inventory`: built on :func:`map_concurrent`.

Every helper goes through the client's methods, so the client's limiter (5 requests/second, and
15/minute for the "critical" domain operations), retries and validation apply unchanged; the
helpers add no pacing of their own beyond polling intervals. Each takes ``on_progress(done,
total)``, called after each unit of work, for progress bars.

One module per helper family: ``_concurrent`` (:func:`map_concurrent`, :class:`Result`),
``_domains`` (search and suggestions), ``_poll`` (:func:`poll_orders` and its events),
``_inventory`` (:func:`inventory`, :func:`update_redirects`); ``_common`` holds what they share.
"""

from scaledmail_async.bulk._common import ProgressHook
from scaledmail_async.bulk._concurrent import Result, map_concurrent
from scaledmail_async.bulk._domains import (
    DomainSearchResults,
    iter_suggested_domains,
    search_domains_all,
)
from scaledmail_async.bulk._inventory import Inventory, InventoryError, inventory, update_redirects
from scaledmail_async.bulk._poll import (
    OrderPoller,
    PollEvent,
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
    "PollTimeout",
    "ProgressHook",
    "Result",
    "inventory",
    "iter_suggested_domains",
    "map_concurrent",
    "order_is_active",
    "poll_orders",
    "search_domains_all",
    "update_redirects",
]
