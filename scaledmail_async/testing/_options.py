"""The fake server's options (``FakeScaledmail(**options)``; mutable at run time via
``fake.options``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["DEFAULT_API_KEY", "FakeOptions", "RetryAfterHeader"]

#: The API key a default :class:`~scaledmail_async.testing.FakeScaledmail` accepts.
DEFAULT_API_KEY: Final = "sk_test_fake"

RetryAfterHeader = bool | Literal["seconds", "http-date"]


@dataclass
class FakeOptions:
    """Behaviour switches of the fake. Every field has the documented-API default.

    Rate limits
        ``rate_limit`` requests per ``rate_window`` seconds per key (``None``: no global limit);
        ``critical_limit`` per ``critical_window`` for search/suggest/buy domains (``None``: off);
        ``rate_limit_algorithm`` ``"sliding_window"`` | ``"fixed_window"`` | ``"token_bucket"``
        (``burst`` = bucket capacity); ``rate_limits_enabled=False`` switches both off;
        ``retry_after_header``: ``True``/``"seconds"`` (integer seconds, rounded up),
        ``"http-date"``, or ``False`` (no header; the body's ``retryAfter`` stays).
    Order lifecycle
        New orders start "In Progress" and become "Active" after ``activate_after_polls`` polls of
        ``GET /orders/{id}`` (the poll *after* that many shows "Active"; ``0``: active at once)
        or ``activate_after_seconds`` (whichever comes first; both ``None``: only
        ``fake.state.activate_order()`` activates). Swap requests stay "pending" until
        ``fake.state.complete_swap_requests()`` or ``complete_swaps_after_seconds``.
    Rules
        ``require_hosting``: ``hosting`` is required when ``provider=other`` on create-order,
        create-custom-order, submit-form and swap-domain (documented; live support says it may be
        skipped on create-custom-order: set ``False`` for that behaviour everywhere).
        ``max_domains_per_request``: names per search/buy call (documented 10; live accepts 30).
        ``unable_to_charge``: create-order and create-custom-order create the subscription and
        answer 400 "Subscription created but unable to charge" (the live surprise).
    Data
        ``seed`` makes the seeded data and generated ids deterministic; ``taken_ratio`` is the
        share of unregistered names reported taken (by a seeded hash of the name);
        ``taken_domains`` / ``blacklisted_domains`` force names; ``coupons`` maps coupon codes to
        a percentage off.
    Consistency and clocks (for testing reconciliation)
        ``visibility_delay``: seconds (on the fake's clock, ``FakeScaledmail(clock=...)``) before
        what a spend creates can be *read*: an order made by create-order, create-custom-order
        or buy-pre-warm-inboxes is missing from ``GET /orders`` and answers 404 "Order not found"
        on ``GET /orders/{id}`` until then; its domains are missing from ``GET /domains`` (and
        ``GET /mailboxes/{id}`` answers 404); registrations made by buy-domains (or
        create-custom-order ``provider=buy``) are missing from ``GET /purchased-domains``. The
        spend itself is applied at once: its request record says ``applied``, the stock and the
        registry change (buying the same name again fails "not available"), and every write
        path sees it. ``fake.state.reveal_all()`` ends the wait. The delay is stamped on each
        record when it is created (changing the option later affects new spends only).
        ``clock_skew``: seconds the server's wall clock is ahead of the real time (negative:
        behind). It shifts every timestamp the fake reports about records it creates
        (``created_at`` of orders, payments, packages, swap requests; the dates of new
        registrations), the ``Date`` header of every response, and the server-computed parts of
        a 429 (an ``http-date`` ``Retry-After``, the body's ``retryAfter`` epoch). Seeded
        records keep their fixed dates; the fake's own clock (limits, lifecycle, visibility) is
        not affected.
    """

    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    seed: int = 0
    rate_limit: int | None = 5
    rate_window: float = 1.0
    critical_limit: int | None = 15
    critical_window: float = 60.0
    rate_limit_algorithm: Literal["sliding_window", "fixed_window", "token_bucket"] = (
        "sliding_window"
    )
    burst: int | None = None
    rate_limits_enabled: bool = True
    retry_after_header: RetryAfterHeader = True
    activate_after_polls: int | None = 3
    activate_after_seconds: float | None = None
    complete_swaps_after_seconds: float | None = None
    require_hosting: bool = True
    max_domains_per_request: int = 10
    unable_to_charge: bool = False
    taken_ratio: float = 0.3
    taken_domains: frozenset[str] = field(default_factory=frozenset)
    blacklisted_domains: frozenset[str] = field(default_factory=frozenset)
    coupons: dict[str, float] = field(default_factory=lambda: {"WELCOME10": 10.0})
    visibility_delay: float = 0.0
    clock_skew: float = 0.0
    #: Seconds the server waits for in-flight handlers on close before cancelling them.
    shutdown_timeout: float = 0.5

    def __post_init__(self) -> None:
        if not self.api_keys or any(not isinstance(k, str) or not k for k in self.api_keys):
            raise ValueError("api_keys must be non-empty strings")
        if self.retry_after_header not in (True, False, "seconds", "http-date"):
            raise ValueError("retry_after_header must be True, False, 'seconds' or 'http-date'")
        if not 0.0 <= self.taken_ratio <= 1.0:
            raise ValueError("taken_ratio must be between 0 and 1")
        if (
            isinstance(self.visibility_delay, bool)
            or not isinstance(self.visibility_delay, int | float)
            or not math.isfinite(self.visibility_delay)
            or self.visibility_delay < 0
        ):
            raise ValueError("visibility_delay must be a finite number of seconds >= 0")
        if (
            isinstance(self.clock_skew, bool)
            or not isinstance(self.clock_skew, int | float)
            or not math.isfinite(self.clock_skew)
        ):
            raise ValueError("clock_skew must be a finite number of seconds")
        self.taken_domains = frozenset(d.lower() for d in self.taken_domains)
        self.blacklisted_domains = frozenset(d.lower() for d in self.blacklisted_domains)

    def __repr__(self) -> str:
        # Never show the keys themselves.
        return f"FakeOptions(seed={self.seed}, api_keys=<{len(self.api_keys)} key(s)>, ...)"
