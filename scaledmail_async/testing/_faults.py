"""Fault injection for the fake server: a FIFO queue of count-limited faults.

``fake.faults.add(kind, count=1, operation=None, **params)`` queues a fault; each incoming request
takes the first queued fault whose ``operation`` matches (an operationId, a collection of them, or
``None`` for any) and consumes one of its ``count``. ``fake.faults.add_random(kind, rate, ...)``
(or ``randomize``) gives requests without a queued fault a seeded chance of a fault instead.
Every injection is logged with whether the operation's side effects were applied, so tests can
prove a purchase happened at most once. From text or JSON (the ``scaledmail fake-server --fault``
flag, the fake's ``/_fake/faults`` admin route): :mod:`._fault_spec`.

Kinds, their parameters and whether the operation is processed (``apply``):

============== ============================================================= ==================
kind           what the client sees                                          processed
============== ============================================================= ==================
status         ``status`` with ``body`` (JSON or text) and ``headers``; for   no (``apply=True``
               429: ``retry_after`` seconds and ``retry_after_format``        processes first)
               ``seconds`` / ``http-date`` / ``body`` / ``none``
reset_before   the connection is reset before the request is processed       never
reset_after    the request is processed, then the connection is reset        always
delay          sleeps ``seconds`` (default 1) before processing, or after    yes (unless the
               it (``after=True``: *hold after applying*), then the normal   client gives up
               response; ``seconds=math.inf`` holds until the client         first, before)
               disconnects or the server closes
truncated_json the real response cut to ``keep`` bytes (default: half)       yes (``apply``)
non_json       200 ``text/plain`` garbage (``body``)                          no (``apply``)
html_error     ``status`` (default 502) with an HTML error page               no (``apply``)
close_mid_body headers (full Content-Length) and ``keep`` bytes, then close  yes (``apply``)
trickle        the real response in ``chunk_size`` byte chunks every         yes
               ``interval`` seconds
unable_to_charge create-custom-order / create-order answer 400 "Subscription  yes (the
               created but unable to charge" after creating the subscription subscription exists)
============== ============================================================= ==================

**Holding a spend's answer after applying it** (a purchase that went through but whose answer
never arrives, the crash-between-send-and-answer case reconciliation must resolve) is
``delay`` with ``after=True``: the request is processed first (its record says ``applied``, the
order exists), then the response is held ``seconds``, or forever with ``seconds=math.inf``::

    fake.faults.add("delay", after=True, seconds=math.inf, operation="create_custom_order")

When the client disconnects (a timeout, a killed process) the held handler is cancelled and the
injection is logged with ``applied=True``. Without ``after`` the sleep comes first and a client
that gives up during it leaves nothing applied.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["FAULT_KINDS", "Fault", "FaultHit", "FaultQueue", "RandomFaults", "validate_fault"]

#: Allowed parameters per kind, and the kind's default for ``apply``.
_KINDS: Final[dict[str, tuple[frozenset[str], bool]]] = {
    "status": (
        frozenset({"status", "body", "headers", "retry_after", "retry_after_format", "apply"}),
        False,
    ),
    "reset_before": (frozenset(), False),
    "reset_after": (frozenset(), True),
    "delay": (frozenset({"seconds", "after"}), True),
    "truncated_json": (frozenset({"keep", "apply"}), True),
    "non_json": (frozenset({"body", "status", "apply"}), False),
    "html_error": (frozenset({"status", "body", "apply"}), False),
    "close_mid_body": (frozenset({"keep", "apply"}), True),
    "trickle": (frozenset({"chunk_size", "interval"}), True),
    "unable_to_charge": (frozenset(), True),
}
#: Every fault kind, in documentation order.
FAULT_KINDS: Final[tuple[str, ...]] = tuple(_KINDS)
_RETRY_AFTER_FORMATS: Final = ("seconds", "http-date", "body", "none")
_FIXED_APPLY: Final = {"reset_before": False, "reset_after": True, "delay": True, "trickle": True}


@dataclass(frozen=True)
class FaultHit:
    """One injection: which request got the fault and whether the operation was applied."""

    kind: str
    operation_id: str | None
    request_index: int
    applied: bool


@dataclass(eq=False)
class Fault:
    """A queued fault. ``remaining`` counts down; ``hits`` lists its injections."""

    kind: str
    count: int
    operations: frozenset[str] | None
    params: dict[str, Any]
    remaining: int = 0
    hits: list[FaultHit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.remaining = self.count

    @property
    def apply(self) -> bool:
        """Whether the operation is processed before the fault shapes the response."""
        fixed = _FIXED_APPLY.get(self.kind)
        if fixed is not None:
            return fixed
        return bool(self.params.get("apply", _KINDS[self.kind][1]))

    def matches(self, operation_id: str | None) -> bool:
        """Whether this fault applies to a request of ``operation_id``."""
        return self.operations is None or operation_id in self.operations


def validate_fault(kind: str, params: Mapping[str, Any]) -> None:
    """Check a fault before it is queued: ``ValueError`` for an unknown kind or a bad value,
    ``TypeError`` for a parameter the kind does not take."""
    if kind not in _KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
    unknown = set(params) - _KINDS[kind][0]
    if unknown:
        raise TypeError(f"fault {kind!r} takes no parameter(s) {sorted(unknown)}")
    if kind == "status":
        status = params.get("status")
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("fault 'status' needs status=<HTTP status code>")
    fmt = params.get("retry_after_format", "seconds")
    if fmt not in _RETRY_AFTER_FORMATS:
        raise ValueError(f"retry_after_format must be one of {_RETRY_AFTER_FORMATS}")
    for name in ("seconds", "interval", "retry_after"):
        value = params.get(name)
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise ValueError(f"{name} must be a non-negative number")
    for name in ("keep", "chunk_size"):
        value = params.get(name)
        if value is not None and (not isinstance(value, int) or value < (name == "chunk_size")):
            raise ValueError(f"{name} must be a positive integer")
    for name in ("after", "apply"):
        if name in params and not isinstance(params[name], bool):
            raise ValueError(f"{name} must be true or false")
    headers = params.get("headers")
    if headers is not None and (
        not isinstance(headers, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise ValueError("headers must map header names to strings")


@dataclass(eq=False)
class RandomFaults:
    """Random faults (``fake.faults.randomize`` / ``add_random``): each request of
    ``operations`` (``None``: any) without a queued fault gets, with probability ``rate``, one of
    ``choices`` (kind, params), drawn with a generator of its own (reproducible from its seed)."""

    rate: float
    choices: list[tuple[str, dict[str, Any]]]
    operations: frozenset[str] | None
    rng: random.Random
    #: How many faults this source has drawn.
    drawn: int = 0

    def draw(self, operation_id: str | None) -> Fault | None:
        """A fault for this request of ``operation_id``, or ``None`` (no draw when it does not
        match: requests of other operations leave the sequence unchanged)."""
        if self.operations is not None and operation_id not in self.operations:
            return None
        if self.rng.random() >= self.rate:
            return None
        kind, params = self.choices[self.rng.randrange(len(self.choices))]
        self.drawn += 1
        return Fault(kind=kind, count=1, operations=None, params=dict(params))


def _random_source(
    rate: float,
    choices: Sequence[tuple[str, Mapping[str, Any]]],
    seed: int | str,
    operation: str | Collection[str] | None,
) -> RandomFaults | None:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise ValueError("rate must be between 0 and 1")
    for kind, params in choices:
        validate_fault(kind, params)
    if rate == 0.0 or not choices:
        return None
    return RandomFaults(
        rate=float(rate),
        choices=[(k, dict(p)) for k, p in choices],
        operations=_ops(operation),
        rng=random.Random(seed),
    )


class FaultQueue:
    """The fake's fault queue (``fake.faults``)."""

    def __init__(self) -> None:
        self._queue: list[Fault] = []
        self.injected: list[FaultHit] = []
        self._random: list[RandomFaults] = []

    def add(
        self,
        kind: str,
        count: int = 1,
        operation: str | Collection[str] | None = None,
        **params: Any,
    ) -> Fault:
        """Queue ``count`` injections of ``kind`` for ``operation`` (an operationId, several, or
        ``None`` for any request). Returns the :class:`Fault` (inspect ``remaining``, ``hits``)."""
        validate_fault(kind, params)
        if count < 1:
            raise ValueError("count must be >= 1")
        fault = Fault(kind=kind, count=count, operations=_ops(operation), params=dict(params))
        self._queue.append(fault)
        return fault

    def randomize(
        self,
        rate: float,
        choices: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        seed: int = 0,
        operation: str | Collection[str] | None = None,
    ) -> None:
        """Give each request that has no queued fault a ``rate`` chance of a fault drawn from
        ``choices`` (``[("status", {"status": 503}), ("reset_before", {}), ...]``), using a
        generator seeded with ``seed``. ``rate=0`` switches it off. Replaces every random fault
        set before (by this method or :meth:`add_random`)."""
        source = _random_source(rate, choices, seed, operation)
        self._random = [source] if source is not None else []

    def add_random(
        self,
        kind: str,
        rate: float,
        *,
        operation: str | Collection[str] | None = None,
        seed: int = 0,
        **params: Any,
    ) -> RandomFaults | None:
        """Give each request of ``operation`` (``None``: any) that has no queued fault a ``rate``
        chance of ``kind`` (with ``params``), for as long as the fake runs; in addition to the
        random faults already set, which are tried first. Draws are reproducible: the generator
        is seeded with ``seed`` and the source's position. Returns the source (``None`` when
        ``rate`` is 0: nothing is added)."""
        mixed = f"{seed}:{len(self._random)}"
        source = _random_source(rate, [(kind, params)], mixed, operation)
        if source is not None:
            self._random.append(source)
        return source

    @property
    def random_sources(self) -> list[RandomFaults]:
        """The random faults set (by :meth:`randomize` or :meth:`add_random`), in order."""
        return list(self._random)

    def take(self, operation_id: str | None) -> Fault | None:
        """Consume the first queued fault matching ``operation_id`` (FIFO), if any; else draw
        from the random faults."""
        for fault in self._queue:
            if fault.matches(operation_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._queue.remove(fault)
                return fault
        for source in self._random:
            drawn = source.draw(operation_id)
            if drawn is not None:
                return drawn
        return None

    def record(self, fault: Fault, hit: FaultHit) -> None:
        """Log an injection (called by the server once the outcome is known)."""
        fault.hits.append(hit)
        self.injected.append(hit)

    @property
    def pending(self) -> list[Fault]:
        """The faults still queued, in order."""
        return list(self._queue)

    def clear(self) -> None:
        """Drop every queued fault and switch random faults off (the log is kept)."""
        self._queue.clear()
        self._random = []

    def injected_count(self, kind: str | None = None, operation_id: str | None = None) -> int:
        """How many faults were injected, optionally of one kind and/or operation."""
        return sum(
            1
            for hit in self.injected
            if (kind is None or hit.kind == kind)
            and (operation_id is None or hit.operation_id == operation_id)
        )


def _ops(operation: str | Collection[str] | None) -> frozenset[str] | None:
    if operation is None:
        return None
    if isinstance(operation, str):
        return frozenset({operation})
    return frozenset(operation)
