"""README.md's examples run twice against the same fake (and, for the exactly-once example, the
same purchase journal): a rerun must succeed as cleanly as the first run, and the polling example
must finish on the fake's own seeded data (which holds an order still waiting for its setup form:
``Active`` with no packages, never done by ``order_is_active``).

Like ``tests/test_readme.py``, every ```python block runs as written in a thread of its own
(each calls ``asyncio.run``), with the environment and the client's default ``base_url`` pointed
at the fake; the Redis example is left to that module (it needs a redis-server).
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from threaded_fake import ThreadedFake

from scaledmail_async import ScaledmailClient, order_is_active
from scaledmail_async.testing import FakeScaledmail

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _block(needle: str) -> str:
    (found,) = [b for b in BLOCKS if needle in b]
    return found


SPEND = _block("OutcomeUnknownError")
POLL = _block("poll_orders(")
EXACTLY_ONCE = _block("SQLitePurchaseJournal")


def _run(code: str, timeout: float = 90.0) -> str:
    """Exec ``code`` in a fresh thread (no running loop there); its stdout."""
    done: Future[str] = Future()

    def target() -> None:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
        except BaseException as exc:
            done.set_exception(exc)
        else:
            done.set_result(out.getvalue())

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"README example did not finish within {timeout:g} s"
    return done.result()


@pytest.fixture(scope="module")
def served() -> Iterator[ThreadedFake]:
    threaded = ThreadedFake(activate_after_polls=2)
    try:
        yield threaded
    finally:
        threaded.close()


@pytest.fixture
def fake(
    served: ThreadedFake, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> FakeScaledmail:
    fake = served.fake
    monkeypatch.setenv("SCALEDMAIL_API_KEY", fake.api_key)
    monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", fake.organization_id)
    monkeypatch.delenv("SCALEDMAIL_BASE_URL", raising=False)
    monkeypatch.delenv("SCALEDMAIL_REDIS_URL", raising=False)
    # One journal for both runs of the exactly-once example (the README reads this variable).
    journal = tmp_path_factory.getbasetemp() / "readme-rerun-journal.db"
    monkeypatch.setenv("SCALEDMAIL_JOURNAL", str(journal))
    defaults = ScaledmailClient.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "base_url", fake.base_url)
    return fake


def test_the_seeded_data_has_an_order_that_is_never_done(served: ThreadedFake) -> None:
    """Why the polling example leaves orders awaiting their form out (the README says so)."""
    state = served.fake.state

    def waiting() -> list[tuple[str, bool, int]]:
        form_orders = {form.payment_id for form in state.forms.values()}
        return [
            (o.id, o.active, len(o.packages)) for o in state.orders.values() if o.id in form_orders
        ]

    (order,) = served.call(waiting)
    assert order[1] is True and order[2] == 0  # "Active", no packages
    assert order_is_active.__doc__ and "at least one package" in order_is_active.__doc__


@pytest.mark.parametrize("run", [1, 2])
def test_every_example_reruns_cleanly(fake: FakeScaledmail, run: int) -> None:
    for code in BLOCKS:
        if "RedisRateLimiter" in code:
            continue
        out = _run(code)
        assert fake.api_key not in out
        for failure in ("fix the input", "failed:", "timed out", "look for tag", "Traceback"):
            assert failure not in out, (failure, out)


def test_the_spend_example_orders_again_on_a_rerun(fake: FakeScaledmail) -> None:
    before = fake.applied_count("create_custom_order")
    first, second = _run(SPEND), _run(SPEND)
    assert first.startswith("ordered:") and second.startswith("ordered:"), (first, second)
    assert fake.applied_count("create_custom_order") == before + 2


def test_the_polling_example_finishes_on_seeded_data(fake: FakeScaledmail) -> None:
    for _ in range(2):
        started = time.monotonic()
        out = _run(POLL)
        assert time.monotonic() - started < 30  # done, not cut off by its 60 s timeout
        assert "timed out" not in out
        assert out.rstrip().splitlines()[-1].endswith("not yet: []"), out


def test_the_exactly_once_example_buys_once_over_reruns(fake: FakeScaledmail) -> None:
    before = fake.applied_count("create_custom_order")
    outs = [_run(EXACTLY_ONCE) for _ in range(2)]
    bought = sum(line.startswith("bought:") for out in outs for line in out.splitlines())
    assert bought <= 1 and "already bought:" in outs[1], outs
    assert fake.applied_count("create_custom_order") - before == bought
