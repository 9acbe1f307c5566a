"""The retry decision as a table: what the send loop does with each answer or failure, per
safety class (``safe`` reads and idempotent writes; ``pre-send-only`` spends)."""

from __future__ import annotations

import pytest

from scaledmail_async._retry import after_failure, after_status

SAFE, SPEND = True, False

STATUS_TABLE = [
    # status, safe, payment_pending, action
    (200, SAFE, False, "return"),
    (204, SPEND, False, "return"),
    (400, SAFE, False, "raise"),
    (400, SPEND, False, "raise"),
    (400, SPEND, True, "raise"),  # subscription created but unable to charge: never retried
    (401, SAFE, False, "raise"),
    (404, SAFE, False, "raise"),
    (408, SAFE, False, "retry"),
    (408, SPEND, False, "outcome_unknown"),
    (409, SAFE, False, "raise"),
    (429, SAFE, False, "rate_limited"),
    (429, SPEND, False, "rate_limited"),  # rejected before processing: may be re-sent
    (500, SAFE, False, "retry"),
    (500, SPEND, False, "outcome_unknown"),
    (501, SAFE, False, "raise"),
    (502, SAFE, False, "retry"),
    (503, SPEND, False, "outcome_unknown"),
    (504, SAFE, False, "retry"),
    (599, SPEND, False, "outcome_unknown"),
]


@pytest.mark.parametrize(("status", "safe", "pending", "action"), STATUS_TABLE)
def test_after_status(status: int, safe: bool, pending: bool, action: str) -> None:
    assert after_status(status, safe=safe, payment_pending=pending) == action


FAILURE_TABLE = [
    # safe, pre_send, timed_out, cut_by_deadline, action
    (SAFE, True, False, False, "retry"),  # connection refused
    (SAFE, False, True, False, "retry"),  # read timeout of a read
    (SAFE, False, True, True, "deadline"),  # the call's deadline cut it
    (SAFE, True, True, True, "deadline"),
    (SPEND, True, False, False, "retry"),  # never sent: even a spend is retried
    (SPEND, True, True, True, "deadline"),
    (SPEND, False, False, False, "outcome_unknown"),  # reset after sending
    (SPEND, False, True, True, "outcome_unknown"),  # sent, then the deadline: unknown first
]


@pytest.mark.parametrize(("safe", "pre_send", "timed_out", "cut", "action"), FAILURE_TABLE)
def test_after_failure(safe: bool, pre_send: bool, timed_out: bool, cut: bool, action: str) -> None:
    assert (
        after_failure(safe=safe, pre_send=pre_send, timed_out=timed_out, cut_by_deadline=cut)
        == action
    )
