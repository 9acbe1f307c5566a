"""Bulk helpers: the loops users write by hand around the Scaledmail API.

- :func:`search_domains_all`: availability of any number of names (batches of the documented 10).
- :func:`iter_suggested_domains`: every page of suggest-domains as one async iterator.
- :func:`poll_orders`: watch many orders until they are provisioned, sharing the rate limit fairly.
- :func:`map_concurrent`: bounded-concurrency map with per-item results (never fails the batch).
- :func:`update_redirects` and :func:`inventory`: built on :func:`map_concurrent`.

Every helper goes through the client's methods, so the client's limiter (5 requests/second, and
15/minute for the "critical" domain operations), retries and validation apply unchanged; the
helpers add no pacing of their own beyond polling intervals. Each takes ``on_progress(done,
total)``, called after each unit of work, for progress bars.

Why hand-written: the bounded pool is a fixed set of worker coroutines pulling from one iterator
(a few lines of asyncio; ``aiostream``/``asyncio-pool`` would be a new runtime dependency), and
nothing off the shelf polls a changing set of ids round-robin through a shared rate limiter with
per-id intervals, change detection and a deadline.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

import attrs

from scaledmail_async._lanes import Priority, check_priority
from scaledmail_async._lanes import priority as lane_scope
from scaledmail_async._types import UNSET, Unset
from scaledmail_async._validation import body_property_schema
from scaledmail_async.errors import (
    APIStatusError,
    ClientClosedError,
    RequestValidationError,
    ScaledmailError,
)

if TYPE_CHECKING:
    from scaledmail_async._client import ScaledmailClient
    from scaledmail_async.models import (
        Domain,
        DomainAvailability,
        Mailbox,
        OrderDetails,
        Organization,
        PurchasedDomain,
        UpdateDomainRedirectResponse,
    )

__all__ = [
    "DomainSearchResults",
    "Inventory",
    "InventoryError",
    "OrderPoller",
    "PollEvent",
    "PollTimeout",
    "ProgressHook",
    "Result",
    "inventory",
    "iter_suggested_domains",
    "map_concurrent",
    "order_is_active",
    "poll_orders",
    "search_domains_all",
    "update_redirects",
]

T = TypeVar("T")
R = TypeVar("R")

ProgressHook = Callable[[int, int], None]
"""``on_progress(done, total)``: called after each unit of work (a call, a batch, an order)."""


def _org_kwargs(organization_id: str | Unset | None) -> dict[str, Any]:
    return {} if organization_id is UNSET else {"organization_id": organization_id}


def _items(value: Any) -> list[Any]:
    """A model list attribute as a list (``UNSET``/``None`` -> empty)."""
    return list(value) if isinstance(value, (list, tuple)) else []


# --------------------------------------------------------------------------------------------
# map_concurrent
# --------------------------------------------------------------------------------------------


@attrs.frozen
class Result(Generic[T, R]):
    """The outcome of one item of a bulk call: ``value`` on success, ``error`` on failure."""

    item: T
    value: R | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Whether the call for this item succeeded."""
        return self.error is None

    @property
    def exception(self) -> Exception | None:
        """The item's exception (an alias of :attr:`error`), or ``None`` on success."""
        return self.error

    def unwrap(self) -> R:
        """The value, or raise the item's error."""
        if self.error is not None:
            raise self.error
        return cast(R, self.value)


async def map_concurrent(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: int = 8,
    on_progress: ProgressHook | None = None,
    priority: Priority = "bulk",
) -> list[Result[T, R]]:
    """Run ``await fn(item)`` for every item, at most ``concurrency`` at a time.

    Returns one :class:`Result` per item, in input order. An exception raised by ``fn`` is kept
    in that item's result and never fails the batch. A fixed pool of ``concurrency`` worker
    coroutines pulls items from one iterator (not a task per item), so memory stays flat for large
    inputs. Cancelling the caller cancels the workers and waits for them; ``CancelledError``,
    ``KeyboardInterrupt`` and ``SystemExit`` are never captured. An exception raised by
    ``on_progress`` stops the batch and propagates.

    The calls ``fn`` makes through a client run in the ``priority`` lane (default ``"bulk"``:
    the key's interactive calls are served first; see :func:`scaledmail_async.priority`), unless
    ``fn`` chooses its own.
    """
    lane = check_priority(priority)
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    seq = list(items)
    total = len(seq)
    results: list[Result[T, R] | None] = [None] * total
    pending = iter(enumerate(seq))
    done = 0

    async def worker() -> None:
        nonlocal done
        for index, item in pending:
            try:
                value = await fn(item)
            except Exception as exc:
                results[index] = Result(item=item, error=exc)
            else:
                results[index] = Result(item=item, value=value)
            done += 1
            if on_progress is not None:
                on_progress(done, total)

    with lane_scope(lane):  # the workers' context, copied at creation, carries the lane
        workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, total))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return cast(list[Result[T, R]], results)


# --------------------------------------------------------------------------------------------
# Domain search / suggestions
# --------------------------------------------------------------------------------------------


def _domain_key(name: str) -> str:
    return name.strip().rstrip(".").casefold()


class DomainSearchResults(list["DomainAvailability"]):
    """The results of :func:`search_domains_all`: a list in input order, plus what did not match.

    ``missing``: input names the server returned no result for (they are not in the list).
    ``extra``: results the server returned for names that were not asked (kept, not dropped).
    """

    def __init__(
        self,
        found: Iterable[DomainAvailability] = (),
        *,
        missing: Sequence[str] = (),
        extra: Sequence[DomainAvailability] = (),
    ) -> None:
        super().__init__(found)
        self.missing: list[str] = list(missing)
        self.extra: list[DomainAvailability] = list(extra)


def _search_batch_cap() -> int:
    """The spec's ``maxItems`` of ``search_domains``' ``domains`` (10 in the docs, §3.7)."""
    cap = body_property_schema("search_domains", "domains").get("maxItems")
    return cap if isinstance(cap, int) and cap > 0 else 10


_SEARCH_BATCH_CAP: Final = _search_batch_cap()


async def search_domains_all(
    client: ScaledmailClient,
    names: Iterable[str],
    *,
    batch_size: int = _SEARCH_BATCH_CAP,
    on_progress: ProgressHook | None = None,
    organization_id: str | Unset | None = UNSET,
    priority: Priority = "bulk",
) -> DomainSearchResults:
    """Availability and price of any number of domain names.

    Names are de-duplicated (case-insensitively, surrounding spaces and a trailing dot ignored;
    the first spelling is sent), split into batches of ``batch_size`` (at most the documented 10
    per request) and searched one batch after the other through ``client.search_domains``: the
    client's limiter enforces the 15-per-minute "critical" group, so 25 names make 3 requests.

    Returns the results in input order, matched by domain name case-insensitively. Names the
    server returned nothing for are listed in ``result.missing`` (and absent from the list);
    results for names that were not asked are kept in ``result.extra``. A failing batch raises
    (after the client's own retries); blank names raise :class:`RequestValidationError` before any
    request. ``on_progress(names_done, names_total)`` is called after each batch.
    ``priority`` is the lane of the calls made (default ``"bulk"``: the key's interactive calls,
    e.g. a web handler's, are served first; see :func:`scaledmail_async.priority`).
    """
    lane = check_priority(priority)
    if not 1 <= batch_size <= _SEARCH_BATCH_CAP:
        raise ValueError(f"batch_size must be between 1 and {_SEARCH_BATCH_CAP}, got {batch_size}")
    unique: dict[str, str] = {}
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise RequestValidationError(
                "must be a non-blank domain name", field=f"names[{i}]", operation="search_domains"
            )
        unique.setdefault(_domain_key(name), name.strip())
    wanted = list(unique.values())
    total = len(wanted)
    found: dict[str, DomainAvailability] = {}
    extra: list[DomainAvailability] = []
    kwargs = _org_kwargs(organization_id)
    for start in range(0, total, batch_size):
        batch = wanted[start : start + batch_size]
        with lane_scope(lane):
            response = await client.search_domains(body={"domains": batch}, **kwargs)
        for result in _items(response):
            domain = getattr(result, "domain", None)
            key = _domain_key(domain) if isinstance(domain, str) else None
            if key is not None and key in unique and key not in found:
                found[key] = result
            else:
                extra.append(result)
        if on_progress is not None:
            on_progress(min(start + batch_size, total), total)
    ordered = [found[k] for k in unique if k in found]
    missing = [unique[k] for k in unique if k not in found]
    return DomainSearchResults(ordered, missing=missing, extra=extra)


async def iter_suggested_domains(
    client: ScaledmailClient,
    keyword: str,
    *,
    tlds: Sequence[str] | Unset = UNSET,
    limit: int = 50,
    max_pages: int | None = None,
    on_progress: ProgressHook | None = None,
    organization_id: str | Unset | None = UNSET,
    priority: Priority = "bulk",
) -> AsyncIterator[DomainAvailability]:
    """Every suggestion for ``keyword``, walking the pages of ``client.suggest_domains``.

    Requests page 1, 2, ... with ``limit`` results per page (the server caps it at 50) and yields
    each item, stopping after page ``total_pages``, on an empty page, on a short page when the
    server gives no ``total_pages``, or after ``max_pages`` pages. Each page is one "critical"
    request (15 per minute, paced by the client's limiter). ``on_progress(pages_done,
    pages_total)`` is called after each page is fetched (``pages_total`` is the server's
    ``total_pages``, capped by ``max_pages``; the pages done so far when the server gives none).
    ``priority`` is the lane of the calls made (default ``"bulk"``: the key's interactive calls,
    e.g. a web handler's, are served first; see :func:`scaledmail_async.priority`).
    The lane is set around each request only: the caller's own calls between pages keep theirs.
    """
    lane = check_priority(priority)
    if max_pages is not None and max_pages < 1:
        raise ValueError(f"max_pages must be >= 1, got {max_pages}")
    body: dict[str, Any] = {"domain": keyword}
    if tlds is not UNSET:
        body["tlds"] = list(tlds)
    kwargs = _org_kwargs(organization_id)
    page = 1
    while True:
        with lane_scope(lane):
            response = await client.suggest_domains(body=body, page=page, limit=limit, **kwargs)
        items = _items(getattr(response, "domains", None))
        raw_total = getattr(response, "total_pages", None)
        total_pages = raw_total if type(raw_total) is int else None
        if on_progress is not None:
            pages_total = page if total_pages is None else max(total_pages, page)
            if max_pages is not None:
                pages_total = min(pages_total, max_pages)
            on_progress(page, pages_total)
        for item in items:
            yield item
        if not items:
            return
        if total_pages is not None:
            if page >= total_pages:
                return
        else:
            per_page = getattr(response, "limit", None)
            if len(items) < (per_page if isinstance(per_page, int) and per_page > 0 else limit):
                return
        if max_pages is not None and page >= max_pages:
            return
        page += 1


# --------------------------------------------------------------------------------------------
# poll_orders
# --------------------------------------------------------------------------------------------

_ACTIVE: Final = "active"
_CANCELLED: Final = frozenset({"cancelled", "canceled"})
_ALL_CHANGES: Final = frozenset({"status", "packages", "domains"})


def _norm(value: Any) -> str:
    """A status for comparison: ``UNSET``/``None`` -> ``""``, else stripped and case-folded."""
    if value is None or value is UNSET:
        return ""
    return str(value).strip().casefold()


def order_is_active(details: OrderDetails) -> bool:
    """The default ``until`` of :func:`poll_orders`: the order is provisioned.

    True when the order's status is ``Active``, it lists at least one package, and every package
    and every package domain has status ``Active`` (compared case-insensitively). A domain status
    of ``""`` means "not yet" (docs §3.15), so it is not done.
    """
    if _norm(details.status) != _ACTIVE:
        return False
    packages = _items(details.packages)
    if not packages:
        return False
    for package in packages:
        if _norm(getattr(package, "status", None)) != _ACTIVE:
            return False
        for domain in _items(getattr(package, "domains", None)):
            if _norm(getattr(domain, "status", None)) != _ACTIVE:
                return False
    return True


_Fingerprint = tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


def _fingerprint(details: Any) -> _Fingerprint:
    packages: list[tuple[str, str]] = []
    domains: list[tuple[str, str]] = []
    for i, package in enumerate(_items(getattr(details, "packages", None))):
        pid = getattr(package, "id", None)
        pkey = pid if isinstance(pid, str) and pid else f"#{i}"
        packages.append((pkey, _norm(getattr(package, "status", None))))
        for j, domain in enumerate(_items(getattr(package, "domains", None))):
            did = getattr(domain, "id", None) or getattr(domain, "name", None)
            dkey = did if isinstance(did, str) and did else f"{pkey}#{j}"
            domains.append((dkey, _norm(getattr(domain, "status", None))))
    return (_norm(getattr(details, "status", None)), tuple(packages), tuple(domains))


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
    outcome: str = "pending"
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
        client: ScaledmailClient,
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
        self.kwargs = _org_kwargs(organization_id)
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

    @property
    def pending(self) -> list[str]:
        return [s.order_id for s in self.states.values() if not s.finished]

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
        try:
            while exited < n_workers:
                item = await out.get()
                if item is _WORKER_EXIT:
                    exited += 1
                elif isinstance(item, _Crash):
                    raise item.exc
                else:
                    yield cast(PollEvent, item)
        finally:
            self.running = False
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
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
                    await out.put(event)
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
        outcome = "pending"
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

    def __aiter__(self) -> OrderPoller:
        return self

    async def __anext__(self) -> PollEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop polling: cancel and await the workers. Safe to call more than once."""
        await cast(Any, self._events).aclose()

    async def __aenter__(self) -> OrderPoller:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def poll_orders(
    client: ScaledmailClient,
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
      task does the same.

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


# --------------------------------------------------------------------------------------------
# update_redirects / inventory
# --------------------------------------------------------------------------------------------


async def update_redirects(
    client: ScaledmailClient,
    redirects: Mapping[str, str],
    *,
    concurrency: int = 4,
    on_progress: ProgressHook | None = None,
    organization_id: str | Unset | None = UNSET,
    priority: Priority = "bulk",
) -> list[Result[str, UpdateDomainRedirectResponse]]:
    """Request a redirect change for many domains: ``{domain: new_redirect}``.

    Calls ``client.update_domain_redirect(domain, body={"new_redirect": redirect})`` per domain
    with bounded concurrency (:func:`map_concurrent`) and returns one :class:`Result` per domain
    (``result.item`` is the domain), in the mapping's order. A failing domain (unknown domain, a
    change already in progress, invalid input) is reported in its result; the others go on. An
    empty string removes the redirect (observed live, docs §3.11).
    ``priority`` is the lane of the calls made (default ``"bulk"``: the key's interactive calls,
    e.g. a web handler's, are served first; see :func:`scaledmail_async.priority`).
    """
    lane = check_priority(priority)
    kwargs = _org_kwargs(organization_id)

    async def one(domain: str) -> UpdateDomainRedirectResponse:
        return await client.update_domain_redirect(
            domain, body={"new_redirect": redirects[domain]}, **kwargs
        )

    return await map_concurrent(
        one, list(redirects), concurrency=concurrency, on_progress=on_progress, priority=lane
    )


@attrs.frozen
class InventoryError:
    """One call of :func:`inventory` that failed: which operation, for which org/domain, why."""

    operation: str
    organization_id: str | None
    domain_id: str | None
    error: Exception


@attrs.define(kw_only=True)
class Inventory:
    """Everything :func:`inventory` found.

    ``purchased_domains`` and ``domains`` are keyed by organization id, ``mailboxes`` by domain id
    (the ``id`` of ``get_domains`` items). An organization or domain whose call failed has no
    entry there and an :class:`InventoryError` in ``errors`` instead.
    """

    organizations: list[Organization] = attrs.Factory(list)
    purchased_domains: dict[str, list[PurchasedDomain]] = attrs.Factory(dict)
    domains: dict[str, list[Domain]] = attrs.Factory(dict)
    mailboxes: dict[str, list[Mailbox]] = attrs.Factory(dict)
    errors: list[InventoryError] = attrs.Factory(list)

    @property
    def ok(self) -> bool:
        """Whether every call succeeded."""
        return not self.errors


async def inventory(
    client: ScaledmailClient,
    *,
    concurrency: int = 4,
    include_mailboxes: bool = True,
    on_progress: ProgressHook | None = None,
    priority: Priority = "bulk",
) -> Inventory:
    """Walk the whole account: organizations, their domains, and each domain's mailboxes.

    1. ``get_organizations`` (if this fails, it raises: there is nothing to walk);
    2. per organization, ``get_purchased_domains(available=False)`` (every registration, used or
       not: docs §3.6 advise sending ``available`` explicitly) and ``get_domains``, each with
       ``organization_id=`` that organization;
    3. with ``include_mailboxes``, per domain of step 2, ``get_mailboxes_by_domain_id(domain.id,
       organization_id=...)``.

    Calls run with bounded concurrency through the client's limiter. A failing call is recorded
    in ``result.errors`` (operation, organization, domain, exception) and the walk goes on.
    ``on_progress(done, total)`` counts calls; ``total`` grows when step 3's calls become known.
    ``priority`` is the lane of the calls made (default ``"bulk"``: the key's interactive calls,
    e.g. a web handler's, are served first; see :func:`scaledmail_async.priority`).
    """
    lane = check_priority(priority)
    result = Inventory()
    done = 0
    total = 1

    def progress() -> None:
        if on_progress is not None:
            on_progress(done, total)

    with lane_scope(lane):
        orgs = await client.get_organizations()
    done += 1
    result.organizations = _items(getattr(orgs, "organizations", None))
    org_ids = [
        o.id for o in result.organizations if isinstance(getattr(o, "id", None), str) and o.id
    ]
    total += 2 * len(org_ids)
    progress()

    async def org_call(item: tuple[str, str]) -> list[Any]:
        operation, org_id = item
        if operation == "get_purchased_domains":
            response: Any = await client.get_purchased_domains(
                available=False, organization_id=org_id
            )
        else:
            response = await client.get_domains(organization_id=org_id)
        return _items(getattr(response, "domains", None))

    def step(done_now: int, total_now: int) -> None:
        nonlocal done
        done += 1
        progress()

    org_items = [(op, oid) for oid in org_ids for op in ("get_purchased_domains", "get_domains")]
    for r in await map_concurrent(
        org_call, org_items, concurrency=concurrency, on_progress=step, priority=lane
    ):
        operation, org_id = r.item
        if r.error is not None:
            result.errors.append(InventoryError(operation, org_id, None, r.error))
        elif operation == "get_purchased_domains":
            result.purchased_domains[org_id] = cast("list[PurchasedDomain]", r.value)
        else:
            result.domains[org_id] = cast("list[Domain]", r.value)

    if not include_mailboxes:
        return result
    domain_items: list[tuple[str, str]] = []
    for org_id, domains in result.domains.items():
        for domain in domains:
            did = getattr(domain, "id", None)
            if isinstance(did, str) and did.strip():
                domain_items.append((org_id, did))
    total += len(domain_items)
    progress()

    async def mailbox_call(item: tuple[str, str]) -> list[Any]:
        org_id, domain_id = item
        response = await client.get_mailboxes_by_domain_id(domain_id, organization_id=org_id)
        return _items(getattr(response, "mailboxes", None))

    for r in await map_concurrent(
        mailbox_call, domain_items, concurrency=concurrency, on_progress=step, priority=lane
    ):
        org_id, domain_id = r.item
        if r.error is not None:
            result.errors.append(
                InventoryError("get_mailboxes_by_domain_id", org_id, domain_id, r.error)
            )
        else:
            result.mailboxes[domain_id] = cast("list[Mailbox]", r.value)
    return result
