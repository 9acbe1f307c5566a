"""Bounded-concurrency map with per-item results: :func:`map_concurrent` and :class:`Result`.

A fixed pool of worker coroutines pulls from one iterator (a few lines of asyncio;
``aiostream``/``asyncio-pool`` would be a new runtime dependency), so memory stays flat for large
inputs, and an item's exception is kept in its result instead of failing the batch. Each
finished item is handed to ``on_result`` as it finishes, and a batch stopped by a cancellation
(or any exception) leaves the finished items on that exception (``exc.partial``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar, cast

import attrs

from scaledmail_async._lanes import Priority, check_priority
from scaledmail_async._lanes import priority as lane_scope
from scaledmail_async.bulk._common import ProgressHook, keep_partial

__all__ = ["Result", "ResultHook", "map_concurrent"]

T = TypeVar("T")
R = TypeVar("R")


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


ResultHook = Callable[[Result[T, R]], None]
"""``on_result(result)``: called with each item's :class:`Result` as soon as it finishes."""


async def map_concurrent(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: int = 8,
    on_progress: ProgressHook | None = None,
    on_result: ResultHook[T, R] | None = None,
    priority: Priority = "bulk",
) -> list[Result[T, R]]:
    """Run ``await fn(item)`` for every item, at most ``concurrency`` at a time.

    Returns one :class:`Result` per item, in input order. An exception raised by ``fn`` is kept
    in that item's result and never fails the batch. A fixed pool of ``concurrency`` worker
    coroutines pulls items from one iterator (not a task per item), so memory stays flat for large
    inputs. ``on_result(result)`` is called with each item's :class:`Result` the moment it
    finishes (completion order), then ``on_progress(done, total)``; an exception raised by either
    stops the batch and propagates.

    Stopping keeps what was done. Cancelling the caller (``task.cancel()``, ``asyncio.timeout``,
    Ctrl-C under ``asyncio.run``) cancels the workers and waits for them, then re-raises the
    same :class:`asyncio.CancelledError` with ``exc.partial`` set to the :class:`Result` s of the
    items that finished, in input order (read it with
    :func:`~scaledmail_async.bulk.partial_results`, which also finds it behind the
    ``KeyboardInterrupt`` of ``asyncio.run``); ``on_result`` has been called for each of them.
    The items in flight were cut off mid-call: a spend among them is logged at WARNING by the
    client with its tag, its outcome unknown until reconciled. Any other exception leaving the
    batch (from ``on_progress``/``on_result``, ``KeyboardInterrupt``, ``SystemExit``) carries
    ``partial`` the same way; ``CancelledError``, ``KeyboardInterrupt`` and ``SystemExit`` are
    never captured into a result.

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
    stopping = False

    async def worker() -> None:
        nonlocal done
        while not stopping:  # a stopped batch takes no new item, even if ``fn`` ate the cancel
            taken = next(pending, None)
            if taken is None:
                return
            index, item = taken
            try:
                value = await fn(item)
            except Exception as exc:
                result: Result[T, R] = Result(item=item, error=exc)
            else:
                result = Result(item=item, value=value)
            results[index] = result
            done += 1
            if on_result is not None:
                on_result(result)
            if on_progress is not None:
                on_progress(done, total)

    with lane_scope(lane):  # the workers' context, copied at creation, carries the lane
        workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, total))]
    try:
        await asyncio.gather(*workers)
    except BaseException as exc:
        stopping = True
        try:
            for w in workers:
                # Once only: a worker the cancellation already reached is left to finish its
                # clean-up (a spend records in the journal that it was never sent).
                if not w.done() and not w.cancelling():
                    w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        finally:  # even when a second cancellation cuts the wait short (it links to ``exc``)
            keep_partial(exc, [r for r in results if r is not None])
        raise
    return cast(list[Result[T, R]], results)
