"""The per-request shortcuts of the client: cached call targets, unquoted plain ids, prebuilt
headers and the trace context. Each must give exactly what the long way gives."""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from aiohttp import web

from scaledmail_async._client import ScaledmailClient
from scaledmail_async._operation import Operation
from scaledmail_async._prepare import URL_CACHE_SIZE as _URL_CACHE_SIZE
from scaledmail_async._types import UNSET
from scaledmail_async._urls import build_query_string, encode_path_param
from scaledmail_async.errors import RequestValidationError

StartServer = Callable[[web.Application], Awaitable[str]]


def _op(operation_id: str, path: str, *, org: bool = True) -> Operation:
    return Operation(
        operation_id=operation_id,
        tag="things",
        method="GET",
        path=path,
        path_params=tuple(p.split("}")[0] for p in path.split("{")[1:]),
        query_params=(),
        request_type=None,
        body_required=False,
        response_type=None,
        retry="safe",
        spends_money=False,
        rate_limit_group=None,
        organization="optional" if org else "none",
    )


THING = _op("get_thing", "/things/{thing_id}")
OTHER_THING = _op("get_thing", "/other-things/{thing_id}")  # same id, another operation object
PAIR = _op("get_pair", "/pairs/{a}/{b}", org=False)


class Recorder:
    """Answers 200 ``{}`` and records the raw path+query and the headers of every request."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.headers: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.targets.append(request.rel_url.raw_path_qs)
        self.headers.append(dict(request.headers))
        return web.json_response({})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


async def _call(client: ScaledmailClient, op: Operation, **params: Any) -> Any:
    org = params.pop("organization_id", None)
    extra = {} if org is None else {"organization_id": org}
    return await client._execute(op, path_params=params, query={}, body=UNSET, **extra)


class Color(enum.StrEnum):
    RED = "red-1"


async def test_cached_targets_follow_the_organization_the_values_and_the_operation(
    serve: StartServer, api_key: str
) -> None:
    recorder = Recorder()
    base = await serve(recorder.app())
    async with ScaledmailClient(
        api_key, organization_id="orgA", base_url=base, rate_limit=None
    ) as client:
        await _call(client, THING, thing_id="rec1")
        await _call(client, THING, thing_id="rec1")  # from the cache
        client.organization_id = "orgB"
        await _call(client, THING, thing_id="rec1")
        await _call(client, THING, thing_id="rec1", organization_id="orgC")
        client.organization_id = None
        await _call(client, THING, thing_id="rec1")
        await _call(client, OTHER_THING, thing_id="rec1")
        await _call(client, THING, thing_id=Color.RED)  # not cached (a str subclass)...
        await _call(client, THING, thing_id="red-1")  # ...and the same target as its value
        await _call(client, THING, thing_id="a b/c")  # quoted, then cached quoted
        await _call(client, THING, thing_id="a b/c")
        await _call(client, PAIR, a="x", b="y")
        await _call(client, PAIR, a="y", b="x")
    prefix = "/api/v1"
    assert recorder.targets == [
        f"{prefix}/things/rec1?organization_id=orgA",
        f"{prefix}/things/rec1?organization_id=orgA",
        f"{prefix}/things/rec1?organization_id=orgB",
        f"{prefix}/things/rec1?organization_id=orgC",
        f"{prefix}/things/rec1",
        f"{prefix}/other-things/rec1",
        f"{prefix}/things/red-1",
        f"{prefix}/things/red-1",
        f"{prefix}/things/a%20b%2Fc",
        f"{prefix}/things/a%20b%2Fc",
        f"{prefix}/pairs/x/y",
        f"{prefix}/pairs/y/x",
    ]


@pytest.mark.parametrize(
    ("value", "org"),
    [("", None), ("   ", None), (".", None), ("..", None), (7, None), ("rec1", "  "), ("rec1", 5)],
)
async def test_validation_still_runs_after_a_cached_valid_call(
    serve: StartServer, api_key: str, value: Any, org: Any
) -> None:
    recorder = Recorder()
    base = await serve(recorder.app())
    async with ScaledmailClient(
        api_key, organization_id="orgA", base_url=base, rate_limit=None
    ) as client:
        await _call(client, THING, thing_id="rec1")
        with pytest.raises(RequestValidationError):
            await _call(client, THING, thing_id=value, organization_id=org)
        assert len(recorder.targets) == 1


async def test_the_call_cache_is_bounded(serve: StartServer, api_key: str) -> None:
    recorder = Recorder()
    base = await serve(recorder.app())
    async with ScaledmailClient(api_key, base_url=base, rate_limit=None) as client:
        for i in range(_URL_CACHE_SIZE + 10):
            await _call(client, THING, thing_id=f"rec{i}")
            assert len(client._requests.call_cache) <= _URL_CACHE_SIZE
    assert len(recorder.targets) == _URL_CACHE_SIZE + 10
    assert recorder.targets[-1] == f"/api/v1/things/rec{_URL_CACHE_SIZE + 9}"


def test_plain_values_skip_quoting_with_the_same_result() -> None:
    rng = random.Random(3)
    alphabet = "azAZ09_.~-/ %?#&=+é\u00a0\U0001f600'\"!*();:@$,[]"
    samples = ["recPay0000000000A", "northwind-01", "a.b", "~x", "", ".", ".."]
    samples += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(2000)
    ]
    for text in samples:
        if text.strip() and text not in (".", ".."):
            assert encode_path_param("id", text) == quote(text, safe="")
        else:
            with pytest.raises(RequestValidationError):
                encode_path_param("id", text)
    for _ in range(500):
        query = {rng.choice(samples): rng.choice(samples) for _ in range(rng.randint(1, 4))}
        assert build_query_string(query) == urlencode(query, quote_via=quote)


async def test_owned_and_passed_in_sessions_send_the_same_headers(
    serve: StartServer, api_key: str
) -> None:
    recorder = Recorder()
    base = await serve(recorder.app())
    wanted = ("Authorization", "User-Agent", "Accept", "Content-Type")
    async with ScaledmailClient(api_key, base_url=base, rate_limit=None) as owned:
        await owned.request("GET", "/x")
        await owned.request("POST", "/x", json={"a": 1})
    async with (
        aiohttp.ClientSession() as session,
        ScaledmailClient(api_key, base_url=base, rate_limit=None, session=session) as passed,
    ):
        await passed.request("GET", "/x")
        await passed.request("POST", "/x", json={"a": 1})
        assert "Authorization" not in session.headers  # a session passed in is left as it was
    seen = [{k: h.get(k) for k in wanted} for h in recorder.headers]
    assert seen[0] == seen[2] and seen[1] == seen[3]
    assert seen[0]["Authorization"] == f"Bearer {api_key}"
    assert seen[0]["Accept"] == "application/json" and seen[0]["Content-Type"] is None
    assert seen[1]["Content-Type"] == "application/json"
    assert seen[0]["User-Agent"] == seen[1]["User-Agent"]
    assert str(seen[0]["User-Agent"]).startswith("scaledmail-async/")


async def test_trace_hooks_of_a_passed_in_session_see_the_attempt(
    serve: StartServer, api_key: str
) -> None:
    seen: list[Any] = []

    async def on_start(
        session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        seen.append(ctx.trace_request_ctx)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    recorder = Recorder()
    base = await serve(recorder.app())
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        ScaledmailClient(api_key, base_url=base, rate_limit=None, session=session) as client,
    ):
        await _call(client, THING, thing_id="rec1")
        await _call(client, THING, thing_id="rec1")
    assert seen == [{"attempt": 1, "operation": "get_thing"}] * 2
