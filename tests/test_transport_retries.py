"""Retry decisions (aioresponses, instantaneous injected sleep): safety classes, hints, deadline."""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses
from operation_helpers import SAFE_GET, SPEND_POST

from scaledmail_async._client import ScaledmailClient
from scaledmail_async._limiter import InProcessLimiter
from scaledmail_async._operation import Operation
from scaledmail_async._types import UNSET, Unset
from scaledmail_async.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
)

BASE = "https://api.test/api/v1"
THING_URL = f"{BASE}/things/rec1?organization_id=recORG"
BUY_URL = f"{BASE}/buy-thing?organization_id=recORG"
WALL = 1_800_000_000.0


class SleepRecorder:
    """An injectable ``sleep`` that returns at once and records the delays asked for.

    ``clock`` advances by each delay, so deadline logic sees time pass.
    """

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now = 1000.0

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.now += delay

    def clock(self) -> float:
        return self.now


@pytest.fixture
def sleeper() -> SleepRecorder:
    """A :class:`SleepRecorder` (inject ``sleep=sleeper, clock=sleeper.clock``)."""
    return SleepRecorder()


def _refused() -> aiohttp.ClientConnectorError:
    key = ConnectionKey("api.test", 443, True, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


def _client(api_key: str, sleeper: SleepRecorder, **kw: Any) -> ScaledmailClient:
    opts: dict[str, Any] = {
        "organization_id": "recORG",
        "base_url": BASE,
        "rate_limit": None,
        "sleep": sleeper,
        "clock": sleeper.clock,
        "wall_clock": lambda: WALL,
        "random": lambda: 1.0,
    }
    opts.update(kw)
    return ScaledmailClient(api_key, **opts)


async def _call(
    client: ScaledmailClient, op: Operation, *, deadline: float | Unset | None = UNSET
) -> Any:
    # UNSET: the client's timeout and deadline (None would mean none)
    return await client._execute(
        op,
        path_params={"thing_id": "rec1"} if op.path_params else {},
        query={},
        body=UNSET,
        organization_id=UNSET,
        timeout=UNSET,
        deadline=deadline,
        raw=True,
    )


def _count(m: aioresponses) -> int:
    return sum(len(calls) for calls in m.requests.values())


def _failure(kind: str | int) -> dict[str, Any]:
    if isinstance(kind, int):
        return {"status": kind, "payload": {"error": f"status {kind}"}}
    exc: Exception = {
        "refused": _refused(),
        "connect_timeout": aiohttp.ConnectionTimeoutError("connect timeout"),
        "disconnected": aiohttp.ServerDisconnectedError(),
        "reset": aiohttp.ClientOSError(104, "Connection reset by peer"),
        "read_timeout": aiohttp.SocketTimeoutError("Timeout on reading data from socket"),
        "total_timeout": TimeoutError(),
        "payload": aiohttp.ClientPayloadError("truncated"),
    }[kind]
    return {"exception": exc}


# -- safe operations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [500, 502, 503, 504, 408, 429, "refused", "disconnected", "reset", "read_timeout", "payload"],
)
async def test_safe_operation_retried_then_succeeds(
    api_key: str, sleeper: SleepRecorder, failure: str | int
) -> None:
    async with _client(api_key, sleeper) as client:
        with aioresponses() as m:
            m.get(THING_URL, **_failure(failure))
            m.get(THING_URL, **_failure(failure))
            m.get(THING_URL, status=200, payload={"ok": True})
            result = await _call(client, SAFE_GET)
            assert _count(m) == 3
    assert result.parsed == {"ok": True}
    assert result.retries_taken == 2
    assert len(sleeper.delays) == 2


@pytest.mark.parametrize("max_retries", [0, 1, 3])
async def test_max_retries_is_honoured(
    api_key: str, sleeper: SleepRecorder, max_retries: int
) -> None:
    async with _client(api_key, sleeper, max_retries=max_retries) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=503, repeat=True)
            with pytest.raises(InternalServerError):
                await _call(client, SAFE_GET)
            assert _count(m) == max_retries + 1
    assert len(sleeper.delays) == max_retries


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
async def test_safe_operation_not_retried_on_other_statuses(
    api_key: str, sleeper: SleepRecorder, status: int
) -> None:
    async with _client(api_key, sleeper) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=status, repeat=True)
            with pytest.raises(APIStatusError):
                await _call(client, SAFE_GET)
            assert _count(m) == 1


async def test_backoff_is_exponential_full_jitter_with_cap(
    api_key: str, sleeper: SleepRecorder
) -> None:
    draws = iter([1.0, 1.0, 1.0, 0.5, 0.25])
    async with _client(
        api_key,
        sleeper,
        max_retries=5,
        backoff_base=0.5,
        backoff_max=1.5,
        random=lambda: next(draws),
    ) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=500, repeat=True)
            with pytest.raises(InternalServerError):
                await _call(client, SAFE_GET)
    # ceilings 0.5, 1.0, 2.0->1.5 (cap), 1.5, 1.5, each times the jitter draw
    assert sleeper.delays == pytest.approx([0.5, 1.0, 1.5, 0.75, 0.375])


# -- spending operations --------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [503, 500, 502, 504, 408, "disconnected", "reset", "read_timeout", "total_timeout", "payload"],
)
async def test_spending_call_with_possible_side_effect_is_sent_once(
    api_key: str, sleeper: SleepRecorder, failure: str | int
) -> None:
    async with _client(api_key, sleeper) as client:
        with aioresponses() as m:
            m.post(BUY_URL, **_failure(failure))
            m.post(BUY_URL, status=200, payload={"ok": True})
            with pytest.raises(OutcomeUnknownError) as info:
                await _call(client, SPEND_POST)
            sent = _count(m)
    print(f"spending POST, fault {failure!r}: server saw {sent} request(s)")
    assert sent == 1
    assert sleeper.delays == []
    err = info.value
    assert err.operation == "buy_thing"
    assert "get_orders" in str(err) and "get_order_details" in str(err)
    assert err.cause is not None


@pytest.mark.parametrize("failure", ["refused", "connect_timeout", 429])
async def test_spending_call_retried_when_provably_not_processed(
    api_key: str, sleeper: SleepRecorder, failure: str | int
) -> None:
    async with _client(api_key, sleeper) as client:
        with aioresponses() as m:
            m.post(BUY_URL, **_failure(failure))
            m.post(BUY_URL, status=200, payload={"ok": True})
            result = await _call(client, SPEND_POST)
            sent = _count(m)
    print(f"spending POST, fault {failure!r}: server saw {sent} request(s)")
    assert sent == 2
    assert result.parsed == {"ok": True}


@pytest.mark.parametrize(("status", "cls"), [(400, BadRequestError), (404, NotFoundError)])
async def test_spending_call_4xx_raises_status_error_once(
    api_key: str, sleeper: SleepRecorder, status: int, cls: type[Exception]
) -> None:
    async with _client(api_key, sleeper) as client:
        with aioresponses() as m:
            m.post(BUY_URL, status=status, payload={"error": "domain unavailable"}, repeat=True)
            with pytest.raises(cls, match="domain unavailable"):
                await _call(client, SPEND_POST)
            assert _count(m) == 1


async def test_spending_refused_every_time_gives_connection_error(
    api_key: str, sleeper: SleepRecorder
) -> None:
    async with _client(api_key, sleeper, max_retries=2) as client:
        with aioresponses() as m:
            m.post(BUY_URL, exception=_refused(), repeat=True)
            with pytest.raises(APIConnectionError):
                await _call(client, SPEND_POST)
            assert _count(m) == 3


# -- server hints ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "2"}, {}, 2.0),
        ({"Retry-After": "1.5"}, {}, 1.5),
        ({"Retry-After": email.utils.formatdate(WALL + 7, usegmt=True)}, {}, 7.0),
        ({"retry-after-ms": "250"}, {}, 0.25),
        ({}, {"message": "Too many", "retryAfter": WALL + 5, "limit": "5/s"}, 5.0),
        ({}, {"message": "Too many", "retryAfter": (WALL + 3) * 1000}, 3.0),
        ({}, {"message": "Too many", "retryAfter": 4}, 4.0),
    ],
    ids=[
        "seconds",
        "fraction",
        "http-date",
        "ms-header",
        "body-epoch",
        "body-epoch-ms",
        "body-secs",
    ],
)
async def test_429_wait_hint_is_honoured(
    api_key: str, sleeper: SleepRecorder, headers: dict[str, str], body: Any, expected: float
) -> None:
    async with _client(api_key, sleeper) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=429, headers=headers, payload=body)
            m.get(THING_URL, status=200, payload={})
            await _call(client, SAFE_GET)
    assert sleeper.delays == pytest.approx([expected], abs=0.01)


async def test_503_retry_after_header_is_honoured(api_key: str, sleeper: SleepRecorder) -> None:
    async with _client(api_key, sleeper) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=503, headers={"Retry-After": "3"})
            m.get(THING_URL, status=200, payload={})
            await _call(client, SAFE_GET)
    assert sleeper.delays == [3.0]


async def test_hint_above_ceiling_raises_instead_of_retrying(
    api_key: str, sleeper: SleepRecorder
) -> None:
    async with _client(api_key, sleeper, max_retry_after=60.0) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=429, payload={"message": "Too many", "retryAfter": WALL + 120})
            m.get(THING_URL, status=200, payload={})
            with pytest.raises(RateLimitError, match="max_retry_after") as info:
                await _call(client, SAFE_GET)
            assert _count(m) == 1
        with aioresponses() as m:
            m.get(THING_URL, status=503, headers={"Retry-After": "600"})
            m.get(THING_URL, status=200, payload={})
            with pytest.raises(InternalServerError):
                await _call(client, SAFE_GET)
            assert _count(m) == 1
    assert info.value.retry_after == pytest.approx(120.0)
    assert sleeper.delays == []


async def test_429_with_limiter_pauses_the_limiter_instead_of_sleeping(
    api_key: str, sleeper: SleepRecorder
) -> None:
    limiter = InProcessLimiter(1000.0)
    async with _client(api_key, sleeper, limiter=limiter) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=429, payload={"message": "Too many", "retryAfter": 0.2})
            m.get(THING_URL, status=200, payload={})
            result = await _call(client, SAFE_GET)
    assert sleeper.delays == []
    assert result.retries_taken == 1
    # the second attempt waited in the shared limiter for the hinted pause
    assert result.limiter_wait >= 0.15
    assert limiter.current_rate() < 1000.0


# -- deadline -------------------------------------------------------------------------------


async def test_deadline_never_sleeps_past_it(api_key: str, sleeper: SleepRecorder) -> None:
    async with _client(api_key, sleeper) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=429, headers={"Retry-After": "10"})
            m.get(THING_URL, status=200, payload={})
            with pytest.raises(APITimeoutError, match="deadline of 5s") as info:
                await _call(client, SAFE_GET, deadline=5.0)
            assert _count(m) == 1
    assert sleeper.delays == []
    assert isinstance(info.value.__cause__, RateLimitError)


async def test_deadline_stops_backoff_chain(api_key: str, sleeper: SleepRecorder) -> None:
    async with _client(api_key, sleeper, max_retries=10) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=500, repeat=True)
            with pytest.raises(APITimeoutError, match="deadline"):
                await _call(client, SAFE_GET, deadline=1.2)
            calls = _count(m)
    # backoff 0.5 (t=0.5) fits; the next 1.0 would end at 1.5 > 1.2
    assert sleeper.delays == [0.5]
    assert calls == 2


async def test_retry_logged_at_info_with_operation_attempt_reason_delay(
    api_key: str, sleeper: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scaledmail_async")
    async with _client(api_key, sleeper) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=503)
            m.get(THING_URL, status=200, payload={})
            await _call(client, SAFE_GET)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(
        "get_thing" in msg and "attempt 2" in msg and "HTTP 503" in msg and "0.50s" in msg
        for msg in infos
    ), infos
    debugs = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("-> 503" in msg for msg in debugs) and any("-> 200" in msg for msg in debugs)
    assert api_key not in caplog.text


# -- the same faults from a real local server -----------------------------------------------


class _FaultServer:
    """Counts requests; ``mode`` decides the answer: hang, drop the connection, or 503."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.seen = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen += 1
        if self.mode == "hang":
            await asyncio.sleep(2.0)
        elif self.mode == "drop":
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(0.1)
        elif self.mode == "503":
            return web.json_response({"error": "unavailable"}, status=503)
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


@pytest.mark.parametrize("mode", ["hang", "drop", "503"])
async def test_real_server_spending_fault_sent_exactly_once(
    serve: Callable[[web.Application], Awaitable[str]], api_key: str, mode: str
) -> None:
    server = _FaultServer(mode)
    base = await serve(server.app())
    async with ScaledmailClient(
        api_key, base_url=base, organization_id="recORG", rate_limit=None, timeout=0.3
    ) as client:
        with pytest.raises(OutcomeUnknownError):
            await _call(client, SPEND_POST)
    print(f"real server, spending POST, fault {mode!r}: server saw {server.seen} request(s)")
    assert server.seen == 1


async def test_real_server_safe_read_timeout_retried_then_deadline(
    serve: Callable[[web.Application], Awaitable[str]], api_key: str
) -> None:
    server = _FaultServer("hang")
    base = await serve(server.app())
    async with ScaledmailClient(
        api_key,
        base_url=base,
        organization_id="recORG",
        rate_limit=None,
        timeout=0.15,
        max_retries=1,
        backoff_base=0.01,
    ) as client:
        with pytest.raises(APITimeoutError, match="failed: a timeout"):
            await _call(client, SAFE_GET)
        assert server.seen == 2
        with pytest.raises(APITimeoutError, match=r"deadline of 0\.1s was reached"):
            await _call(client, SAFE_GET, deadline=0.1)
    assert server.seen == 3
