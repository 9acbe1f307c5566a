"""Faults described as text or JSON, for a fake driven from another process or language: the
``scaledmail fake-server --fault`` flag and the fake's ``POST /_fake/faults`` admin route.

Text form (one fault per flag)::

    KIND[:PARAM=VALUE[,PARAM=VALUE...]]

``KIND`` is a fault kind of :mod:`._faults` (``status``, ``reset_before``, ``delay``, ...; ``-``
may stand for ``_``) or an HTTP status code, short for ``status:status=CODE``. Parameters:

``operation`` (or ``op``)
    the operationId(s) it applies to, several joined with ``+`` (``get_orders+get_packages``;
    the CLI's kebab-case names work too); default: every request.
``count``
    how many requests get it (default 1), first come first served, like ``fake.faults.add``.
``rate``
    instead of ``count``: the probability (0 to 1) that each matching request gets it, for as
    long as the fake runs (``fake.faults.add_random``; reproducible from the fake's seed).
anything else
    the kind's own parameters (``status``, ``retry_after``, ``retry_after_format``, ``seconds``,
    ``after``, ``keep``, ``chunk_size``, ``interval``, ``apply``, ``body``), converted to the
    type the kind expects: ``429:retry_after=2,operation=get_orders``,
    ``delay:seconds=1.5,after=true,operation=create_custom_order``,
    ``503:rate=0.2``.

JSON form: an object ``{"kind": "status", "status": 429, "operation": "get_orders", "count": 2}``
(``operation`` may be a list; ``rate`` as above; the other keys are the kind's parameters, with
``headers`` an object and ``body`` any JSON), or the text form as a JSON string.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from scaledmail_async.testing._faults import (
    FAULT_KINDS,
    Fault,
    FaultQueue,
    RandomFaults,
    validate_fault,
)
from scaledmail_async.testing._handlers import OPERATIONS

__all__ = ["FAULT_SPEC_HELP", "FaultSpec", "fault_spec_from_json", "parse_fault_spec"]

#: One line on the text form, for command-line help.
FAULT_SPEC_HELP: Final = (
    "KIND[:PARAM=VALUE,...]: KIND is a fault kind ("
    + ", ".join(FAULT_KINDS)
    + ") or an HTTP status (503 = status:status=503); PARAM is operation=OP[+OP...], count=N "
    "(default 1) or rate=P (a probability per request, for as long as the fake runs), or a "
    "parameter of the kind (retry_after=2, seconds=1.5, after=true, keep=10...)."
)

_OPERATION_IDS: Final = frozenset(op.operation_id for op in OPERATIONS)
_BOOLS: Final = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
#: How the text form converts each kind parameter (the rest stay strings).
_INT_PARAMS: Final = frozenset({"status", "keep", "chunk_size"})
_FLOAT_PARAMS: Final = frozenset({"seconds", "interval", "retry_after"})
_BOOL_PARAMS: Final = frozenset({"after", "apply"})


@dataclass(frozen=True)
class FaultSpec:
    """One fault to set on a fake: ``kind`` with ``params``, for ``operations`` (``None``: any
    request), either ``count`` times or, with ``rate``, at random for as long as it runs."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    count: int = 1
    operations: tuple[str, ...] | None = None
    rate: float | None = None

    def __post_init__(self) -> None:
        try:
            validate_fault(self.kind, self.params)
        except TypeError as exc:  # an unknown parameter: the same complaint as a bad value
            raise ValueError(str(exc)) from None
        if self.rate is None:
            if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
                raise ValueError(f"count must be an integer >= 1, got {self.count!r}")
        elif (
            isinstance(self.rate, bool)
            or not isinstance(self.rate, int | float)
            or not 0.0 < self.rate <= 1.0
        ):
            raise ValueError(f"rate must be a probability > 0 and <= 1, got {self.rate!r}")
        for op in self.operations or ():
            if op not in _OPERATION_IDS:
                known = ", ".join(sorted(_OPERATION_IDS))
                raise ValueError(f"unknown operation {op!r}: use one of {known}")

    def add_to(self, queue: FaultQueue, *, seed: int = 0) -> Fault | RandomFaults | None:
        """Queue this fault on ``queue`` (``fake.faults``); a ``rate`` fault becomes a random
        source seeded with ``seed`` (the fake's seed, so a run can be replayed)."""
        if self.rate is not None:
            return queue.add_random(
                self.kind, self.rate, operation=self.operations, seed=seed, **self.params
            )
        return queue.add(self.kind, count=self.count, operation=self.operations, **self.params)

    def as_json(self) -> dict[str, Any]:
        """This fault as the admin route's JSON form."""
        data: dict[str, Any] = {"kind": self.kind, **self.params}
        data["operation"] = list(self.operations) if self.operations is not None else None
        if self.rate is not None:
            data["rate"] = self.rate
        else:
            data["count"] = self.count
        return data


def _kind(text: str) -> tuple[str, dict[str, Any]]:
    name = text.strip().lower().replace("-", "_")
    if name.isdigit():
        return "status", {"status": int(name)}
    if name not in FAULT_KINDS:
        raise ValueError(
            f"unknown fault kind {text.strip()!r}: use one of {', '.join(FAULT_KINDS)}, or an "
            "HTTP status such as 503"
        )
    return name, {}


def _operations(value: str | Collection[str]) -> tuple[str, ...]:
    items = value.split("+") if isinstance(value, str) else list(value)
    ops: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"operation must name operationIds, got {value!r}")
        ops.append(item.strip().replace("-", "_"))
    return tuple(dict.fromkeys(ops))


def _number(name: str, value: str, kind: type[int] | type[float]) -> int | float:
    try:
        number = int(value) if kind is int else float(value)
    except ValueError:
        wanted = "an integer" if kind is int else "a number"
        raise ValueError(f"{name} must be {wanted}, got {value!r}") from None
    if isinstance(number, float) and math.isnan(number):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return number


def _param(name: str, value: str) -> Any:
    if name in _INT_PARAMS:
        return _number(name, value, int)
    if name in _FLOAT_PARAMS:
        return _number(name, value, float)
    if name in _BOOL_PARAMS:
        flag = _BOOLS.get(value.lower())
        if flag is None:
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return flag
    return value


def parse_fault_spec(text: str) -> FaultSpec:
    """The :class:`FaultSpec` of the text form (``KIND[:PARAM=VALUE,...]``, see the module);
    ``ValueError`` saying what is wrong otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a fault needs a kind, e.g. 503 or reset_before:operation=get_orders")
    head, _, tail = text.partition(":")
    kind, params = _kind(head)
    count: int | None = None
    rate: float | None = None
    operations: tuple[str, ...] | None = None
    for item in tail.split(",") if tail.strip() else []:
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        value = value.strip()
        if not sep or not name or not value:
            raise ValueError(f"expected PARAM=VALUE, got {item.strip()!r} in {text!r}")
        if name in ("operation", "op"):
            operations = _operations(value)
        elif name == "count":
            count = int(_number("count", value, int))
        elif name == "rate":
            rate = float(_number("rate", value, float))
        else:
            params[name] = _param(name, value)
    if rate is not None and count is not None:
        raise ValueError(
            "count and rate exclude each other: a rate fault lasts as long as the fake"
        )
    return FaultSpec(
        kind=kind,
        params=params,
        count=1 if count is None else count,
        operations=operations,
        rate=rate,
    )


def fault_spec_from_json(data: Any) -> FaultSpec:
    """The :class:`FaultSpec` of the JSON form (an object, or the text form as a string);
    ``ValueError`` saying what is wrong otherwise."""
    if isinstance(data, str):
        return parse_fault_spec(data)
    if not isinstance(data, Mapping):
        raise ValueError("a fault is a JSON object with a 'kind' (or the text form as a string)")
    fields = dict(data)
    raw_kind = fields.pop("kind", None)
    if isinstance(raw_kind, int) and not isinstance(raw_kind, bool):
        raw_kind = str(raw_kind)
    if not isinstance(raw_kind, str):
        raise ValueError("a fault needs 'kind': a fault kind or an HTTP status")
    kind, params = _kind(raw_kind)
    raw_ops = fields.pop("operation", None)
    operations = None if raw_ops is None else _operations(raw_ops)
    if "count" in fields and fields.get("rate") is not None:
        raise ValueError(
            "count and rate exclude each other: a rate fault lasts as long as the fake"
        )
    count = fields.pop("count", 1)
    rate = fields.pop("rate", None)
    params.update(fields)
    return FaultSpec(kind=kind, params=params, count=count, operations=operations, rate=rate)
