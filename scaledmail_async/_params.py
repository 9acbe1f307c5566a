"""Path and query parameters: each checked and encoded as the string sent.

:func:`prepare_path_params` checks the path parameters (present, a string, not blank);
:func:`prepare_query` checks and encodes the declared query parameters of an operation
(booleans as ``"true"``/``"false"``, integers in decimal, StrEnum members as their value; enum
values and every value's schema from ``openapi/scaledmail.yaml``: ``page >= 1``, ``limit <= 50``,
non-empty strings). A violation raises :class:`~scaledmail_async.errors.RequestValidationError`
naming the parameter; URL-quoting is left to the URL builder.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any, Final

import attrs

from scaledmail_async._generated.schemas import COMPONENT_SCHEMAS, QUERY_PARAMETER_SCHEMAS
from scaledmail_async._operation import Operation, QueryParam
from scaledmail_async._schema_check import Check, Invalid, SchemaCompiler, accept, describe
from scaledmail_async._types import UNSET, Unlisted
from scaledmail_async.errors import RequestValidationError

__all__ = ["enum_value", "prepare_path_params", "prepare_query"]

_COMPILER: Final = SchemaCompiler(COMPONENT_SCHEMAS)

#: Each operation's query parameter schemas, compiled (operation id -> name -> check).
_QUERY_CHECKS: Final[dict[str, dict[str, Check]]] = {
    op_id: {name: _COMPILER.compile(schema) for name, schema in params.items()}
    for op_id, params in QUERY_PARAMETER_SCHEMAS.items()
}


def _fail(message: str, field: str, op: Operation) -> RequestValidationError:
    return RequestValidationError(message, field=field, operation=op.operation_id)


def enum_value(value: Any) -> Any:
    """StrEnum / Enum members become their value; anything else is returned unchanged."""
    return value.value if isinstance(value, enum.Enum) and value is not UNSET else value


def prepare_path_params(op: Operation, path_params: Mapping[str, Any]) -> dict[str, str]:
    """Check the path parameters: each declared one present, a string, not blank.

    Ids are opaque (the docs' ``rec...`` examples have 13 to 17 characters, e.g. on
    https://api.scaledmail.com/get-order-details-23663823e0), so only blankness is checked.
    Returns the values as strings (StrEnum members as their value); URL-quoting is the
    transport's job.
    """
    out: dict[str, str] = {}
    for name in op.path_params:
        value = enum_value(path_params.get(name, UNSET))
        if value is UNSET or value is None:
            raise _fail("is required", name, op)
        if not isinstance(value, str):
            raise _fail(f"must be a string, got {describe(value)}", name, op)
        if not value.strip():
            raise _fail("must not be blank", name, op)
        out[name] = value
    return out


@attrs.frozen
class _ParamPlan:
    param: QueryParam
    check: Check


def _query_plan(op: Operation) -> tuple[_ParamPlan, ...]:
    checks = _QUERY_CHECKS.get(op.operation_id, {})
    return tuple(_ParamPlan(p, checks.get(p.name, accept)) for p in op.query_params)


_QUERY_PLANS: dict[str, tuple[tuple[QueryParam, ...], tuple[_ParamPlan, ...]]] = {}


def _plan_for(op: Operation) -> tuple[_ParamPlan, ...]:
    cached = _QUERY_PLANS.get(op.operation_id)
    if cached is not None and cached[0] is op.query_params:
        return cached[1]
    plan = _query_plan(op)
    _QUERY_PLANS[op.operation_id] = (op.query_params, plan)
    return plan


def _encode_param(op: Operation, plan: _ParamPlan, raw: Any) -> str:
    p = plan.param
    value = enum_value(raw)
    if p.type == "boolean":
        if not isinstance(value, bool):
            raise _fail(f"must be a boolean (True/False), got {describe(value)}", p.name, op)
        encoded = "true" if value else "false"
    elif p.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(f"must be an integer, got {describe(value)}", p.name, op)
        encoded = str(value)
    elif p.type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(f"must be a number, got {describe(value)}", p.name, op)
        if not math.isfinite(value):
            raise _fail("must be a finite number", p.name, op)
        encoded = repr(value)
    else:
        if not isinstance(value, str):
            raise _fail(f"must be a string, got {describe(value)}", p.name, op)
        if not value.strip():
            raise _fail("must not be blank", p.name, op)
        encoded = value
    if isinstance(value, Unlisted):
        encoded = str.__str__(value)  # explicitly outside the spec's values: sent as given
    elif p.enum is not None and encoded not in p.enum:
        allowed = ", ".join(repr(v) for v in p.enum)
        raise _fail(
            f"must be one of {allowed}; got {encoded!r} (to send a value the spec does not "
            f"list yet: Unlisted({encoded!r}))",
            p.name,
            op,
        )
    try:
        plan.check(value)
    except Invalid as e:
        raise _fail(e.message, e.path(p.name), op) from None
    return encoded


def prepare_query(op: Operation, query: Mapping[str, Any]) -> dict[str, str]:
    """Check and encode the declared query parameters of ``op``.

    ``UNSET`` (and ``None``) values are dropped; a required parameter missing raises. Booleans are
    sent as ``"true"``/``"false"``, integers in decimal, StrEnum members as their value. Enum
    parameters (``provider``) are checked against the spec's values, and every value against the
    parameter's schema (``page >= 1``, ``limit <= 50``, non-empty strings). An undeclared name
    raises, except ``organization_id`` (injected by the client; checked non-blank and passed on).
    Returns the parameters in declaration order.
    """
    out: dict[str, str] = {}
    used = 0
    for plan in _plan_for(op):
        name = plan.param.name
        if name in query:
            used += 1
            value = query[name]
            if value is not UNSET and value is not None:
                out[name] = _encode_param(op, plan, value)
                continue
        if plan.param.required:
            raise _fail("is required", name, op)
    if used != len(query):
        declared = {p.name for p in op.query_params}
        for name, value in query.items():
            if name in declared:
                continue
            if name == "organization_id":
                org = enum_value(value)
                if org is UNSET or org is None:
                    continue
                if not isinstance(org, str) or not org.strip():
                    raise _fail("must be a non-blank string", name, op)
                out[name] = org
                continue
            allowed = ", ".join(sorted(declared)) or "none"
            raise _fail(
                f"is not a query parameter of this operation (allowed: {allowed})", name, op
            )
    return out
