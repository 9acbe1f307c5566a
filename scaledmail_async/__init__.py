"""scaledmail-async: the async Python SDK for the Scaledmail API.

Quick start::

    from scaledmail_async import ScaledmailClient

    async with ScaledmailClient() as client:          # key from SCALEDMAIL_API_KEY
        orders = await client.get_orders()
        details = await client.get_order_details(orders.payments[0].id)

The operations are methods of :class:`ScaledmailClient` and coroutine functions in
``scaledmail_async.api.<tag>``; the models are in :mod:`scaledmail_async.models`; the bulk helpers
in :mod:`scaledmail_async.bulk`; errors in :mod:`scaledmail_async.errors`; the embedded fake server
in :mod:`scaledmail_async.testing`.
"""

from scaledmail_async._client import ScaledmailClient
from scaledmail_async._journal import (
    DuplicatePurchaseError,
    JournalEntry,
    JournalUnavailableError,
    PurchaseJournal,
    SQLitePurchaseJournal,
)
from scaledmail_async._journal_redis import RedisPurchaseJournal
from scaledmail_async._lanes import Priority, priority
from scaledmail_async._limiter import CRITICAL_GROUP, InProcessLimiter, LimiterTimeout, RateLimiter
from scaledmail_async._limiter_redis import LimiterUnavailableError, RedisRateLimiter
from scaledmail_async._reconcile import Reconciliation
from scaledmail_async._response import APIResponse
from scaledmail_async._types import UNSET, JSONValue, Unlisted, Unset
from scaledmail_async._version import __version__
from scaledmail_async.bulk import (
    DomainSearchResults,
    Inventory,
    InventoryError,
    OrderPoller,
    PollEvent,
    PollOutcome,
    PollSummary,
    PollTimeout,
    Result,
    inventory,
    iter_suggested_domains,
    map_concurrent,
    order_is_active,
    partial_results,
    poll_orders,
    search_domains_all,
    update_redirects,
)
from scaledmail_async.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ClientClosedOutcomeUnknownError,
    ConfigurationError,
    ConflictError,
    InternalServerError,
    MissingAPIKeyError,
    MissingOrganizationError,
    NotFoundError,
    OutcomeUnknownError,
    PaymentPendingError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ScaledmailError,
    UnprocessableEntityError,
)

__all__ = [
    "CRITICAL_GROUP",
    "UNSET",
    "APIConnectionError",
    "APIError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientClosedOutcomeUnknownError",
    "ConfigurationError",
    "ConflictError",
    "DomainSearchResults",
    "DuplicatePurchaseError",
    "InProcessLimiter",
    "InternalServerError",
    "Inventory",
    "InventoryError",
    "JSONValue",
    "JournalEntry",
    "JournalUnavailableError",
    "LimiterTimeout",
    "LimiterUnavailableError",
    "MissingAPIKeyError",
    "MissingOrganizationError",
    "NotFoundError",
    "OrderPoller",
    "OutcomeUnknownError",
    "PaymentPendingError",
    "PermissionDeniedError",
    "PollEvent",
    "PollOutcome",
    "PollSummary",
    "PollTimeout",
    "Priority",
    "PurchaseJournal",
    "RateLimitError",
    "RateLimiter",
    "Reconciliation",
    "RedisPurchaseJournal",
    "RedisRateLimiter",
    "RequestValidationError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "Result",
    "SQLitePurchaseJournal",
    "ScaledmailClient",
    "ScaledmailError",
    "Unlisted",
    "UnprocessableEntityError",
    "Unset",
    "__version__",
    "inventory",
    "iter_suggested_domains",
    "map_concurrent",
    "order_is_active",
    "partial_results",
    "poll_orders",
    "priority",
    "search_domains_all",
    "update_redirects",
]
