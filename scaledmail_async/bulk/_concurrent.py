"""Bounded-concurrency map with per-item results: :func:`map_concurrent` and :class:`Result`.

A fixed pool of worker coroutines pulls from one iterator (a few lines of asyncio;
``aiostream``/``asyncio-pool`` would be a new runtime dependency), so memory stays flat for large
inputs, and an item's exception is kept in its result instead of failing the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar, cast

import attrs

from scaledmail_async._lanes import Priority, check_priority
from scaledmail_async._lanes import priority as lane_scope
from scaledmail_async.bulk._common import ProgressHook

__all__ = ["Result", "map_concurrent"]

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
