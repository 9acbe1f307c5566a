"""Shared helpers of the reliability suite: clients of the fake, an instantaneous recording
``sleep``, an attempt counter, probes for leaked connections and unreachable servers.

A plain module rather than a ``conftest.py``: ``tests/conftest.py`` already exists and, without
package ``__init__`` files, mypy would see two modules named ``conftest``. Every test uses its own
API key (so its own process-wide shared limiter) and its own fake server.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import aiohttp

from scaledmail_async._client import ScaledmailClient
from scaledmail_async.testing import FakeScaledmail


class SleepRecorder:
    """An injectable ``sleep`` that records the requested delays and only yields to the loop, so
    backoff and server wait hints cost no wall time while their values stay checkable."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


class AttemptCounter:
    """An aiohttp ``TraceConfig`` counting the requests the client *started* (attempts), which is
    what the server cannot count when no connection is ever opened."""

    def __init__(self) -> None:
        self.started = 0
        self.attempts: list[int] = []
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._on_start)

    async def _on_start(
        self,
        session: aiohttp.ClientSession,
        ctx: Any,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        self.started += 1
        info = ctx.trace_request_ctx
        if isinstance(info, dict) and isinstance(info.get("attempt"), int):
            self.attempts.append(info["attempt"])


def new_key(label: str = "REL") -> str:
    """A fresh, recognisable key (each key has its own shared limiter in the process)."""
    return f"sk_live_{label}_{uuid.uuid4().hex}"


def client_for(fake: FakeScaledmail, **options: Any) -> ScaledmailClient:
    """A client of ``fake`` (its key, first organization, base URL) with ``options``."""
    options.setdefault("base_url", fake.base_url)
    return ScaledmailClient(fake.api_key, organization_id=fake.organization_id, **options)


def acquired_connections(client: ScaledmailClient) -> int:
    """Connections the client's aiohttp connector still holds as acquired (in use)."""
    session = client._transport._session
    if session is None or session.closed:
        return 0
    connector = session.connector
    if connector is None:
        return 0
    return len(connector._acquired)


def free_port() -> int:
    """A loopback port nothing listens on (bound then closed: connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class BlockedAcceptServer:
    """A listening socket whose accept queue is full and never drained.

    Linux drops the SYN of a new connection while a listener's accept queue is full (no SYN-ACK),
    so aiohttp's connect hangs until its *connect* timeout fires: a real
    :class:`aiohttp.ConnectionTimeoutError`, on loopback, with no request ever sent.
    """

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._fillers: list[socket.socket] = []

    def fill(self) -> None:
        """Fill the accept queue with a few half-open connections of our own."""
        for _ in range(4):
            sock = socket.socket()
            sock.setblocking(False)
            try:
                sock.connect(("127.0.0.1", self.port))
            except (BlockingIOError, OSError):
                pass
            self._fillers.append(sock)

    def close(self) -> None:
        for sock in self._fillers:
            sock.close()
        self._listener.close()
