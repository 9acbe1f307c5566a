"""Watching many orders until they are provisioned: :func:`poll_orders` and its parts.

:func:`poll_orders` returns an :class:`OrderPoller`, an async iterator of :class:`PollEvent` s
(an order first seen, a status change, a failed poll, an order done) that ends when every order
is done or at the timeout (:class:`PollTimeout`). Orders wait in one round-robin queue served by
a fixed pool of worker coroutines, so they share the client's rate limit fairly whatever its
pace, each polled at most once per interval (plus jitter), with change detection by a small
fingerprint per order. :func:`order_is_active` is the default "done" test.

Why hand-written: nothing off the shelf polls a changing set of ids round-robin through a shared
rate limiter with per-id intervals, change detection and a deadline.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, cast

import attrs

from scaledmail_async._lanes import Priority, check_priority
from scaledmail_async._lanes import priority as lane_scope
from scaledmail_async._types import UNSET, Unset
from scaledmail_async.bulk._common import (
    Client,
    ProgressHook,
    keep_partial,
    listed,
    org_kwargs,
    own_partial,
)
from scaledmail_async.errors import (
    APIStatusError,
    ClientClosedError,
    RequestValidationError,
    ScaledmailError,
)

if TYPE_CHECKING:
    from scaledmail_async.models import OrderDetails

__all__ = [
    "OrderPoller",
    "PollEvent",
    "PollOutcome",
    "PollSummary",
    "PollTimeout",
    "order_is_active",
    "poll_orders",
]


_ACTIVE: Final = "active"
_CANCELLED: Final = frozenset({"cancelled", "canceled"})
_ALL_CHANGES: Final = frozenset({"status", "packages", "domains"})


def _norm(value: object) -> str:
    """A status for comparison: ``UNSET``/``None`` -> ``""``, else stripped and case-folded."""
    if value is None or value is UNSET:
        return ""
    return str(value).strip().casefold()


def order_is_active(details: OrderDetails) -> bool:
    """The default ``until`` of :func:`poll_orders`: the order is provisioned.

    True when the order's status is ``Active``, it lists at least one package, and every package
    and every package domain has status ``Active`` (compared case-insensitively). A domain status
    of ``""`` means "not yet" (Get Order Details,
    https://api.scaledmail.com/get-order-details-23663823e0; ``OrderDomain`` in
    ``openapi/scaledmail.yaml``), so it is not done.
    """
    if _norm(details.status) != _ACTIVE:
        return False
    packages = listed(details.packages)
    if not packages:
        return False
    for package in packages:
        if _norm(package.status) != _ACTIVE:
            return False
        for domain in listed(package.domains):
            if _norm(domain.status) != _ACTIVE:
                return False
    return True


_Fingerprint = tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


def _fingerprint(details: OrderDetails) -> _Fingerprint:
    """What :func:`poll_orders` compares between two polls: the statuses of the order, of each
    package and of each package domain (keyed by id, else by position)."""
    packages: list[tuple[str, str]] = []
    domains: list[tuple[str, str]] = []
    for i, package in enumerate(listed(details.packages)):
        pkey = package.id or f"#{i}"
        packages.append((pkey, _norm(package.status)))
        for j, domain in enumerate(listed(package.domains)):
            dkey = domain.id or domain.name or f"{pkey}#{j}"
            domains.append((dkey, _norm(domain.status)))
    return (_norm(details.status), tuple(packages), tuple(domains))


PollOutcome: TypeAlias = Literal["pending", "completed", "cancelled", "failed", "timeout"]
"""Where an order's polling stands (:attr:`PollEvent.outcome`)."""


@attrs.frozen
class PollEvent:
    """One observation of one order by :func:`poll_orders`.

    Yielded when the order is seen for the first time, when its status or any package or package
    domain status changes, when a poll fails (``error`` set, ``details`` ``None``), and when the
    order is done (``done`` true, with ``outcome``).

    ``changes`` names what changed since the previous observation: a subset of ``{"status",
    "packages", "domains"}`` (all three on the first observation). ``outcome`` is ``"pending"``
    (still polled), ``"completed"`` (``until`` returned true), ``"cancelled"`` (status
    ``Cancelled``: terminal, no longer polled), ``"failed"`` (a final error such as a 404, or
    too many consecutive transient errors) or ``"timeout"`` (the poll's timeout came first: the
    order's last event, with ``error`` the :class:`PollTimeout` summary).
    """

    order_id: str
    details: OrderDetails | None = None
    error: Exception | None = None
    changes: frozenset[str] = frozenset()
    first: bool = False
    done: bool = False
    outcome: PollOutcome = "pending"
    #: How many times this order has been polled, this poll included.
    polls: int = 0

    @property
    def ok(self) -> bool:
        """Whether this observation is a successful read (no error)."""
        return self.error is None


class PollTimeout(ScaledmailError, TimeoutError):
    """:func:`poll_orders` reached its timeout before every order was done.

    It is the ``error`` of each unfinished order's final ``outcome="timeout"`` event, and is
    raised after those events with ``raise_on_timeout=True``. ``pending`` lists the orders that
    did not finish; ``completed``, ``cancelled`` and ``failed`` summarise the others.
    """

    def __init__(
        self,
        *,
        pending: list[str],
        completed: list[str],
        cancelled: list[str],
        failed: dict[str, Exception],
        timeout: float,
    ) -> None:
        self.pending = pending
        self.completed = completed
        self.cancelled = cancelled
        self.failed = failed
        self.timeout = timeout
        shown = ", ".join(pending[:5]) + (", ..." if len(pending) > 5 else "")
        super().__init__(
            f"{len(pending)} order(s) not done after {timeout:g}s: {shown} "
            f"({len(completed)} completed, {len(cancelled)} cancelled, {len(failed)} failed)"
        )


@attrs.frozen
class PollSummary:
    """How far :func:`poll_orders` got when it was stopped: the ``exc.partial`` of the exception
    that ended the iteration (a cancellation of the consuming task, Ctrl-C, a crash).

    ``completed``, ``cancelled``, ``failed`` (order id -> exception) and ``pending`` say how each
    order stood, as the poller's attributes do. ``undelivered``: the events the workers had
    observed but the iteration never yielded (waiting in the poller's buffer when it stopped), in
    the order they were observed; each done order's last event is either yielded or here.
    """

    completed: list[str]
    cancelled: list[str]
    failed: dict[str, Exception]
    pending: list[str]
    undelivered: list[PollEvent]


class _Crash:
    """A worker's unexpected exception, forwarded to the consumer."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_WORKER_EXIT: Final = object()


class _OrderState:
    __slots__ = ("due", "errors", "fingerprint", "finished", "order_id", "polls")

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self.due = 0.0
        self.errors = 0
        self.polls = 0
        self.finished = False
        self.fingerprint: _Fingerprint | None = None


def _is_final_error(exc: ScaledmailError) -> bool:
    """Errors that will not go away by polling again: bad input and 4xx other than 408/425/429."""
    if isinstance(exc, RequestValidationError):
        return True
    if isinstance(exc, APIStatusError):
        return 400 <= exc.status_code < 500 and exc.status_code not in (408, 425, 429)
    return False


class _PollRun:
    """The state shared by the workers of one :class:`OrderPoller` (kept apart from the poller so
    that dropping an abandoned poller finalizes its generator and stops the workers)."""

    def __init__(
        self,
        client: Client,
        order_ids: list[str],
        *,
        until: Callable[[OrderDetails], bool],
        interval: float,
        timeout: float | None,
        jitter: float,
        concurrency: int,
        max_errors: int,
        on_progress: ProgressHook | None,
        raise_on_timeout: bool,
        organization_id: str | Unset | None,
        lane: Priority = "bulk",
    ) -> None:
        self.client = client
        self.lane: Priority = lane
        self.states = {oid: _OrderState(oid) for oid in order_ids}
        self.until = until
        self.interval = interval
        self.timeout = timeout
        self.jitter = jitter
        self.concurrency = concurrency
        self.max_errors = max_errors
        self.on_progress = on_progress
        self.raise_on_timeout = raise_on_timeout
        self.kwargs = org_kwargs(organization_id)
        self.completed: list[str] = []
        self.cancelled: list[str] = []
        self.failed: dict[str, Exception] = {}
        self.timed_out = False
        self.running = False
        self.finished = False
        self._queue: deque[_OrderState] = deque()
        self._taken = 0
        self._changed = asyncio.Event()
        self._deadline: float | None = None
        self._rng = random.Random()
        #: Events observed but never yielded: left in the buffer when the iteration stopped.
        self.undelivered: list[PollEvent] = []
        #: Events a worker was handing over (buffer full) when it was cancelled.
        self._unhanded: list[PollEvent] = []

    @property
    def pending(self) -> list[str]:
        return [s.order_id for s in self.states.values() if not s.finished]

    def summary(self) -> PollSummary:
        """A snapshot of how each order stands and of the events not yielded."""
        return PollSummary(
            completed=list(self.completed),
            cancelled=list(self.cancelled),
            failed=dict(self.failed),
            pending=self.pending,
            undelivered=list(self.undelivered),
        )

    # -- the consumer side ---------------------------------------------------------------

    async def events(self) -> AsyncIterator[PollEvent]:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._deadline = None if self.timeout is None else now + self.timeout
        for state in self.states.values():
            state.due = now
            self._queue.append(state)
        out: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(16, 4 * self.concurrency))
        n_workers = min(self.concurrency, len(self.states))
        with lane_scope(self.lane):  # copied into the workers' context at creation
            workers = [loop.create_task(self._worker(out)) for _ in range(n_workers)]
        self.running = True
        exited = 0
        stopped: BaseException | None = None
        try:
            while exited < n_workers:
                item = await out.get()
                if item is _WORKER_EXIT:
                    exited += 1
                elif isinstance(item, _Crash):
                    raise item.exc
                else:
                    yield cast(PollEvent, item)
        except GeneratorExit:  # aclose() / break: not an exception anyone sees
            raise
        except BaseException as exc:  # cancelled, interrupted, crashed: keep what was seen
            stopped = exc
            raise
        finally:
            self.running = False
            try:
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
            finally:
                self._keep_undelivered(out)
                if stopped is not None:
                    keep_partial(stopped, self.summary())
        self.finished = True
        pending = self.pending
        if pending:
            self.timed_out = True
            summary = PollTimeout(
                pending=pending,
                completed=list(self.completed),
                cancelled=list(self.cancelled),
                failed=dict(self.failed),
                timeout=self.timeout if self.timeout is not None else float("inf"),
            )
            # Report every order that did not finish as its last event, so a plain
            # ``async for`` cannot miss them.
            for oid in pending:
                yield PollEvent(
                    order_id=oid,
                    error=summary,
                    done=True,
                    outcome="timeout",
                    polls=self.states[oid].polls,
                )
            if self.raise_on_timeout:
                raise summary

    def _keep_undelivered(self, out: asyncio.Queue[Any]) -> None:
        """Move the events left in the buffer (then those a cancelled worker was handing over)
        to :attr:`undelivered`."""
        while not out.empty():
            item = out.get_nowait()
            if isinstance(item, PollEvent):
                self.undelivered.append(item)
        self.undelivered.extend(self._unhanded)
        self._unhanded.clear()

    # -- the workers ---------------------------------------------------------------------

    def _expired(self, now: float) -> bool:
        return self._deadline is not None and now >= self._deadline

    async def _take(self) -> _OrderState | None:
        """The next order to poll (waiting until it is due), or ``None`` when there is none left
        or the deadline passed."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if self._expired(now):
                return None
            if self._queue:
                state = self._queue.popleft()
                self._taken += 1
                delay = state.due - now
                if delay > 0:
                    if self._deadline is not None:
                        delay = min(delay, self._deadline - now)
                    await asyncio.sleep(delay)
                    if self._expired(loop.time()):
                        self._give_back(state, front=True)
                        return None
                return state
            if self._taken == 0:
                return None
            self._changed.clear()
            try:
                # asyncio.timeout_at, not wait_for: no extra task per idle wait (3.11).
                async with asyncio.timeout_at(self._deadline):
                    await self._changed.wait()
            except TimeoutError:
                return None

    def _give_back(self, state: _OrderState, *, front: bool = False) -> None:
        self._taken -= 1
        if not state.finished:
            if front:
                self._queue.appendleft(state)
            else:
                self._queue.append(state)
        self._changed.set()

    async def _worker(self, out: asyncio.Queue[Any]) -> None:
        try:
            while True:
                state = await self._take()
                if state is None:
                    break
                try:
                    event = await self._poll(state)
                finally:
                    if not state.finished:
                        loop = asyncio.get_running_loop()
                        spread = 1.0 + self._rng.uniform(0.0, self.jitter)
                        state.due = loop.time() + self.interval * spread
                    self._give_back(state)
                if event is not None:
                    try:
                        await out.put(event)
                    except asyncio.CancelledError:
                        self._unhanded.append(event)
                        raise
                    if event.done and self.on_progress is not None:
                        done = len(self.completed) + len(self.cancelled) + len(self.failed)
                        self.on_progress(done, len(self.states))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await out.put(_Crash(exc))
            return
        await out.put(_WORKER_EXIT)

    async def _fetch(self, order_id: str) -> OrderDetails | None:
        """The order's details, or ``None`` when the deadline cut the request short."""
        call = self.client.get_order_details(order_id, **self.kwargs)
        if self._deadline is None:
            return await call
        cm = asyncio.timeout_at(self._deadline)
        try:
            async with cm:
                return await call
        except TimeoutError:
            if cm.expired():
                return None
            raise

    async def _poll(self, state: _OrderState) -> PollEvent | None:
        oid = state.order_id
        try:
            details = await self._fetch(oid)
        except ClientClosedError:
            raise
        except ScaledmailError as exc:
            state.polls += 1
            state.errors += 1
            final = _is_final_error(exc) or state.errors >= self.max_errors
            if final:
                state.finished = True
                state.fingerprint = None
                self.failed[oid] = exc
            return PollEvent(
                order_id=oid,
                error=exc,
                done=final,
                outcome="failed" if final else "pending",
                polls=state.polls,
            )
        if details is None:  # the deadline passed mid-request: not an observation
            return None
        state.polls += 1
        state.errors = 0
        fingerprint = _fingerprint(details)
        previous = state.fingerprint
        state.fingerprint = fingerprint
        if previous is None:
            changes = _ALL_CHANGES
        else:
            changes = frozenset(
                name
                for name, before, after in zip(
                    _ALL_CHANGES_ORDER, previous, fingerprint, strict=True
                )
                if before != after
            )
        outcome: PollOutcome = "pending"
        if self.until(details):
            outcome = "completed"
            self.completed.append(oid)
        elif fingerprint[0] in _CANCELLED:
            outcome = "cancelled"
            self.cancelled.append(oid)
        done = outcome != "pending"
        if done:
            state.finished = True
            # A done order is never compared again: keeping its fingerprint (~1 KB with its ids
            # and statuses) made memory grow with every finished order (bench/memory.py).
            state.fingerprint = None
        if not changes and not done:
            return None
        return PollEvent(
            order_id=oid,
            details=details,
            changes=changes,
            first=previous is None,
            done=done,
            outcome=outcome,
            polls=state.polls,
        )


_ALL_CHANGES_ORDER: Final = ("status", "packages", "domains")


class OrderPoller:
    """The async iterator returned by :func:`poll_orders`.

    Iterate it for :class:`PollEvent` s. When iteration ends, the summary attributes say how each
    order ended: ``completed``, ``cancelled``, ``failed`` (order id -> exception) and ``pending``
    (not done: only non-empty after a timeout). Each order still pending at the timeout gets a
    last event with ``outcome="timeout"`` (``raise_on_timeout=True`` also raises
    :class:`PollTimeout` after them).

    Use it as an async context manager (``async with poll_orders(...) as poller:``) or call
    :meth:`aclose` when stopping early: the worker coroutines are cancelled and awaited.

    Stopping keeps what was seen: after a cancellation (or ``aclose()``), the summary attributes
    stand as they were and :attr:`undelivered` holds the events observed but not yielded; the
    exception that stopped the iteration (a ``CancelledError`` while waiting for the next event,
    or one leaving the ``async with`` body) carries the same as a :class:`PollSummary` in
    ``exc.partial`` (see :func:`~scaledmail_async.bulk.partial_results`).
    """

    def __init__(self, run: _PollRun) -> None:
        self._run = run
        self._events = run.events()

    @property
    def total(self) -> int:
        """Number of distinct orders polled."""
        return len(self._run.states)

    @property
    def completed(self) -> list[str]:
        """Orders for which ``until`` returned true, in completion order."""
        return list(self._run.completed)

    @property
    def cancelled(self) -> list[str]:
        """Orders seen with status ``Cancelled`` (terminal; not polled further)."""
        return list(self._run.cancelled)

    @property
    def failed(self) -> dict[str, Exception]:
        """Orders that failed for good (404 and other final errors, or too many transient ones)."""
        return dict(self._run.failed)

    @property
    def pending(self) -> list[str]:
        """Orders not done yet (after the iteration ended: the ones the timeout cut off)."""
        return self._run.pending

    @property
    def timed_out(self) -> bool:
        """Whether iteration ended at the timeout with orders still pending."""
        return self._run.timed_out

    @property
    def undelivered(self) -> list[PollEvent]:
        """Events observed but never yielded because the iteration was stopped (cancelled,
        closed early, crashed) while they waited in the buffer; empty otherwise."""
        return list(self._run.undelivered)

    def summary(self) -> PollSummary:
        """How each order stands now, and the :attr:`undelivered` events, as one snapshot."""
        return self._run.summary()

    def __aiter__(self) -> OrderPoller:
        return self

    async def __anext__(self) -> PollEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop polling: cancel and await the workers. Safe to call more than once."""
        await cast(Any, self._events).aclose()

    async def __aenter__(self) -> OrderPoller:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        try:
            await self.aclose()
        finally:
            if exc is not None and own_partial(exc) is None:
                # Stopped in the body (not while waiting for an event): the summary still goes
                # on the exception that stopped it.
                keep_partial(exc, self._run.summary())


def poll_orders(
    client: Client,
    order_ids: Iterable[str],
    *,
    until: Callable[[OrderDetails], bool] = order_is_active,
    interval: float = 30.0,
    timeout: float | None = 3600.0,
    jitter: float = 0.1,
    concurrency: int = 4,
    max_errors: int = 5,
    raise_on_timeout: bool = False,
    on_progress: ProgressHook | None = None,
    organization_id: str | Unset | None = UNSET,
    priority: Priority = "bulk",
) -> OrderPoller:
    """Watch orders (``get_order_details``) until each satisfies ``until``; an async iterator.

    ``async for event in poll_orders(client, ids): ...`` yields a :class:`PollEvent` whenever an
    order is first seen, its status or any package / package-domain status changes, a poll
    fails, or it is done. It ends when every order is done, or at ``timeout`` seconds (``None``:
    no limit): then each order not done gets a last event with ``done=True``,
    ``outcome="timeout"`` and ``error`` a :class:`PollTimeout` naming all of them, and the
    iteration ends (``raise_on_timeout=True``: it also raises that :class:`PollTimeout`; read
    ``poller.pending`` either way).

    - Done means: ``until(details)`` is true (default :func:`order_is_active`: order, packages and
      domains ``Active``); or the status is ``Cancelled`` (terminal, ``outcome="cancelled"``); or a
      final error: a 404 (the order does not exist in this organization), another 4xx except
      408/425/429, invalid input, or ``max_errors`` transient errors (5xx, connection, 429 after
      the client's retries) in a row. Each error is yielded as that order's event (``error=``) and
      the other orders keep being polled. :class:`ClientClosedError` and unexpected exceptions
      (including from ``until``) end the iteration by raising.
    - Fairness: orders wait in one round-robin queue; ``concurrency`` worker coroutines (not a
      task per order: memory stays flat for 10,000 ids) take the next due order, so every order
      is polled in turn and none starves, whatever the client's limiter allows. Each order is
      polled at most once per ``interval`` seconds, plus up to ``jitter`` x ``interval`` of random
      spread so the polls do not fall into lockstep.
    - ``on_progress(done, total)`` is called whenever an order becomes done.
    - Stopping early (``break``): use ``async with poll_orders(...) as poller`` or call
      ``await poller.aclose()``: the workers are cancelled and awaited. Cancelling the consuming
      task does the same, and keeps what was seen: the poller's summary attributes, its
      ``undelivered`` events, and ``exc.partial`` (a :class:`PollSummary`) on the exception.

    Duplicate ids are polled once; blank ids raise :class:`RequestValidationError` before any
    request.
    ``priority`` is the lane of the calls made (default ``"bulk"``: the key's interactive calls,
    e.g. a web handler's, are served first; see :func:`scaledmail_async.priority`).
    """
    lane = check_priority(priority)
    if interval < 0:
        raise ValueError(f"interval must be >= 0, got {interval}")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be > 0 or None, got {timeout}")
    if jitter < 0:
        raise ValueError(f"jitter must be >= 0, got {jitter}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if max_errors < 1:
        raise ValueError(f"max_errors must be >= 1, got {max_errors}")
    ids: dict[str, None] = {}
    for i, oid in enumerate(order_ids):
        if not isinstance(oid, str) or not oid.strip():
            raise RequestValidationError(
                "must be a non-blank order id",
                field=f"order_ids[{i}]",
                operation="get_order_details",
            )
        ids.setdefault(oid, None)
    run = _PollRun(
        client,
        list(ids),
        until=until,
        interval=interval,
        timeout=timeout,
        jitter=jitter,
        concurrency=concurrency,
        max_errors=max_errors,
        on_progress=on_progress,
        raise_on_timeout=raise_on_timeout,
        organization_id=organization_id,
        lane=lane,
    )
    return OrderPoller(run)
