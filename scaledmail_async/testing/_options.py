"""The fake server's options (``FakeScaledmail(**options)``; mutable at run time via
``fake.options``)."""

from __future__ import annotations

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
    #: Seconds the server waits for in-flight handlers on close before cancelling them.
    shutdown_timeout: float = 0.5

    def __post_init__(self) -> None:
        if not self.api_keys or any(not isinstance(k, str) or not k for k in self.api_keys):
            raise ValueError("api_keys must be non-empty strings")
        if self.retry_after_header not in (True, False, "seconds", "http-date"):
            raise ValueError("retry_after_header must be True, False, 'seconds' or 'http-date'")
        if not 0.0 <= self.taken_ratio <= 1.0:
            raise ValueError("taken_ratio must be between 0 and 1")
        self.taken_domains = frozenset(d.lower() for d in self.taken_domains)
        self.blacklisted_domains = frozenset(d.lower() for d in self.blacklisted_domains)

    def __repr__(self) -> str:
        # Never show the keys themselves.
        return f"FakeOptions(seed={self.seed}, api_keys=<{len(self.api_keys)} key(s)>, ...)"
