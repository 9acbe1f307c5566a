"""Shared, generic fixtures: a unique API key per test and a local aiohttp server starter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis_server import RedisServer, redis_binary

StartServer = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
def api_key() -> str:
    """A fresh, recognisable fake key (so each test gets its own shared limiter)."""
    return f"sk_test_SECRET_{uuid.uuid4().hex}"


@pytest.fixture
async def serve() -> AsyncIterator[StartServer]:
    """Start aiohttp apps on 127.0.0.1; returns a coroutine giving ``http://127.0.0.1:<port>/api/v1``.

    Every server started is closed at the end of the test.
    """
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}/api/v1"

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real ``redis-server`` on a free port for this test (see ``tests/redis_server.py``)."""
    server = RedisServer(redis_binary())
    server.start()
    try:
        yield server
    finally:
        server.close()
