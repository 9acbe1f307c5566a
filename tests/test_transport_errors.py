"""Error mapping of the transport (aioresponses): status classes, payment pending, decode errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses
from operation_helpers import SAFE_GET, SPEND_POST, make_op

from scaledmail_async._client import ScaledmailClient
from scaledmail_async._operation import Operation
from scaledmail_async._types import UNSET
from scaledmail_async.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PaymentPendingError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ScaledmailError,
    UnprocessableEntityError,
)

StartServer = Callable[[web.Application], Awaitable[str]]

BASE = "https://api.test/api/v1"
THING_URL = f"{BASE}/things/rec1?organization_id=recORG"
BUY_URL = f"{BASE}/buy-thing?organization_id=recORG"


def _client(api_key: str, **kw: Any) -> ScaledmailClient:
    async def no_sleep(_: float) -> None:
        return None

    opts: dict[str, Any] = {
        "organization_id": "recORG",
        "base_url": BASE,
        "rate_limit": None,
        "sleep": no_sleep,
        "max_retries": 0,
    }
    opts.update(kw)
    return ScaledmailClient(api_key, **opts)


async def _call(client: ScaledmailClient, op: Operation, **kw: Any) -> Any:
    path_params = {"thing_id": "rec1"} if op.path_params else {}
    return await client._execute(
        op,
        path_params=path_params,
        query={},
        body=UNSET,
        organization_id=UNSET,
        timeout=None,
        deadline=None,
        raw=kw.get("raw", False),
    )


def _count(m: aioresponses) -> int:
    return sum(len(calls) for calls in m.requests.values())


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (418, APIStatusError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
async def test_status_maps_to_error_class(api_key: str, status: int, cls: type[Exception]) -> None:
    async with _client(api_key) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=status, payload={"error": f"boom {status}"})
            with pytest.raises(cls) as info:
                await _call(client, SAFE_GET)
    err = info.value
    assert type(err) is cls
    assert isinstance(err, APIStatusError)
    assert isinstance(err, ScaledmailError)
    assert err.status_code == status
    assert err.method == "GET"
    assert err.url == THING_URL
    assert err.body == {"error": f"boom {status}"}
    assert err.operation == "get_thing"
    assert f"boom {status}" in str(err)
    assert f"HTTP {status}" in str(err)


async def test_401_message_says_where_to_get_a_key(api_key: str) -> None:
    async with _client(api_key) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=401, payload={"message": "Unauthorized"})
            with pytest.raises(AuthenticationError, match=r"app\.scaledmail\.com/settings"):
                await _call(client, SAFE_GET)


async def test_text_error_body_is_kept_as_text(api_key: str) -> None:
    async with _client(api_key) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=502, body="<html>Bad gateway</html>")
            with pytest.raises(InternalServerError) as info:
                await _call(client, SAFE_GET)
    assert info.value.body == "<html>Bad gateway</html>"
    assert "Bad gateway" in str(info.value)


async def test_redirect_is_not_followed(api_key: str) -> None:
    async with _client(api_key) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=302, headers={"Location": "https://evil.test/steal"})
            with pytest.raises(APIStatusError, match="does not follow redirects") as info:
                await _call(client, SAFE_GET)
            assert _count(m) == 1
    assert info.value.status_code == 302


@pytest.mark.parametrize("op", [SAFE_GET, SPEND_POST], ids=["safe", "spending"])
@pytest.mark.parametrize("field", ["error", "message"])
async def test_payment_pending_is_never_retried(api_key: str, op: Operation, field: str) -> None:
    url = THING_URL if op is SAFE_GET else BUY_URL
    async with _client(api_key, max_retries=3) as client:
        with aioresponses() as m:
            m.add(
                url,
                op.method,
                status=400,
                payload={field: "Subscription created but unable to charge"},
                repeat=True,
            )
            with pytest.raises(PaymentPendingError) as info:
                await _call(client, op)
            assert _count(m) == 1
    assert isinstance(info.value, BadRequestError)
    assert "Do not retry" in str(info.value)


async def test_non_json_200_raises_decode_error_keeping_text(api_key: str) -> None:
    async with _client(api_key) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=200, body="<html>maintenance</html>")
            with pytest.raises(ResponseDecodeError) as info:
                await _call(client, SAFE_GET)
    assert info.value.text == "<html>maintenance</html>"
    assert info.value.status_code == 200
    assert "not JSON" in str(info.value)


async def test_wrong_shape_200_raises_decode_error(api_key: str) -> None:
    op = make_op(response_type=list[int])
    async with _client(api_key) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=200, payload={"not": "a list of ints"})
            with pytest.raises(ResponseDecodeError) as info:
                await _call(client, op)
    assert json.loads(info.value.text) == {"not": "a list of ints"}
    assert "documented shape" in str(info.value)


async def test_raw_response_carries_status_headers_and_counts(api_key: str) -> None:
    async with _client(api_key, max_retries=2) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=503)
            m.get(THING_URL, status=200, payload={"id": "rec1"}, headers={"X-Req": "abc"})
            result = await _call(client, SAFE_GET, raw=True)
    assert result.parsed == {"id": "rec1"}
    assert result.status_code == 200
    assert result.headers["X-Req"] == "abc"
    assert result.retries_taken == 1
    assert result.limiter_wait == 0.0
    assert result.operation == "get_thing"
    assert result.elapsed >= 0.0


async def test_key_echoed_by_server_is_redacted(api_key: str) -> None:
    echo = {"error": f"bad token {api_key}", "nested": [{"k": api_key}]}
    async with _client(api_key) as client:
        with aioresponses() as m:
            m.get(THING_URL, status=403, payload=echo, headers={"X-Echo": f"Bearer {api_key}"})
            with pytest.raises(PermissionDeniedError) as info:
                await _call(client, SAFE_GET)
            m.get(THING_URL, status=200, body=f"not json {api_key}")
            with pytest.raises(ResponseDecodeError) as info2:
                await _call(client, SAFE_GET)
    for err in (info.value, info2.value):
        everything = " ".join([str(err), repr(err), repr(vars(err)), repr(err.args), repr(client)])
        assert api_key not in everything
    assert "[REDACTED]" in str(info.value)


async def test_connection_error_mapping(api_key: str) -> None:
    from scaledmail_async.errors import APIConnectionError, APITimeoutError

    async with _client(api_key) as client:
        with aioresponses() as m:
            m.get(THING_URL, exception=aiohttp.ServerDisconnectedError())
            with pytest.raises(APIConnectionError) as info:
                await _call(client, SAFE_GET)
            assert not isinstance(info.value, APITimeoutError)
            m.get(THING_URL, exception=TimeoutError())
            with pytest.raises(APITimeoutError):
                await _call(client, SAFE_GET)


async def test_a_404_without_the_api_prefix_names_base_url(
    serve: StartServer, api_key: str
) -> None:
    # A user's base_url without /api/v1 ("https://server.scaledmail.com"): every call is a bare
    # 404 from the web server; the error says what to fix.
    async def handle(request: web.Request) -> web.Response:
        return web.json_response({"error": "Not found"}, status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    base = await serve(app)  # http://127.0.0.1:<port>/api/v1
    root = base.removesuffix("/api/v1")
    async with ScaledmailClient(api_key, base_url=root, rate_limit=None, max_retries=0) as client:
        with pytest.raises(NotFoundError, match="base_url should end with /api/v1"):
            await client.get_organizations()
    async with ScaledmailClient(api_key, base_url=base, rate_limit=None, max_retries=0) as client:
        with pytest.raises(NotFoundError) as info:
            await client.get_organizations()
        assert "base_url should end" not in str(info.value)  # a real 404 of the API
