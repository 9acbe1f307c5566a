"""A FakeScaledmail served from its own event loop in a daemon thread, for tests whose code under
test runs its own loop (the CLI, ``asyncio.run`` in scripts and README examples).

A plain module (not a ``conftest.py``), imported by the tests that need it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from scaledmail_async.testing import FakeScaledmail

T = TypeVar("T")


class ThreadedFake:
    """A FakeScaledmail serving from its own event loop in a daemon thread."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake: FakeScaledmail = self.call(lambda: FakeScaledmail(**options))
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the fake's loop (its state is only touched from there)."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # pragma: no cover - surfaced by result()
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
