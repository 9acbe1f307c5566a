"""``APIResponse[T]``: the parsed value together with what the transport saw.

Returned by ``client.with_raw_response.<operation>(...)`` and by the generated api functions when
called with ``raw=True`` (openapi-python-client's ``Response[T]`` and Stainless'
``with_raw_response``, with the limiter wait added).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

import attrs

from scaledmail_async._metadata import LimiterState

__all__ = ["APIResponse"]

T = TypeVar("T")


@attrs.frozen(slots=True)
class APIResponse(Generic[T]):
    """One successful call: the parsed model plus status, headers and timing."""

    #: The body structured into the operation's response type.
    parsed: T
    #: The HTTP status of the final attempt.
    status_code: int
    #: The response headers of the final attempt.
    headers: Mapping[str, str] = attrs.field(repr=False)
    #: How many retries were needed (0 = the first attempt succeeded).
    retries_taken: int
    #: Seconds spent waiting for the client-side rate limiter, over all attempts.
    limiter_wait: float
    #: Seconds from the start of the call to the end of the final response, all included.
    elapsed: float
    #: The operationId (or ``"METHOD /path"`` for :meth:`ScaledmailClient.request`).
    operation: str
    #: The server's request id, from a request-id response header when it sends one (quote it
    #: to support); ``None`` otherwise.
    request_id: str | None = None
    #: The client's rate limiter when the call ended (pace, remaining pause), ``None`` when the
    #: limiter cannot say without a round trip (Redis).
    limiter_state: LimiterState | None = None
