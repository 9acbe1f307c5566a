"""Shared, generic fixtures: a unique API key per test and a local aiohttp server starter.

Where aioresponses is not installed (``make pytest-latest``: the newest aiohttp, which
aioresponses 0.7.9 does not work on), the test files that import it are not collected, and the
run says which.
"""

from __future__ import annotations

import importlib.util
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis_server import RedisServer, redis_binary

StartServer = Callable[[web.Application], Awaitable[str]]

_HAS_AIORESPONSES = importlib.util.find_spec("aioresponses") is not None
_IMPORTS_AIORESPONSES = re.compile(r"^(?:from|import)\s+aioresponses\b", re.MULTILINE)
#: The test files left out because they import aioresponses and it is not installed.
_LEFT_OUT: set[str] = set()


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """Leave out a test file that imports aioresponses where it is not installed."""
    if _HAS_AIORESPONSES or collection_path.suffix != ".py":
        return None
    if _IMPORTS_AIORESPONSES.search(collection_path.read_text(encoding="utf-8")):
        _LEFT_OUT.add(collection_path.name)
        return True
    return None


def pytest_report_collectionfinish() -> list[str]:
    """Say which test files were left out (shown under ``-q`` too)."""
    if not _LEFT_OUT:
        return []
    return [f"aioresponses is not installed: left out {', '.join(sorted(_LEFT_OUT))}"]


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
