"""The record that describes one API operation.

Instances are generated from ``openapi/scaledmail.yaml`` into
``scaledmail_async/_generated/operations.py``
(``make codegen``); the transport reads an operation's behaviour (retry class, rate-limit group,
whether it spends money, whether ``organization_id`` is sent) only from these records.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

__all__ = ["Operation", "OrganizationRule", "QueryParam", "Reconcile", "RetryClass"]

RetryClass = Literal["safe", "pre-send-only"]
OrganizationRule = Literal["required", "optional", "none"]


@attrs.frozen
class QueryParam:
    """A declared query parameter of an operation (``organization_id`` is not declared)."""

    name: str
    required: bool
    #: JSON-schema type of the value: "string", "boolean" or "integer".
    type: str
    #: Allowed values when the spec gives an enum, else ``None``.
    enum: tuple[str, ...] | None = None
    #: The documented default, if any (informational: the SDK never sends a default itself).
    default: Any = None
    description: str = ""


@attrs.frozen
class Reconcile:
    """How a spend is found again on the server (``x-reconcile`` in the spec).

    ``by="tag"``: the order carries the body's ``field`` (a tag the client chose, or the SDK
    minted; at most ``max_length`` characters); reconciliation lists the orders created since
    the attempt and reads their details. ``by="domains"``: the bought names (the body's
    ``field``) appear in the purchased domains.
    """

    by: Literal["tag", "domains"]
    field: str
    max_length: int | None = None


@attrs.frozen
class Operation:
    """One operation of the spec: where it lives, what it takes and how it may be retried."""

    operation_id: str
    tag: str
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[QueryParam, ...]
    #: The attrs model of the JSON request body, or ``None`` when the operation takes none.
    request_type: Any
    #: Whether the request body is required.
    body_required: bool
    #: The type the 200 body is structured into: an attrs model or ``list[Model]``.
    response_type: Any
    #: ``safe``: retried on any transient failure; ``pre-send-only``: retried only when the
    #: request provably was not processed (spending operations).
    retry: RetryClass
    spends_money: bool
    #: Extra rate-limit group (``"critical"``: 15/minute) or ``None``.
    rate_limit_group: str | None
    #: ``x-organization-id``: ``"required"`` (refused before sending without one:
    #: :class:`~scaledmail_async.errors.MissingOrganizationError`), ``"optional"`` (sent when
    #: configured) or ``"none"`` (never sent).
    organization: OrganizationRule
    summary: str = ""
    #: How a spend is reconciled (``None`` for operations that spend nothing).
    reconcile: Reconcile | None = None
    #: Whether the client's ``organization_id`` is sent as a query parameter.
    sends_organization_id: bool = attrs.field(init=False)
    #: Whether a call without an organization is refused before sending.
    requires_organization: bool = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "sends_organization_id", self.organization != "none")
        object.__setattr__(self, "requires_organization", self.organization == "required")
