"""The fault matrix: every fault kind x each safety class, against the real fake server.

Each cell runs one call with ``max_retries=3`` and asserts the outcome (success, or the exact
error type), the exact number of requests the server received, the number of attempts the client
started (an aiohttp trace hook: the server cannot count connections it never accepted), and for
writes how many times the operation was applied. A spending call is received at most once unless
the server provably did not process it (a 429, or no connection at all).

Classes: ``read`` = ``get_order_details``, ``safe write`` = ``update_domain_redirect``,
``spend`` = ``create_custom_order`` (``provider=buy``, a unique tag per cell).

How the network faults are produced:

* connection refused: a loopback port that was bound then closed;
* connect timeout: a listener whose accept queue is full (Linux drops the SYN, so aiohttp's
  connect really times out: ``aiohttp.ConnectionTimeoutError``), ``connect_timeout=0.05``;
* reset before / after: the fake aborts the socket with ``SO_LINGER 0`` (an RST) before
  processing, or after processing without answering;
* read timeout: the fake processes the request then delays its answer past the per-attempt
  ``timeout`` (the worst case for a purchase: done, but the answer is lost).

Backoff is instantaneous (an injected ``sleep`` that records the requested delays), so the
server's wait hints can be checked without waiting for them. Run with ``-s`` for the table.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from reliability_helpers import (
    AttemptCounter,
    BlockedAcceptServer,
    SleepRecorder,
    acquired_connections,
    client_for,
    free_port,
    new_key,
)

from scaledmail_async._client import ScaledmailClient
from scaledmail_async.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ResponseDecodeError,
    ScaledmailError,
)
from scaledmail_async.models import CreateCustomOrderBody
from scaledmail_async.testing import FakeScaledmail

MAX_RETRIES = 3
TIMEOUT = 0.5
READ = "read"
WRITE = "safe write"
SPEND = "spend"
CLASSES = (READ, WRITE, SPEND)
OPERATION = {
    READ: "get_order_details",
    WRITE: "update_domain_redirect",
    SPEND: "create_custom_order",
}
_ALL_TRIES = 1 + MAX_RETRIES


@dataclass(frozen=True)
class Expect:
    """What one cell must produce. ``error=None`` means success; ``applied=None``: not checked
    (reads); ``attempts`` defaults to ``requests``."""

    error: type[ScaledmailError] | None
    requests: int
    applied: int | None = None
    attempts: int | None = None


@dataclass(frozen=True)
class FaultCase:
    """One row: how to inject the fault and what each safety class must do."""

    name: str
    kind: str  # a fake fault kind, or "refused" / "connect_timeout"
    params: dict[str, Any]
    expect: dict[str, Expect]
    #: Checks the delays the client asked to sleep (server hints, backoff).
    sleeps: Callable[[list[float]], bool] | None = None


def _ok(requests: int, applied: int | None = None) -> Expect:
    return Expect(None, requests, applied)


def _status_row(status: int) -> FaultCase:
    """A transient 5xx: safe classes retry to success; a purchase may have happened -> unknown."""
    return FaultCase(
        f"HTTP {status}",
        "status",
        {"status": status},
        {
            READ: _ok(2),
            WRITE: _ok(2, applied=1),
            SPEND: Expect(OutcomeUnknownError, 1, applied=0),
        },
    )


def _retry_after_row(fmt: str, check: Callable[[list[float]], bool]) -> FaultCase:
    """A 429 is never processed: every class, spending included, retries it to success."""
    return FaultCase(
        f"429 ({fmt})",
        "status",
        {"status": 429, "retry_after": 1, "retry_after_format": fmt},
        {READ: _ok(2), WRITE: _ok(2, applied=1), SPEND: _ok(2, applied=1)},
        sleeps=check,
    )


def _final_row(status: int, error: type[ScaledmailError]) -> FaultCase:
    return FaultCase(
        f"HTTP {status}",
        "status",
        {"status": status},
        {
            READ: Expect(error, 1),
            WRITE: Expect(error, 1, applied=0),
            SPEND: Expect(error, 1, applied=0),
        },
    )


# A safe write that was applied but whose answer was lost is retried; the API rejects a second
# redirect change while one is in progress (documented), so the retry gets a 409 whose message
# says an earlier attempt may have been applied.
_LOST_ANSWER_WRITE = Expect(ConflictError, 2, applied=1)

CASES: tuple[FaultCase, ...] = (
    _status_row(500),
    _status_row(502),
    _status_row(503),
    _status_row(504),
    _retry_after_row("seconds", lambda d: d == [1.0]),
    _retry_after_row("http-date", lambda d: len(d) == 1 and 0.0 < d[0] <= 2.0),
    _retry_after_row("body", lambda d: len(d) == 1 and 0.0 < d[0] <= 2.0),
    # No hint at all: the client's own backoff (full jitter, base 0.01 s).
    _retry_after_row("none", lambda d: len(d) == 1 and 0.0 <= d[0] <= 0.01),
    FaultCase(
        "HTTP 408",
        "status",
        {"status": 408},
        {READ: _ok(2), WRITE: _ok(2, applied=1), SPEND: Expect(OutcomeUnknownError, 1, applied=0)},
    ),
    # Nothing listens: provably not sent, so even a purchase is retried (max_retries times).
    FaultCase(
        "connection refused",
        "refused",
        {},
        {
            c: Expect(APIConnectionError, 0, applied=None if c == READ else 0, attempts=_ALL_TRIES)
            for c in CLASSES
        },
        sleeps=lambda d: len(d) == MAX_RETRIES,
    ),
    # The fake resets once it has the request, before processing: the client cannot tell this
    # from a reset after processing, so a purchase is "outcome unknown" (and was not applied).
    FaultCase(
        "reset before processing",
        "reset_before",
        {},
        {READ: _ok(2), WRITE: _ok(2, applied=1), SPEND: Expect(OutcomeUnknownError, 1, applied=0)},
    ),
    FaultCase(
        "reset after processing",
        "reset_after",
        {},
        {
            READ: _ok(2),
            WRITE: _LOST_ANSWER_WRITE,
            SPEND: Expect(OutcomeUnknownError, 1, applied=1),
        },
    ),
    FaultCase(
        "connect timeout",
        "connect_timeout",
        {},
        {
            c: Expect(APITimeoutError, 0, applied=None if c == READ else 0, attempts=_ALL_TRIES)
            for c in CLASSES
        },
        sleeps=lambda d: len(d) == MAX_RETRIES,
    ),
    FaultCase(
        "read timeout",
        "delay",
        {"seconds": 2.0, "after": True},
        {
            READ: _ok(2),
            WRITE: _LOST_ANSWER_WRITE,
            SPEND: Expect(OutcomeUnknownError, 1, applied=1),
        },
    ),
    FaultCase(
        "close mid-body",
        "close_mid_body",
        {},
        {
            READ: _ok(2),
            WRITE: _LOST_ANSWER_WRITE,
            SPEND: Expect(OutcomeUnknownError, 1, applied=1),
        },
    ),
    # A complete 2xx whose JSON is cut: the server did answer, the body is unusable.
    FaultCase(
        "truncated JSON",
        "truncated_json",
        {},
        {
            READ: Expect(ResponseDecodeError, 1),
            WRITE: Expect(ResponseDecodeError, 1, applied=1),
            SPEND: Expect(ResponseDecodeError, 1, applied=1),
        },
    ),
    FaultCase(
        "non-JSON 200",
        "non_json",
        {},
        {
            READ: Expect(ResponseDecodeError, 1),
            WRITE: Expect(ResponseDecodeError, 1, applied=0),
            SPEND: Expect(ResponseDecodeError, 1, applied=0),
        },
    ),
    FaultCase(
        "HTML 502 page",
        "html_error",
        {"status": 502},
        {READ: _ok(2), WRITE: _ok(2, applied=1), SPEND: Expect(OutcomeUnknownError, 1, applied=0)},
    ),
    _final_row(401, AuthenticationError),
    _final_row(403, PermissionDeniedError),
    _final_row(404, NotFoundError),
    FaultCase(
        "slow trickle",
        "trickle",
        {"chunk_size": 64, "interval": 0.002},
        {READ: _ok(1), WRITE: _ok(1, applied=1), SPEND: _ok(1, applied=1)},
    ),
)

_names = itertools.count()


@dataclass
class CellResult:
    fault: str
    klass: str
    outcome: str
    requests: int
    applied: int | None
    attempts: int


@dataclass
class MatrixReport:
    rows: list[CellResult] = field(default_factory=list)

    def table(self) -> str:
        by_fault: dict[str, dict[str, CellResult]] = {}
        for r in self.rows:
            by_fault.setdefault(r.fault, {})[r.klass] = r
        width = 34
        lines = [
            "fault matrix: outcome, r=requests the server received, t=attempts the client "
            "started, a=times applied (max_retries=3)",
            f"{'fault':<26}" + "".join(f"{c:<{width}}" for c in CLASSES),
        ]
        for fault, cells in by_fault.items():
            parts = []
            for c in CLASSES:
                cell = cells.get(c)
                if cell is None:
                    parts.append(f"{'-':<{width}}")
                    continue
                applied = "" if cell.applied is None else f" a={cell.applied}"
                text = f"{cell.outcome} r={cell.requests} t={cell.attempts}{applied}"
                parts.append(f"{text:<{width}}")
            lines.append(f"{fault:<26}" + "".join(parts))
        return "\n".join(lines)


@pytest.fixture(scope="module")
def report() -> Iterator[MatrixReport]:
    collected = MatrixReport()
    yield collected
    if collected.rows:
        print("\n" + collected.table())


@pytest.fixture
async def matrix_fake() -> AsyncIterator[FakeScaledmail]:
    async with FakeScaledmail(
        api_key=new_key("MATRIX"), rate_limits_enabled=False, taken_ratio=0.0
    ) as server:
        yield server


async def _call(client: ScaledmailClient, klass: str, fake: FakeScaledmail) -> Any:
    org = fake.organization_id
    if klass == READ:
        order_id = fake.state.org_orders(org)[0].id
        return await client.get_order_details(order_id)
    if klass == WRITE:
        domain = fake.state.org_domains(org)[0].name
        return await client.update_domain_redirect(
            domain, body={"new_redirect": "https://new-target.example"}
        )
    n = next(_names)
    name = f"matrixcell{n}x{int(time.time()) % 10_000}.com"
    body: CreateCustomOrderBody = {
        "tag": f"mx-{n}",
        "providers": {
            "google": {"domains": [{"domain": name, "first_name": "Lea", "last_name": "Moss"}]}
        },
    }
    return await client.create_custom_order(provider="buy", body=body)


@pytest.mark.parametrize("klass", CLASSES)
@pytest.mark.parametrize("case", CASES, ids=[c.name.replace(" ", "_") for c in CASES])
async def test_fault_cell(
    case: FaultCase, klass: str, matrix_fake: FakeScaledmail, report: MatrixReport
) -> None:
    fake = matrix_fake
    expect = case.expect[klass]
    operation = OPERATION[klass]
    sleep = SleepRecorder()
    trace = AttemptCounter()
    base_url = fake.base_url
    blocked: BlockedAcceptServer | None = None
    if case.kind == "refused":
        base_url = f"http://127.0.0.1:{free_port()}/api/v1"
    elif case.kind == "connect_timeout":
        blocked = BlockedAcceptServer()
        blocked.fill()
        base_url = f"http://127.0.0.1:{blocked.port}/api/v1"
    else:
        fake.faults.add(case.kind, operation=operation, **case.params)
    client = client_for(
        fake,
        max_retries=MAX_RETRIES,
        timeout=TIMEOUT,
        connect_timeout=0.05,
        rate_limit=None,
        backoff_base=0.01,
        backoff_max=0.05,
        sleep=sleep,
        trace_configs=[trace.config],
        base_url=base_url,
    )
    error: BaseException | None = None
    try:
        async with client:
            try:
                await _call(client, klass, fake)
            except ScaledmailError as exc:
                error = exc
            assert acquired_connections(client) == 0
    finally:
        if blocked is not None:
            blocked.close()

    outcome = "ok" if error is None else type(error).__name__
    applied = fake.applied_count(operation) if klass != READ else None
    report.rows.append(
        CellResult(case.name, klass, outcome, fake.request_count(operation), applied, trace.started)
    )
    if expect.error is None:
        assert error is None, f"{case.name}/{klass}: unexpected {error!r}"
    else:
        assert type(error) is expect.error, f"{case.name}/{klass}: got {error!r}"
    assert fake.request_count(operation) == expect.requests
    assert fake.request_count() == expect.requests  # nothing else reached the server
    attempts = expect.attempts if expect.attempts is not None else expect.requests
    assert trace.started == attempts
    assert trace.attempts == list(range(1, attempts + 1))
    if expect.applied is not None:
        assert fake.applied_count(operation) == expect.applied
    if klass == SPEND:
        assert fake.applied_count(operation) <= 1
        if isinstance(error, OutcomeUnknownError):
            assert error.tag is not None and error.tag.startswith("mx-")
            assert error.tag in str(error)
    if klass == WRITE and type(error) is ConflictError:
        assert "earlier attempt" in str(error)
    if case.sleeps is not None:
        assert case.sleeps(sleep.delays), f"{case.name}/{klass}: sleeps {sleep.delays}"
    elif expect.error is None:
        assert len(sleep.delays) == expect.requests - 1
