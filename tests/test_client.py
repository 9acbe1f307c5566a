"""ScaledmailClient: configuration, URL safety, redaction, raw access and lifecycle."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses
from operation_helpers import SAFE_GET

from scaledmail_async import _logging
from scaledmail_async._client import MissingAPIKeyError, ScaledmailClient
from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async._limiter import InProcessLimiter
from scaledmail_async._response import APIResponse
from scaledmail_async._types import UNSET
from scaledmail_async.errors import (
    ClientClosedError,
    NotFoundError,
    OutcomeUnknownError,
    RequestValidationError,
    ResponseDecodeError,
    ScaledmailError,
)
from scaledmail_async.models import OrganizationList

StartServer = Callable[[web.Application], Awaitable[str]]


async def _no_sleep(_: float) -> None:
    return None


class Server:
    """A tiny local app recording every request; ``script`` holds (status, body) to answer with."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.raw_paths: list[str] = []
        self.script: list[tuple[int, Any]] = []
        self.gate: asyncio.Event | None = None
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        self.raw_paths.append(request.rel_url.raw_path)
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.script:
            status, body = self.script.pop(0)
            if isinstance(body, str):
                return web.Response(status=status, text=body)
            return web.json_response(body, status=status)
        return web.json_response({"ok": True, "query": dict(request.query)})

    async def count_reached(self, n: int) -> None:
        while len(self.requests) < n:
            self.arrived.clear()
            await self.arrived.wait()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


async def _get(client: ScaledmailClient, thing_id: Any = "rec1", **kw: Any) -> Any:
    return await client._execute(
        kw.pop("op", SAFE_GET),
        path_params={"thing_id": thing_id},
        query={},
        body=UNSET,
        organization_id=kw.pop("organization_id", UNSET),
        timeout=None,
        deadline=None,
        raw=kw.pop("raw", False),
    )


# -- construction -----------------------------------------------------------------------------


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCALEDMAIL_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="SCALEDMAIL_API_KEY") as info:
        ScaledmailClient()
    assert isinstance(info.value, ScaledmailError) and isinstance(info.value, ValueError)
    assert "app.scaledmail.com/settings" in str(info.value)
    with pytest.raises(MissingAPIKeyError):
        ScaledmailClient("   ")


async def test_env_fallbacks_and_auth_headers(
    monkeypatch: pytest.MonkeyPatch, serve: StartServer, api_key: str
) -> None:
    monkeypatch.setenv("SCALEDMAIL_API_KEY", api_key)
    monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", "recENVORG")
    server = Server()
    base = await serve(server.app())
    async with ScaledmailClient(base_url=base, rate_limit=None) as client:
        assert client.organization_id == "recENVORG"
        result = await _get(client)
    request = server.requests[0]
    assert request.headers["Authorization"] == f"Bearer {api_key}"
    assert request.headers["User-Agent"].startswith("scaledmail-async/")
    assert result["query"] == {"organization_id": "recENVORG"}


@pytest.mark.parametrize(
    "url",
    [
        "http://server.scaledmail.com/api/v1",
        "http://10.0.0.1/api/v1",
        "http://127.evil.com/api/v1",
        "ftp://server.scaledmail.com/api/v1",
        "https://user:pw@server.scaledmail.com/api/v1",
        "server.scaledmail.com/api/v1",
    ],
)
def test_unsafe_base_url_refused(url: str, api_key: str) -> None:
    with pytest.raises(ValueError):
        ScaledmailClient(api_key, base_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "https://server.scaledmail.com/api/v1/",
        "http://127.0.0.1:8080/api/v1",
        "http://127.0.0.2/api/v1",
        "http://localhost:9000/api/v1",
        "http://[::1]:9000/api/v1",
    ],
)
def test_https_and_loopback_http_accepted(url: str, api_key: str) -> None:
    client = ScaledmailClient(api_key, base_url=url, rate_limit=None)
    assert not client.base_url.endswith("/")


def test_repr_never_shows_the_key(api_key: str) -> None:
    client = ScaledmailClient(api_key, organization_id="recORG")
    text = repr(client) + repr(client.limiter) + str(vars(client.limiter))
    assert api_key not in text
    assert "[REDACTED]" in repr(client)


# -- path parameters and organization_id ------------------------------------------------------


@pytest.mark.parametrize(
    "thing_id",
    [
        "a/b",
        "../../admin",
        "a?x=1",
        "a#frag",
        "%2F",
        "a%2Fb",
        "with space",
        "ünï©ødé",
        "a..b",
        "...",
    ],
)
async def test_path_params_cannot_change_the_path(
    serve: StartServer, api_key: str, thing_id: str
) -> None:
    server = Server()
    base = await serve(server.app())
    async with ScaledmailClient(api_key, base_url=base, rate_limit=None) as client:
        await _get(client, thing_id)
    (raw_path,) = server.raw_paths
    prefix = "/api/v1/things/"
    assert raw_path == prefix + quote(thing_id, safe="")
    segment = raw_path[len(prefix) :]
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert unquote(segment) == thing_id
    assert server.requests[0].query_string == ""  # nothing leaked into the query


@pytest.mark.parametrize("thing_id", ["", "   ", "\t", ".", ".."])
async def test_blank_or_dot_ids_rejected_before_sending(
    serve: StartServer, api_key: str, thing_id: str
) -> None:
    server = Server()
    base = await serve(server.app())
    async with ScaledmailClient(api_key, base_url=base, rate_limit=None) as client:
        with pytest.raises(RequestValidationError) as info:
            await _get(client, thing_id)
    assert info.value.field == "thing_id"
    assert server.requests == []


async def test_organization_id_injection(serve: StartServer, api_key: str) -> None:
    server = Server()
    base = await serve(server.app())
    no_org_op = OPERATIONS["get_organizations"]
    async with ScaledmailClient(
        api_key, base_url=base, organization_id="recDEFAULT", rate_limit=None
    ) as client:
        default = await _get(client)
        override = await _get(client, organization_id="recOTHER")
        omitted = await _get(client, organization_id=None)
        with pytest.raises(RequestValidationError) as info:
            await _get(client, organization_id="  ")
        server.script = [(200, {"organizations": []})]
        orgs = await client.get_organizations()
    assert orgs.organizations == []
    assert default["query"] == {"organization_id": "recDEFAULT"}
    assert override["query"] == {"organization_id": "recOTHER"}
    assert omitted["query"] == {}
    assert info.value.field == "organization_id"
    assert not no_org_op.sends_organization_id
    assert server.requests[-1].path == "/api/v1/organizations"
    assert server.requests[-1].query_string == ""


# -- generated operations, raw access, spending tag -------------------------------------------


async def test_generated_method_and_with_raw_response(api_key: str) -> None:
    url = "https://api.test/api/v1/organizations"
    body = {"organizations": [{"id": "recORG0000000001", "name": "Acme"}]}
    async with ScaledmailClient(api_key, base_url="https://api.test/api/v1", rate_limit=None) as c:
        with aioresponses() as m:
            m.get(url, payload=body)
            m.get(url, payload=body, headers={"X-Trace": "t1"})
            parsed = await c.get_organizations()
            raw = await c.with_raw_response.get_organizations()
    assert isinstance(parsed, OrganizationList)
    assert isinstance(raw, APIResponse)
    assert isinstance(raw.parsed, OrganizationList)
    assert raw.status_code == 200 and raw.headers["X-Trace"] == "t1"
    assert raw.operation == "get_organizations"
    assert raw.retries_taken == 0


async def test_outcome_unknown_carries_the_tag(api_key: str) -> None:
    op = OPERATIONS["buy_pre_warm_inboxes"]
    url = "https://api.test/api/v1/buy-pre-warm-inboxes?organization_id=recORG"
    body = {"tag": "client-zeta", "domains": [{"id": "recPw0000000000G1", "domain": "a.com"}]}
    async with ScaledmailClient(
        api_key, base_url="https://api.test/api/v1", organization_id="recORG", rate_limit=None
    ) as client:
        with aioresponses() as m:
            m.post(url, status=503, repeat=True)
            with pytest.raises(OutcomeUnknownError) as info:
                await client._execute(
                    op,
                    path_params={},
                    query={},
                    body=body,
                    organization_id=UNSET,
                    timeout=None,
                    deadline=None,
                    raw=False,
                )
            assert sum(len(v) for v in m.requests.values()) == 1
    assert info.value.tag == "client-zeta"
    assert "client-zeta" in str(info.value)


# -- low-level request() ----------------------------------------------------------------------


async def test_request_low_level(serve: StartServer, api_key: str) -> None:
    server = Server()
    base = await serve(server.app())
    async with ScaledmailClient(
        api_key, base_url=base, organization_id="recORG", rate_limit=None, sleep=_no_sleep
    ) as client:
        got = await client.request("GET", "/domain-masking", params={"page": 2, "x": True})
        assert got == {"ok": True, "query": {"page": "2", "x": "true", "organization_id": "recORG"}}
        server.script = [(200, "")]
        assert await client.request("DELETE", "/thing/1") is None
        server.script = [(503, {"error": "down"}), (200, {"done": 1})]
        with pytest.raises(OutcomeUnknownError):
            await client.request("POST", "/new-thing", json={"a": 1})
        server.script = [(503, {"error": "down"}), (200, {"done": 1})]
        assert await client.request("POST", "/new-thing", json={"a": 1}, retry="safe") == {
            "done": 1
        }
        server.script = [(200, "<html>")]
        with pytest.raises(ResponseDecodeError):
            await client.request("GET", "/html")
        for bad in ["https://evil.test/x", "//evil.test/x", "relative", "/a?b=1"]:
            with pytest.raises(RequestValidationError):
                await client.request("GET", bad)
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 3  # 503 not retried by default, retried once with retry="safe"


# -- observability ----------------------------------------------------------------------------


async def test_trace_hooks_see_the_attempt(serve: StartServer, api_key: str) -> None:
    seen: list[Any] = []

    async def on_start(
        session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        seen.append(ctx.trace_request_ctx)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    server = Server()
    server.script = [(503, {"error": "busy"})]
    base = await serve(server.app())
    async with ScaledmailClient(
        api_key, base_url=base, rate_limit=None, trace_configs=[trace], sleep=_no_sleep
    ) as client:
        await _get(client)
    assert seen == [
        {"attempt": 1, "operation": "get_thing"},
        {"attempt": 2, "operation": "get_thing"},
    ]


async def test_key_never_in_logs_or_errors(
    serve: StartServer, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = Server()
    server.script = [
        (500, {"error": f"echo {api_key}"}),
        (200, {"ok": True}),
        (404, {"message": f"no such key {api_key}"}),
    ]
    base = await serve(server.app())
    errors: list[BaseException] = []
    async with ScaledmailClient(
        api_key, base_url=base, rate_limit=5000.0, sleep=_no_sleep
    ) as client:
        await _get(client)
        with pytest.raises(NotFoundError) as info:
            await _get(client)
        errors.append(info.value)
        with pytest.raises(RequestValidationError) as info2:
            await _get(client, " ")
        errors.append(info2.value)
        text = repr(client)
    text += caplog.text + " ".join(f"{e} {e!r} {vars(e)}" for e in errors)
    assert api_key not in text
    assert "get_thing" in caplog.text  # the logs did cover these calls


def test_scaledmail_log_env_installs_handler(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    logger = logging.getLogger("scaledmail_async")
    before_handlers, before_level = list(logger.handlers), logger.level
    monkeypatch.setenv("SCALEDMAIL_LOG", "debug")
    monkeypatch.setattr(_logging, "_installed", False)
    try:
        ScaledmailClient(api_key)
        added = [h for h in logger.handlers if h not in before_handlers]
        assert len(added) == 1
        assert logger.level == logging.DEBUG
    finally:
        for handler in logger.handlers[:]:
            if handler not in before_handlers:
                logger.removeHandler(handler)
        logger.setLevel(before_level)


# -- lifecycle --------------------------------------------------------------------------------


async def test_cancel_in_flight_releases_connections(serve: StartServer, api_key: str) -> None:
    server = Server()
    server.gate = asyncio.Event()
    base = await serve(server.app())
    async with ScaledmailClient(api_key, base_url=base, rate_limit=None) as client:
        tasks = [asyncio.create_task(_get(client, f"rec{i}")) for i in range(4)]
        await server.count_reached(4)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        session = client._transport._session
        assert session is not None and session.connector is not None
        assert len(session.connector._acquired) == 0
        server.gate = None
        assert (await _get(client))["ok"] is True
    assert len(server.requests) == 5


async def test_cancel_while_waiting_in_limiter_frees_the_queue(
    serve: StartServer, api_key: str
) -> None:
    server = Server()
    base = await serve(server.app())
    limiter = InProcessLimiter(20.0, window=0.25)
    async with ScaledmailClient(api_key, base_url=base, limiter=limiter) as client:
        limiter.report_rate_limited(None, 0.3)
        tasks = [asyncio.create_task(_get(client, f"rec{i}")) for i in range(5)]
        await asyncio.sleep(0.05)
        assert len(limiter._global.waiters) == 5
        for task in tasks[:4]:
            task.cancel()
        await asyncio.gather(*tasks[:4], return_exceptions=True)
        assert len(limiter._global.waiters) == 1
        assert (await tasks[4])["ok"] is True
        assert (await _get(client))["ok"] is True
    assert len(server.requests) == 2
    assert not limiter._global.waiters


async def test_aclose_fails_in_flight_calls_clearly(serve: StartServer, api_key: str) -> None:
    server = Server()
    server.gate = asyncio.Event()
    base = await serve(server.app())
    limiter = InProcessLimiter(20.0, window=0.25)
    client = ScaledmailClient(api_key, base_url=base, limiter=limiter)
    outcomes: list[str] = []

    async def call(i: int) -> None:
        try:
            await _get(client, f"rec{i}")
        except ClientClosedError as exc:
            task = asyncio.current_task()
            assert task is not None and task.cancelling() == 0
            await asyncio.sleep(0)  # the task is usable again: no stray cancellation
            outcomes.append(str(exc))

    tasks = [asyncio.create_task(call(i)) for i in range(3)]
    await server.arrived.wait()
    limiter.report_rate_limited(None, 5.0)  # the others are now waiting in the limiter
    await asyncio.sleep(0.05)
    await client.aclose()
    await asyncio.gather(*tasks)
    server.gate.set()
    assert len(outcomes) == 3
    assert all("closed" in text for text in outcomes)
    session = client._transport._session
    assert session is None
    with pytest.raises(ClientClosedError):
        await _get(client)
    await client.aclose()  # idempotent


async def test_passed_in_session_is_not_closed(serve: StartServer, api_key: str) -> None:
    server = Server()
    base = await serve(server.app())
    async with aiohttp.ClientSession() as session:
        async with ScaledmailClient(
            api_key, base_url=base, rate_limit=None, session=session
        ) as client:
            assert (await _get(client))["ok"] is True
        assert not session.closed
        with pytest.raises(ClientClosedError):
            await _get(client)
    c2 = ScaledmailClient(api_key, base_url=base, rate_limit=None, session=session)
    with pytest.raises(ClientClosedError, match="session passed"):
        await _get(c2)
    await c2.aclose()


async def test_no_unclosed_session_warnings(serve: StartServer, api_key: str) -> None:
    server = Server()
    base = await serve(server.app())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = ScaledmailClient(api_key, base_url=base, rate_limit=None)
        await _get(client)
        await client.aclose()
        unused = ScaledmailClient(api_key, base_url=base, rate_limit=None)
        del client, unused
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]
