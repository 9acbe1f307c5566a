"""Every exception the SDK raises.

The hierarchy follows the Stainless SDKs (openai-python, anthropic) that users already know::

    ScaledmailError
    ├── RequestValidationError (also ValueError)   bad input found before anything was sent
    ├── ClientClosedError                          the client was closed
    └── APIError
        ├── APIStatusError                         a non-2xx response
        │   ├── BadRequestError (400)
        │   │   └── PaymentPendingError            "Subscription created but unable to charge"
        │   ├── AuthenticationError (401)
        │   ├── PermissionDeniedError (403)
        │   ├── NotFoundError (404)
        │   ├── ConflictError (409)
        │   ├── UnprocessableEntityError (422)
        │   ├── RateLimitError (429)
        │   └── InternalServerError (>= 500)
        ├── APIConnectionError                     the request could not be completed
        │   └── APITimeoutError
        ├── OutcomeUnknownError                    a spending call whose result cannot be known
        │   └── ClientClosedOutcomeUnknownError    ... because aclose() interrupted it after sending
        │                                          (also a ClientClosedError)
        └── ResponseDecodeError                    a 2xx body that is not JSON or not as documented
            └── ResponseTooLargeError              a body over max_response_size

Messages name what failed and what to do. URLs never carry secrets (the API key travels only in the
``Authorization`` header, which no error keeps).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from multidict import CIMultiDict

if TYPE_CHECKING:
    from scaledmail_async._metadata import LimiterState

__all__ = [
    "REDACTED",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientClosedOutcomeUnknownError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "MissingAPIKeyError",
    "MissingOrganizationError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PaymentPendingError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ScaledmailError",
    "UnprocessableEntityError",
    "status_error_class",
]


class ScaledmailError(Exception):
    """Base class of everything the SDK raises."""


#: The one marker that replaces a secret (the API key, a sensitive query value, a password)
#: wherever the SDK shows text: reprs, errors, logs, URLs.
REDACTED: Final = "[REDACTED]"


class MissingAPIKeyError(ScaledmailError, ValueError):
    """No API key was given and ``SCALEDMAIL_API_KEY`` is not set (or the key is malformed).
    Nothing was sent."""


class RequestValidationError(ScaledmailError, ValueError):
    """Input that breaks a documented rule, found before any request was sent.

    ``field`` names the offending field as a path (``"body.providers.google.domains[0].aliases"``,
    ``"order_id"``, ``"provider"``); ``operation`` is the operationId when known.
    """

    def __init__(self, message: str, *, field: str, operation: str | None = None) -> None:
        self.field = field
        self.operation = operation
        self.message = message
        where = f"{operation}: " if operation else ""
        super().__init__(f"{where}invalid {field}: {message}")


class MissingOrganizationError(RequestValidationError):
    """An operation that needs an organization was called without one (no per-call
    ``organization_id=``, no client ``organization_id``, no ``SCALEDMAIL_ORGANIZATION_ID``).
    Nothing was sent. ``field`` is ``"organization_id"``."""

    def __init__(self, operation: str) -> None:
        self.field = "organization_id"
        self.operation = operation
        self.message = (
            "this operation needs an organization and none is set: pass organization_id= to the "
            "call or to ScaledmailClient(organization_id=...), or set SCALEDMAIL_ORGANIZATION_ID "
            "(your organizations: await client.get_organizations(), or `scaledmail organizations "
            "get-organizations`)"
        )
        # Not RequestValidationError's "invalid organization_id" wording: nothing was given.
        ScaledmailError.__init__(self, f"{operation}: missing organization_id: {self.message}")


class ConfigurationError(ScaledmailError, ValueError):
    """A bad setting (a constructor argument, an environment variable, a limiter or journal
    option), found before any request was sent. Also a ``ValueError``."""


class ClientClosedError(ScaledmailError):
    """The client was closed (``aclose()``) before or while the call ran."""


class APIError(ScaledmailError):
    """A failure talking to the API (a status, a connection problem, an unknown outcome...)."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        #: The request URL without secrets (the key is only ever in a header).
        self.url = url
        self.operation = operation
        #: The server's request id (a request-id response header), when it sent one.
        self.request_id: str | None = None
        #: How many retries the call made before this error (0: it failed on the first attempt).
        self.retries_taken = 0
        #: Seconds the call waited for the client-side rate limiter, over all attempts.
        self.limiter_wait = 0.0
        #: The client's rate limiter when the call ended (pace, remaining pause), if known.
        self.limiter_state: LimiterState | None = None


class APIStatusError(APIError):
    """The API answered with a non-2xx status.

    ``body`` is the parsed JSON body when it was JSON, else the raw text.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str,
        url: str,
        body: Any,
        headers: Mapping[str, str] | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, operation=operation)
        self.status_code = status_code
        self.body = body
        #: The response headers, looked up in any case (aiohttp 3.14 spells some names its own
        #: way: ``X-Request-ID`` for the server's ``X-Request-Id``).
        self.headers: Mapping[str, str] = CIMultiDict(headers or {})


class BadRequestError(APIStatusError):
    """400: the API rejected the request; the body says why (``error`` or ``message``)."""


class PaymentPendingError(BadRequestError):
    """400 "Subscription created but unable to charge".

    The subscription **was created**; the card needs confirmation in the web app (Billing).
    Never retry: that would create a second subscription.
    """


class AuthenticationError(APIStatusError):
    """401: the API key is missing or invalid. Get a key at https://app.scaledmail.com/settings."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this (wrong organization, or a revoked key)."""


class NotFoundError(APIStatusError):
    """404: no such resource (check the id and the organization)."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's state."""


class UnprocessableEntityError(APIStatusError):
    """422: the API understood the request but cannot process it."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` is the hinted wait in seconds when known."""

    retry_after: float | None = None


class InternalServerError(APIStatusError):
    """A 5xx from the server."""


class APIConnectionError(APIError):
    """The request could not be completed: connection refused or reset, DNS failure, ..."""


class APITimeoutError(APIConnectionError):
    """The request (or the call's overall deadline) timed out."""


class OutcomeUnknownError(APIError):
    """A spending call failed after the request may have reached the server.

    The purchase may or may not have happened, so the SDK does not retry it. Reconcile before
    trying again: list the orders (``get_orders``) and read each one's details
    (``get_order_details``) to find the order by its ``tag``.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        method: str,
        url: str,
        tag: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, operation=operation)
        self.tag = tag
        self.cause = cause
        #: The purchase journal's entry of this spend, when a journal is configured
        #: (``scaledmail_async.JournalEntry``): reconcile it with ``client.reconcile(entry)``.
        self.entry: Any = None


class ClientClosedOutcomeUnknownError(OutcomeUnknownError, ClientClosedError):
    """``aclose()`` interrupted a spending call after its request may have been sent.

    Both an :class:`OutcomeUnknownError` (the purchase may have happened: reconcile by ``tag``
    before trying again) and a :class:`ClientClosedError`. A spending call interrupted before
    anything could be sent (waiting for the rate limiter or a retry, connecting) raises a plain
    :class:`ClientClosedError`.
    """


class ResponseDecodeError(APIError):
    """A 2xx response whose body is not JSON or not the documented shape. ``text`` keeps it."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status_code: int,
        text: str,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, operation=operation)
        self.status_code = status_code
        self.text = text


class ResponseTooLargeError(ResponseDecodeError):
    """A 2xx body larger than the client's ``max_response_size``; it was not read to its end.

    ``limit`` is the cap in bytes; ``size`` the declared ``Content-Length`` when it was over the
    cap, else the bytes received (decompressed) when reading stopped. ``text`` is empty. For a
    spending call the server accepted the request: the purchase went through (the message says
    so); find it by its tag instead of retrying.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status_code: int,
        limit: int,
        size: int | None,
        operation: str | None = None,
    ) -> None:
        super().__init__(
            message,
            method=method,
            url=url,
            status_code=status_code,
            text="",
            operation=operation,
        )
        self.limit = limit
        self.size = size


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP status (>= 500 gives :class:`InternalServerError`)."""
    if status >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status, APIStatusError)
