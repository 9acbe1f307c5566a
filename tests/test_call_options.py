"""Per-call ``timeout=`` / ``deadline=``: omitted (``UNSET``) means the client's setting, ``None``
means none, as for ``organization_id`` (CHANGELOG, Unreleased). Against a slow local server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from scaledmail_async import APITimeoutError, ScaledmailClient

StartServer = Callable[[web.Application], Awaitable[str]]


def slow_app(seconds: float) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(seconds)
        return web.json_response({"organizations": []})

    app = web.Application()
    app.router.add_route("*", "/api/v1/{tail:.*}", handle)
    return app


async def test_the_client_timeout_applies_when_the_call_gives_none(
    serve: StartServer, api_key: str
) -> None:
    base = await serve(slow_app(0.6))
    async with ScaledmailClient(
        api_key, base_url=base, timeout=0.1, max_retries=0, rate_limit=None
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.get_organizations()  # omitted: the client's 0.1 s
        # None: no per-attempt timeout for this call
        assert (await client.get_organizations(timeout=None)).organizations == []


async def test_deadline_none_lifts_the_client_deadline(serve: StartServer, api_key: str) -> None:
    base = await serve(slow_app(0.4))
    async with ScaledmailClient(
        api_key, base_url=base, deadline=0.1, max_retries=0, rate_limit=None
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.get_organizations()  # the client's 0.1 s deadline
        assert (await client.get_organizations(deadline=None)).organizations == []
