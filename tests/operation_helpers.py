"""Hand-made :class:`Operation` records for transport tests that need an endpoint the spec lacks."""

from __future__ import annotations

from typing import Any

from scaledmail_async._operation import Operation


def make_op(**overrides: Any) -> Operation:
    """A safe ``GET /things/{thing_id}`` operation, with ``overrides`` applied."""
    fields: dict[str, Any] = {
        "operation_id": "get_thing",
        "tag": "things",
        "method": "GET",
        "path": "/things/{thing_id}",
        "path_params": ("thing_id",),
        "query_params": (),
        "request_type": None,
        "body_required": False,
        "response_type": dict[str, Any],
        "retry": "safe",
        "spends_money": False,
        "rate_limit_group": None,
        "organization": "optional",
    }
    fields.update(overrides)
    return Operation(**fields)


#: A safe read.
SAFE_GET = make_op()
#: A spending POST (retried only when provably not processed).
SPEND_POST = make_op(
    operation_id="buy_thing",
    method="POST",
    path="/buy-thing",
    path_params=(),
    retry="pre-send-only",
    spends_money=True,
)
