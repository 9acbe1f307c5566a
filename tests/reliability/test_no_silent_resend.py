"""aiohttp never re-sends a spend behind the SDK's back, on any aiohttp version (issue 14).

Since 3.10 aiohttp re-sends a request once by itself when its connection drops (ServerDisconnected,
a reset) and the method is one RFC 9112 lets a client retry (GET, HEAD, OPTIONS, TRACE, PUT,
DELETE). That hidden attempt is never granted by the limiter, counted by ``max_retries`` nor
logged, and for a request the SDK sends as ``pre-send-only`` it could apply a change twice. The SDK
switches it off on its own session through a private attribute (``_retry_connection``, aiohttp
>= 3.11); where that attribute is absent (aiohttp 3.10, or a release that renames it) it refuses
the re-send with a public ``TraceConfig`` hook instead. The spends themselves are POSTs, which
aiohttp never re-sends at all, with or without the attribute, on the SDK's session or yours.

The server is a raw ``asyncio`` socket (not aiohttp's own server): it answers reads with
keep-alive, reads a whole request it is told to drop (head and body) and closes the connection
without a byte of answer, and counts what arrived. Run by ``make pytest`` (aiohttp pinned for
aioresponses) and ``make pytest-latest`` (the newest aiohttp).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from reliability_helpers import SleepRecorder, acquired_connections, new_key

import scaledmail_async._transport as transport_module
from scaledmail_async import errors
from scaledmail_async._client import ScaledmailClient
from scaledmail_async._generated.operations import OPERATIONS

HANG = 10.0
#: The methods aiohttp may re-send by itself (RFC 9112 section 9.3.1.1: the idempotent ones).
AIOHTTP_RESENDS = frozenset(
    getattr(aiohttp.client, "IDEMPOTENT_METHODS", None)
    or {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}
)
DOMAINS_REPLY = json.dumps({"domains": []}).encode()


class DroppingServer:
    """Answers every request 200 with keep-alive, except those whose method and path are in
    ``drop``: read in full, then the connection is closed with nothing written.

    ``arrived`` lists ``(connection number, method, path)`` of every complete request read."""

    def __init__(self, *drop: tuple[str, str]) -> None:
        self.drop = set(drop)
        self.arrived: list[tuple[int, str, str]] = []
        self._connections = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def count(self, method: str, path: str) -> int:
        return sum(1 for _, m, p in self.arrived if (m, p) == (method, path))

    async def __aenter__(self) -> DroppingServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=HANG)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._connections += 1
        connection = self._connections
        try:
            while True:  # one request after the other on this connection (keep-alive)
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                length = 0
                for line in lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                path = target.split("?", 1)[0]
                self.arrived.append((connection, method, path))
                if (method, path) in self.drop:
                    return  # the whole request was read: close without answering
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(DOMAINS_REPLY)}\r\n\r\n".encode()
                    + DOMAINS_REPLY
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)


BUY = ("POST", "/api/v1/buy-domains")
GET_DOMAINS = ("GET", "/api/v1/domains")
PUT_MASKING = ("PUT", "/api/v1/domain-masking")


@pytest.fixture(params=["switch", "no-switch"])
def switch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``switch``: the aiohttp installed, as it is. ``no-switch``: as if aiohttp had no
    ``_retry_connection`` attribute (aiohttp 3.10, or a release that renames it): the SDK finds
    nothing to switch off and aiohttp keeps re-sending by itself."""
    if request.param == "no-switch":
        monkeypatch.setattr(transport_module, "_RESEND_SWITCH", "_no_such_attribute")
    yield request.param


@pytest.fixture
async def server() -> AsyncIterator[DroppingServer]:
    async with DroppingServer(BUY, GET_DOMAINS, PUT_MASKING) as srv:
        yield srv


def client_of(srv: DroppingServer, **options: Any) -> ScaledmailClient:
    options.setdefault("rate_limit", None)
    options.setdefault("sleep", SleepRecorder())
    return ScaledmailClient(new_key(), base_url=srv.base_url, organization_id="recOrg", **options)


def test_every_spend_uses_a_method_aiohttp_never_resends() -> None:
    """The four spends (every ``pre-send-only`` operation) are POSTs: whatever becomes of the
    private switch, aiohttp's own rule never re-sends them."""
    unsafe = {op.operation_id: op.method for op in OPERATIONS.values() if op.retry != "safe"}
    assert unsafe and all(
        op.retry == "pre-send-only" for op in OPERATIONS.values() if op.spends_money
    )
    assert not {name for name, method in unsafe.items() if method in AIOHTTP_RESENDS}, unsafe


async def test_the_server_sees_aiohttps_own_resend_of_a_dropped_get() -> None:
    """The control: a plain aiohttp session re-sends a dropped GET once by itself (so the counts
    below would show a re-send), but never a dropped POST."""
    async with DroppingServer(GET_DOMAINS, BUY) as srv, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with session.get(f"{srv.base_url}/domains"):
                pass
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with session.post(f"{srv.base_url}/buy-domains", json={"domains": ["a.com"]}):
                pass
    assert srv.count(*GET_DOMAINS) == 2, srv.arrived
    assert srv.count(*BUY) == 1, srv.arrived


@pytest.mark.parametrize("reused", [False, True], ids=["fresh-connection", "keep-alive"])
async def test_a_dropped_spend_arrives_once_and_its_outcome_is_unknown(
    server: DroppingServer, switch: str, reused: bool
) -> None:
    server.drop.discard(GET_DOMAINS)
    async with client_of(server, max_retries=3) as client:
        if reused:
            await client.get_domains()  # answered with keep-alive: the spend reuses its connection
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await asyncio.wait_for(client.buy_domains(body={"domains": ["tidewater.com"]}), HANG)
    assert server.count(*BUY) == 1, server.arrived
    assert caught.value.operation == "buy_domains"
    if reused:
        assert [c for c, m, _ in server.arrived] == [1, 1], "the spend did not reuse the connection"


@pytest.mark.parametrize("reused", [False, True], ids=["fresh-connection", "keep-alive"])
async def test_a_dropped_spend_arrives_once_on_a_session_passed_in(
    server: DroppingServer, reused: bool
) -> None:
    """A session passed in keeps aiohttp's own re-send (the SDK leaves it as it is): a spend, a
    POST, still arrives once."""
    server.drop.discard(GET_DOMAINS)
    async with aiohttp.ClientSession() as session:
        async with client_of(server, session=session) as client:
            if reused:
                await client.get_domains()
            with pytest.raises(errors.OutcomeUnknownError):
                await asyncio.wait_for(client.buy_domains(body={"domains": ["a.com"]}), HANG)
    assert server.count(*BUY) == 1, server.arrived


@pytest.mark.parametrize("pooled", [0, 1, 2], ids=["fresh-connection", "keep-alive", "two-idle"])
async def test_a_dropped_pre_send_only_put_arrives_once(
    server: DroppingServer, switch: str, pooled: int
) -> None:
    """``request("PUT", ...)`` is ``pre-send-only`` by default, and PUT is a method aiohttp
    re-sends: without the switch the SDK's hook refuses the re-send, whether aiohttp would make
    it on a new connection or (``two-idle``) on another idle one of the pool."""
    server.drop.discard(GET_DOMAINS)
    async with client_of(server, max_retries=3) as client:
        if pooled:  # that many idle keep-alive connections in the pool
            await asyncio.gather(*(client.get_domains() for _ in range(pooled)))
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await asyncio.wait_for(
                client.request("PUT", "/domain-masking", json={"domain": "a.com"}), HANG
            )
        assert acquired_connections(client) == 0
        if pooled:  # the pool still works after a refused re-send
            await client.get_domains()
    assert server.count(*PUT_MASKING) == 1, server.arrived
    assert isinstance(caught.value.cause, aiohttp.ServerDisconnectedError)


async def test_a_dropped_read_is_retried_only_by_the_sdk(
    server: DroppingServer, switch: str
) -> None:
    """A read is retried, but only by the SDK's own loop: with ``max_retries=0`` it arrives
    once; with ``max_retries=2`` three times, each attempt counted."""
    async with client_of(server, max_retries=0) as client:
        with pytest.raises(errors.APIConnectionError) as caught:
            await asyncio.wait_for(client.get_domains(), HANG)
        assert acquired_connections(client) == 0
    assert not isinstance(caught.value, errors.OutcomeUnknownError)
    assert server.count(*GET_DOMAINS) == 1, server.arrived
    async with client_of(server, max_retries=2) as client:
        with pytest.raises(errors.APIConnectionError) as caught:
            await asyncio.wait_for(client.get_domains(), HANG)
        assert acquired_connections(client) == 0
    assert server.count(*GET_DOMAINS) == 1 + 3, server.arrived
    assert caught.value.retries_taken == 2
