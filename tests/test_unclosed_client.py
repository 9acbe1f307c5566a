"""Issue 17.2: an unclosed client warns about itself.

A ``ScaledmailClient`` dropped with its own aiohttp session still open emits a
``ResourceWarning`` naming ``ScaledmailClient`` and the fix (``async with`` / ``aclose()``),
never the API key; before, only aiohttp's own warning appeared, pointing into the SDK's
internals. A client that never opened a session, a closed one and one on a session passed in
(the caller's to close) stay silent. pytest runs with ``error::ResourceWarning``, so each test
catches the warning explicitly and closes the session it kept.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from scaledmail_async import ScaledmailClient

StartServer = Callable[[web.Application], Awaitable[str]]


def _app() -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/api/v1/{tail:.*}", ok)
    return app


def _ours(record: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in record
        if issubclass(w.category, ResourceWarning) and "ScaledmailClient" in str(w.message)
    ]


async def test_an_unclosed_client_warns_naming_itself_and_aclose(
    serve: StartServer, api_key: str
) -> None:
    base = await serve(_app())
    client = ScaledmailClient(api_key, base_url=base, rate_limit=None)
    assert await client.request("GET", "/things") == {"ok": True}
    session = client._transport._session  # kept, to close it after the warning
    assert session is not None
    with pytest.warns(ResourceWarning) as record:
        del client
        gc.collect()
    await session.close()
    messages = _ours(list(record))
    assert len(messages) == 1, [str(w.message) for w in record]
    text = messages[0]
    assert text.startswith("Unclosed ScaledmailClient")
    assert "aclose()" in text and "async with ScaledmailClient" in text
    assert api_key not in text and "SECRET" not in text
    # source=: with tracemalloc on, Python shows where the client was created
    sources = [w.source for w in record if "ScaledmailClient" in str(w.message)]
    assert isinstance(sources[0], ScaledmailClient)


async def test_a_client_that_never_opened_a_session_does_not_warn(api_key: str) -> None:
    client = ScaledmailClient(api_key, rate_limit=None)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        del client
        gc.collect()
    assert _ours(record) == []


async def test_a_closed_client_does_not_warn(serve: StartServer, api_key: str) -> None:
    base = await serve(_app())
    client = ScaledmailClient(api_key, base_url=base, rate_limit=None)
    async with client:
        await client.request("GET", "/things")
    explicit = ScaledmailClient(api_key, base_url=base, rate_limit=None)
    await explicit.request("GET", "/things")
    await explicit.aclose()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        del client, explicit
        gc.collect()
    assert _ours(record) == []


async def test_a_client_on_a_session_passed_in_does_not_warn(
    serve: StartServer, api_key: str
) -> None:
    base = await serve(_app())
    async with aiohttp.ClientSession() as session:
        client = ScaledmailClient(api_key, base_url=base, rate_limit=None, session=session)
        await client.request("GET", "/things")
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            del client  # the session is the caller's: nothing of the client's leaks
            gc.collect()
    assert _ours(record) == []


def test_a_client_whose_constructor_failed_does_not_warn(api_key: str) -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(ValueError):
            ScaledmailClient(api_key, timeout=-1.0)
        gc.collect()
    assert _ours(record) == []
    assert not [w for w in record if "Exception ignored" in str(w.message)]
