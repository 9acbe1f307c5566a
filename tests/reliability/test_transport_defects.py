"""Transport defects found by an outside probe (issue 10), each against a raw local TCP server.

The servers here are plain ``asyncio.start_server`` sockets that write exactly the bytes a test
wants (a bad status line, an SSH banner, 100 KB of headers, a body nested 1,000 levels deep, a
body over the size cap, an answer that never comes), so every odd response reaches the SDK as it
would from a broken proxy or a hostile host.

1. The API key is in no exception the SDK raises after a malformed response, nor in anything
   reachable from one (``__cause__``, ``__context__``, attributes, ``args``, ``request_info``),
   nor in the formatted traceback or a DEBUG log line.
2. ``aclose()`` while a spend is in flight (the server holds its request) says the outcome is
   unknown; before anything could be sent (rate limiter, connecting) it stays a plain
   ``ClientClosedError``, as does an interrupted read.
3. A deeply nested JSON body ends in a typed error that keeps what is known, for any status, with
   and without msgspec, and the CLI exits with a mapped code.
4. A 429 body's ``retryAfter`` is read as the API documents it (a Unix epoch in seconds); a
   non-epoch value is a delay in seconds only up to the API's longest window (60 s), else no hint
   (``1500`` meant as milliseconds no longer waits 25 minutes).
5. A body over ``max_response_size`` (declared, chunked or compressed) raises
   ``ResponseTooLargeError`` without being read to its end.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
import traceback
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from reliability_helpers import BlockedAcceptServer, SleepRecorder, new_key

import scaledmail_async._client as client_module
from scaledmail_async import errors
from scaledmail_async._client import ScaledmailClient
from scaledmail_async._limiter import RateLimiter
from scaledmail_async._retry import parse_retry_after
from scaledmail_async.cli._app import build_cli
from scaledmail_async.cli._errors import EXIT_API_STATUS, EXIT_OUTCOME_UNKNOWN
from scaledmail_async.models import CreateCustomOrderBody

#: Generous bound for "does not hang" (the calls below take milliseconds when they work).
HANG = 10.0
NOW = 1_800_000_000.0  # the injected wall clock (2027-01-15)


# --------------------------------------------------------------------------- raw servers


def http_reply(
    status: str,
    body: bytes = b"",
    *,
    headers: Sequence[tuple[str, str]] = (("Content-Type", "application/json"),),
    length: bool = True,
) -> bytes:
    """An HTTP/1.1 response, byte for byte (``Connection: close``, Content-Length if ``length``)."""
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), "Connection: close"]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(status: str, body: bytes, *, chunk: int = 256, end: bool = True) -> bytes:
    """A ``Transfer-Encoding: chunked`` response of ``body`` (without the last chunk if not
    ``end``: the body then never finishes)."""
    head = http_reply(
        status,
        headers=(("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")),
        length=False,
    )
    parts = [head]
    for i in range(0, len(body), chunk):
        piece = body[i : i + chunk]
        parts.append(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    if end:
        parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class RawServer:
    """A TCP server on 127.0.0.1 that reads each HTTP request (head and Content-Length body),
    records it, then writes the next of ``replies`` (the last one repeats) and closes.

    A reply of ``None`` writes nothing and holds the connection; with ``hold=True`` the
    connection is held after the reply is written too (a body that never ends)."""

    def __init__(self, *replies: bytes | None, hold: bool = False) -> None:
        self.replies = list(replies) or [None]
        self.hold = hold
        self.requests: list[bytes] = []
        self.received = asyncio.Event()
        self._stop = asyncio.Event()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=HANG)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            self.requests.append(head + body)
            reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
            self.received.set()
            if reply is not None:
                writer.write(reply)
                await writer.drain()
            if reply is None or self.hold:
                await self._stop.wait()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)


class ThreadedRawServer:
    """A :class:`RawServer` on its own event loop in a thread (for the CLI, which runs
    ``asyncio.run`` itself)."""

    def __init__(self, *replies: bytes | None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: RawServer | None = None
        self._replies = replies

    def __enter__(self) -> RawServer:
        self.thread.start()

        async def start() -> RawServer:
            return await RawServer(*self._replies).__aenter__()

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(HANG)
        return self.server

    def __exit__(self, *exc_info: object) -> None:
        assert self.server is not None
        asyncio.run_coroutine_threadsafe(self.server.__aexit__(), self.loop).result(HANG)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(HANG)
        self.loop.close()


def client_of(server: RawServer, key: str, **options: Any) -> ScaledmailClient:
    options.setdefault("rate_limit", None)
    options.setdefault("max_retries", 0)
    options.setdefault("sleep", SleepRecorder())
    return ScaledmailClient(key, base_url=server.base_url, organization_id="recOrg", **options)


Call = Callable[[ScaledmailClient], Coroutine[Any, Any, Any]]

TAG = "tag-issue10"


def read(client: ScaledmailClient) -> Coroutine[Any, Any, Any]:
    return client.get_orders()


def spend(client: ScaledmailClient) -> Coroutine[Any, Any, Any]:
    body: CreateCustomOrderBody = {
        "tag": TAG,
        "providers": {
            "google": {
                "domains": [{"domain": "issue-ten.com", "first_name": "Lea", "last_name": "Moss"}]
            }
        },
    }
    return client.create_custom_order(provider="buy", body=body)


CALLS: dict[str, Call] = {"read": read, "spend": spend}


# --------------------------------------------------------------------------- 1. the key in errors


def reachable_texts(root: BaseException) -> list[str]:
    """The repr of everything reachable from ``root``: exceptions (str, repr, formatted
    traceback, ``__cause__``, ``__context__``, ``args``, every attribute, recursively),
    containers, mappings (multidicts included) and any object's ``request_info``/``headers``/
    ``history``."""
    texts: list[str] = []
    seen: set[int] = set()
    stack: list[object] = [root]
    while stack and len(seen) < 5000:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        try:
            texts.append(repr(obj))
        except Exception as exc:  # pragma: no cover - a failing repr is itself a finding
            texts.append(f"<repr of {type(obj).__name__} failed: {exc!r}>")
        if isinstance(obj, str | bytes | int | float | bool):
            continue
        if isinstance(obj, BaseException):
            texts.append(str(obj))
            texts.append("".join(traceback.format_exception(obj)))
            stack += [obj.__cause__, obj.__context__, *obj.args, *vars(obj).values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            stack += list(obj)
        elif isinstance(obj, Mapping):
            stack += [*obj.keys(), *obj.values()]
        else:
            stack += [getattr(obj, n, None) for n in ("request_info", "headers", "history")]
    return texts


MALFORMED: dict[str, bytes] = {
    "bad status line": b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
    "not HTTP": b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n",
    "oversized headers": (
        b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 100_000 + b"\r\nContent-Length: 2\r\n\r\n{}"
    ),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("call", sorted(CALLS))
async def test_key_in_no_error_after_a_malformed_response(
    kind: str, call: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key("LEAK")
    caplog.set_level(logging.DEBUG, logger="scaledmail_async")
    async with RawServer(MALFORMED[kind]) as server:
        # The read is retried once (the retry path and its log line are covered too).
        retries = 1 if call == "read" else 0
        async with client_of(server, key, max_retries=retries) as client:
            with pytest.raises(errors.ScaledmailError) as info:
                await asyncio.wait_for(CALLS[call](client), HANG)
    assert server.requests and key.encode() in server.requests[0]  # the key was sent
    exc = info.value
    if call == "spend":
        assert isinstance(exc, errors.OutcomeUnknownError)
        assert exc.tag == TAG
        assert exc.cause is exc.__cause__
    else:
        assert type(exc) is errors.APIConnectionError
        assert len(server.requests) == 2
    texts = reachable_texts(exc)
    assert len(texts) > 5
    for text in texts:
        assert key not in text, text[:400]
    # The cause still says what aiohttp saw, with the header shown as redacted.
    cause = exc.__cause__
    assert isinstance(cause, aiohttp.ClientResponseError)
    assert exc.__context__ is None or exc.__context__ is cause
    assert cause.request_info.headers["Authorization"] == "Bearer [REDACTED]"
    assert cause.history == ()
    assert cause.request_info.url.path.endswith(("/orders", "/create-custom-order"))
    assert key not in caplog.text
    for record in caplog.records:
        assert key not in record.getMessage()
        assert key not in repr(record.args)


# --------------------------------------------------------------------------- 2. aclose mid-spend


class BlockingLimiter(RateLimiter):
    """A limiter that never grants a slot (the call waits in it until cancelled)."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()

    async def acquire(self, group: str | None = None, *, timeout: float | None = None) -> float:  # noqa: ASYNC109
        self.waiting.set()
        await asyncio.Event().wait()
        return 0.0  # pragma: no cover

    def report_rate_limited(self, group: str | None, retry_after: float | None) -> float:
        return 0.0  # pragma: no cover


async def _close_while_running(client: ScaledmailClient, call: Call, ready: asyncio.Event) -> Any:
    task = asyncio.create_task(call(client))
    await asyncio.wait_for(ready.wait(), HANG)
    await asyncio.sleep(0.01)  # let it settle where it waits
    assert not task.done()
    await asyncio.wait_for(client.aclose(), HANG)
    with pytest.raises(errors.ClientClosedError) as info:
        await asyncio.wait_for(task, HANG)
    return info.value


async def test_aclose_during_a_sent_spend_says_the_outcome_is_unknown() -> None:
    async with RawServer(None) as server:
        client = client_of(server, new_key("CLOSE"))
        exc = await _close_while_running(client, spend, server.received)
    assert len(server.requests) == 1  # the server got the purchase
    assert isinstance(exc, errors.OutcomeUnknownError), repr(exc)
    assert isinstance(exc, errors.ClientClosedError)
    assert type(exc).__name__ == "ClientClosedOutcomeUnknownError"
    assert exc.tag == TAG
    assert exc.operation == "create_custom_order"
    assert exc.method == "POST"
    assert "outcome unknown" in str(exc) and TAG in str(exc)


async def test_aclose_during_a_read_stays_client_closed() -> None:
    async with RawServer(None) as server:
        client = client_of(server, new_key("CLOSE"))
        exc = await _close_while_running(client, read, server.received)
    assert type(exc) is errors.ClientClosedError


async def test_aclose_before_a_spend_was_sent_stays_client_closed() -> None:
    limiter = BlockingLimiter()
    async with RawServer(http_reply("200 OK", b"{}")) as server:
        client = client_of(server, new_key("CLOSE"), limiter=limiter)
        exc = await _close_while_running(client, spend, limiter.waiting)
    assert server.requests == []
    assert type(exc) is errors.ClientClosedError


async def test_aclose_while_a_spend_is_connecting_stays_client_closed() -> None:
    blocked = BlockedAcceptServer()
    blocked.fill()
    connecting = asyncio.Event()

    async def on_start(*_args: Any) -> None:
        connecting.set()

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_start.append(on_start)
    try:
        client = ScaledmailClient(
            new_key("CLOSE"),
            base_url=f"http://127.0.0.1:{blocked.port}/api/v1",
            organization_id="recORG",
            rate_limit=None,
            max_retries=0,
            connect_timeout=HANG * 3,
            trace_configs=[trace],
        )
        exc = await _close_while_running(client, spend, connecting)
    finally:
        blocked.close()
    assert type(exc) is errors.ClientClosedError


# --------------------------------------------------------------------------- 3. nested JSON


NESTED = b"[" * 1000 + b"]" * 1000
VERY_NESTED = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


@pytest.fixture(params=["msgspec", "json"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both decode paths: msgspec's (when installed) and the standard library's."""
    if request.param == "json":
        monkeypatch.setattr(client_module, "_fast_loads", None)
    elif client_module._fast_loads is None:  # pragma: no cover - msgspec not installed
        pytest.skip("msgspec is not installed")
    yield request.param


@pytest.mark.parametrize("body", [NESTED, VERY_NESTED], ids=["1000-levels", "50000-levels"])
@pytest.mark.parametrize("call", sorted(CALLS))
async def test_deeply_nested_2xx_is_a_decode_error(call: str, body: bytes, decoder: str) -> None:
    async with RawServer(http_reply("200 OK", body)) as server:
        async with client_of(server, new_key("NEST")) as client:
            with pytest.raises(errors.ResponseDecodeError) as info:
                await CALLS[call](client)
    exc = info.value
    assert exc.status_code == 200
    assert exc.text == body.decode()
    if call == "spend":
        assert "went through" in str(exc)
    # A raw request() says the same (its own decode step).
    async with RawServer(http_reply("200 OK", body)) as server:
        async with client_of(server, new_key("NEST")) as client:
            with pytest.raises(errors.ResponseDecodeError):
                await client.request("GET", "/orders")


@pytest.mark.parametrize("body", [NESTED, VERY_NESTED], ids=["1000-levels", "50000-levels"])
@pytest.mark.parametrize("call", sorted(CALLS))
async def test_deeply_nested_error_body_keeps_the_status(call: str, body: bytes) -> None:
    async with RawServer(http_reply("500 Internal Server Error", body)) as server:
        async with client_of(server, new_key("NEST")) as client:
            with pytest.raises(errors.ScaledmailError) as info:
                await CALLS[call](client)
    exc = info.value
    if call == "spend":
        assert isinstance(exc, errors.OutcomeUnknownError)
        status_error = exc.cause
    else:
        status_error = exc
    assert isinstance(status_error, errors.InternalServerError), repr(status_error)
    assert status_error.status_code == 500
    assert status_error.body == body.decode()  # the raw text
    assert "HTTP 500" in str(status_error)


@pytest.mark.parametrize(
    ("args", "status", "code", "says"),
    [
        (["orders", "get-orders"], "200 OK", EXIT_API_STATUS, "unreadable response"),
        (["orders", "get-orders"], "500 Internal Server Error", EXIT_API_STATUS, "HTTP 500"),
        (
            ["domains", "buy-domains", "--yes", "--body", '{"domains": ["issue-ten.com"]}'],
            "200 OK",
            EXIT_API_STATUS,
            "went through",
        ),
        (
            ["domains", "buy-domains", "--yes", "--body", '{"domains": ["issue-ten.com"]}'],
            "502 Bad Gateway",
            EXIT_OUTCOME_UNKNOWN,
            "reconcile",
        ),
    ],
    ids=["read-200", "read-500", "spend-200", "spend-502"],
)
def test_cli_exit_code_on_deeply_nested_json(
    args: list[str], status: str, code: int, says: str
) -> None:
    key = new_key("CLI")
    with ThreadedRawServer(http_reply(status, NESTED)) as server:
        env = {
            "SCALEDMAIL_API_KEY": key,
            "SCALEDMAIL_BASE_URL": server.base_url,
            "SCALEDMAIL_ORGANIZATION_ID": "recOrg",
            "SCALEDMAIL_LOG": "",
        }
        result = CliRunner().invoke(build_cli(), ["--max-retries", "0", *args], env=env)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert says in result.stderr
    assert "Traceback" not in result.output and key not in result.output


# --------------------------------------------------------------------------- 4. retryAfter units


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOW + 30, 30.0),  # the documented form: a Unix epoch in seconds
        (str(int(NOW + 30)), 30.0),
        (NOW - 5, 0.0),  # already passed
        ((NOW + 30) * 1000, 30.0),  # an epoch in milliseconds (unambiguous by magnitude)
        (1767225600, 0.0),  # the docs' own example, long past at NOW
        # Not an epoch: up to the API's longest window (60 s), a delay in seconds ...
        (0, 0.0),
        (4, 4.0),
        (0.5, 0.5),
        (60, 60.0),
        # ... above it, no usable hint (a delay in seconds or in milliseconds? both are guesses)
        (60.5, None),
        (1500, None),
        (86_400, None),
        (999_999_999, None),
        (-3, None),
        (True, None),
        ("soon", None),
    ],
)
def test_retry_after_body_follows_the_documented_epoch(value: Any, expected: float | None) -> None:
    got = parse_retry_after({}, {"retryAfter": value}, NOW)
    assert got == (pytest.approx(expected) if expected is not None else None)


def _rate_limited(retry_after: float) -> bytes:
    body = {"message": "Too many requests", "retryAfter": retry_after, "limit": "5 per second"}
    return http_reply("429 Too Many Requests", json.dumps(body).encode())


ORDERS_OK = http_reply("200 OK", b'{"payments": []}')


async def test_retry_after_1500_is_not_read_as_25_minutes() -> None:
    sleep = SleepRecorder()
    async with RawServer(_rate_limited(1500), ORDERS_OK) as server:
        async with client_of(
            server,
            new_key("RA"),
            max_retries=1,
            max_retry_after=3600.0,
            backoff_max=2.0,
            sleep=sleep,
            wall_clock=lambda: NOW,
        ) as client:
            await client.get_orders()
    assert len(server.requests) == 2
    assert len(sleep.delays) == 1 and sleep.delays[0] <= 2.0  # the SDK's own backoff


async def test_retry_after_epoch_is_honoured_and_capped() -> None:
    sleep = SleepRecorder()
    async with RawServer(_rate_limited(NOW + 7), ORDERS_OK) as server:
        async with client_of(
            server, new_key("RA"), max_retries=1, sleep=sleep, wall_clock=lambda: NOW
        ) as client:
            await client.get_orders()
    assert sleep.delays == [pytest.approx(7.0)]
    # A hint longer than max_retry_after raises at once instead of sleeping.
    sleep = SleepRecorder()
    async with RawServer(_rate_limited(NOW + 600)) as server:
        async with client_of(
            server,
            new_key("RA"),
            max_retries=3,
            max_retry_after=60.0,
            sleep=sleep,
            wall_clock=lambda: NOW,
        ) as client:
            with pytest.raises(errors.RateLimitError) as info:
                await client.get_orders()
    assert info.value.retry_after == pytest.approx(600.0)
    assert "max_retry_after" in str(info.value)
    assert sleep.delays == [] and len(server.requests) == 1


# --------------------------------------------------------------------------- 5. response size cap


CAP = 1000
BIG = b'{"payments": [' + b",".join([b'{"id": "recXXXXXXXXXXXXXX"}'] * 100) + b"]}"
assert len(BIG) > 2 * CAP


OVER_CAP: dict[str, bytes] = {
    # Content-Length over the cap, and only part of the body ever sent.
    "content-length": http_reply("200 OK", BIG)[: -len(BIG) // 2],
    # Chunked, over the cap, never finished.
    "chunked": chunked("200 OK", BIG, end=False),
    # gzip: a small compressed body that is over the cap once decompressed.
    "gzip": http_reply(
        "200 OK",
        gzip.compress(BIG),
        headers=(("Content-Type", "application/json"), ("Content-Encoding", "gzip")),
    ),
}


@pytest.mark.parametrize("kind", sorted(OVER_CAP))
@pytest.mark.parametrize("call", sorted(CALLS))
async def test_body_over_the_cap_is_refused(kind: str, call: str) -> None:
    async with RawServer(OVER_CAP[kind], hold=True) as server:
        async with client_of(server, new_key("CAP"), max_response_size=CAP) as client:
            with pytest.raises(errors.ResponseDecodeError) as info:
                await asyncio.wait_for(CALLS[call](client), HANG)
    exc = info.value
    assert type(exc).__name__ == "ResponseTooLargeError"
    assert isinstance(exc, errors.ResponseTooLargeError)
    assert exc.status_code == 200
    assert exc.limit == CAP
    assert exc.size is not None and exc.size > CAP
    assert "max_response_size" in str(exc)
    if call == "spend":
        assert "went through" in str(exc)
    assert len(server.requests) == 1  # not retried


async def test_body_under_the_cap_is_read() -> None:
    for reply in (http_reply("200 OK", BIG), chunked("200 OK", BIG)):
        async with RawServer(reply) as server:
            async with client_of(server, new_key("CAP"), max_response_size=len(BIG)) as client:
                orders = await client.get_orders()
        assert len(orders.payments) == 100


async def test_error_body_over_the_cap_is_cut() -> None:
    text = b"upstream failure " * 400
    async with RawServer(chunked("503 Service Unavailable", text, end=False), hold=True) as server:
        async with client_of(server, new_key("CAP"), max_response_size=CAP) as client:
            with pytest.raises(errors.InternalServerError) as info:
                await asyncio.wait_for(client.get_orders(), HANG)
    body = info.value.body
    assert isinstance(body, str)
    assert body.startswith("upstream failure") and len(body) < CAP + 200
    assert "max_response_size" in body


async def test_default_cap_refuses_a_declared_huge_body_without_reading() -> None:
    head = http_reply("200 OK")[: -len(b"Content-Length: 0\r\n\r\n")]
    reply = head + f"Content-Length: {64 * 1024 * 1024}\r\n\r\n".encode() + b"[1,"
    async with RawServer(reply, hold=True) as server:
        async with client_of(server, new_key("CAP"), timeout=HANG * 3) as client:
            with pytest.raises(errors.ResponseDecodeError) as info:
                await asyncio.wait_for(client.get_orders(), HANG)
    assert isinstance(info.value, errors.ResponseTooLargeError)
    assert info.value.limit == 16 * 1024 * 1024
    assert info.value.size == 64 * 1024 * 1024


def test_max_response_size_is_validated() -> None:
    bads: tuple[Any, ...] = (0, -1, 1.5, "big", True)
    for bad in bads:
        with pytest.raises(ValueError, match="max_response_size"):
            ScaledmailClient(new_key("CAP"), max_response_size=bad)
    ScaledmailClient(new_key("CAP"), max_response_size=None)  # no cap


async def test_head_with_a_large_content_length_is_not_refused() -> None:
    async with RawServer(
        http_reply("200 OK")[: -len(b"Content-Length: 0\r\n\r\n")] + b"Content-Length: 5000\r\n\r\n"
    ) as server:
        async with client_of(server, new_key("CAP"), max_response_size=CAP) as client:
            assert await asyncio.wait_for(client.request("HEAD", "/orders"), HANG) is None
