"""Security: the API key never leaks, http:// only to loopback, redirects never carry the key.

A hostile local server echoes the key back in response headers, JSON bodies, text bodies and
redirect locations, for every error status; a run of failing calls (and a run against the fake
with faults) is made with ``SCALEDMAIL_LOG=debug`` while every log record, the debug handler's
stderr output, and every exception's ``str``, ``repr``, attributes and formatted traceback
(chained causes included) are collected, and the key must appear in none of them.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from reliability_helpers import SleepRecorder, client_for, new_key

import scaledmail_async._logging as sdk_logging
from scaledmail_async._client import ScaledmailClient
from scaledmail_async.errors import APIStatusError, ScaledmailError
from scaledmail_async.testing import FakeScaledmail

ECHO_STATUSES = (400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504)


def _texts_of(exc: BaseException) -> list[str]:
    """Every text an exception can show: str, repr, attributes, the formatted chain."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for name in ("body", "headers", "text", "url", "message", "tag", "cause"):
        if hasattr(exc, name):
            texts.append(repr(getattr(exc, name)))
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        texts += [str(cause), repr(cause)]
        cause = cause.__cause__ or cause.__context__
    return texts


@pytest.fixture
def debug_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``SCALEDMAIL_LOG=debug`` as a user sets it: the SDK installs its stderr handler (removed
    again after the test so other tests are not affected)."""
    logger = logging.getLogger("scaledmail_async")
    handlers, level = list(logger.handlers), logger.level
    monkeypatch.setenv("SCALEDMAIL_LOG", "debug")
    monkeypatch.setattr(sdk_logging, "_installed", False)
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def _echo_app(key_holder: dict[str, str]) -> web.Application:
    """Answers every request with an error that echoes the request's Authorization header."""

    async def handler(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ")
        key_holder["seen"] = key
        # The query says what to answer; the generated operations (which send no extra query)
        # get what the test put in ``key_holder``.
        query = {**{k: v for k, v in key_holder.items() if k != "seen"}, **request.query}
        status = int(query.get("status", "500"))
        kind = query.get("kind")
        headers = {"X-Echo-Authorization": auth, "X-Debug-Key": key}
        if kind == "text":
            return web.Response(status=status, text=f"upstream rejected {auth}", headers=headers)
        if kind == "redirect":
            headers["Location"] = f"https://elsewhere.example/login?api_key={key}"
            return web.Response(status=status, headers=headers)
        if kind == "shape":
            # A 2xx whose body has the wrong shape and carries the key.
            return web.json_response({"domains": key, "echo": auth}, headers=headers)
        if kind == "garbage":
            return web.Response(status=200, text=f"<html>{auth}</html>", headers=headers)
        body = {"error": f"invalid key {key}", "message": f"got {auth}", "retryAfter": 0}
        return web.json_response(body, status=status, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


async def test_key_never_logged_nor_in_errors(
    debug_logging: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key("SECRET")
    holder: dict[str, str] = {}
    server = TestServer(_echo_app(holder), host="127.0.0.1")
    await server.start_server()
    errors: list[BaseException] = []
    caplog.set_level(logging.DEBUG, logger="scaledmail_async")
    try:
        async with ScaledmailClient(
            key,
            organization_id="recOrg",
            base_url=f"http://127.0.0.1:{server.port}/api/v1",
            rate_limit=None,
            max_retries=2,
            max_retry_after=5.0,
            sleep=SleepRecorder(),
        ) as client:
            assert key not in repr(client)
            calls: list[tuple[str, dict[str, str]]] = [
                ("GET", {"status": str(s)}) for s in ECHO_STATUSES
            ]
            calls += [("POST", {"status": str(s)}) for s in (400, 500, 503)]
            calls += [("GET", {"status": str(s), "kind": "text"}) for s in (401, 502)]
            calls += [("GET", {"status": str(s), "kind": "redirect"}) for s in (301, 302, 307)]
            calls += [("GET", {"kind": "garbage"})]
            for method, params in calls:
                with pytest.raises(ScaledmailError) as info:
                    await client.request(method, "/echo", params=params)
                errors.append(info.value)
            # Generated operations too: a decode error on a documented shape, status errors.
            for mode in ({"kind": "shape"}, {"status": "403"}, {"kind": "garbage"}):
                holder.pop("kind", None)
                holder.pop("status", None)
                holder.update(mode)
                with pytest.raises(ScaledmailError) as info:
                    await client.search_domains(body={"domains": ["a.com"]})
                errors.append(info.value)
    finally:
        await server.close()
    assert holder["seen"] == key  # the server did get (and echo) the key
    assert len(errors) >= 20
    status_errors = [e for e in errors if isinstance(e, APIStatusError)]
    assert {e.status_code for e in status_errors} >= set(ECHO_STATUSES)
    for exc in errors:
        for text in _texts_of(exc):
            assert key not in text, (type(exc).__name__, text[:300])
    assert any("[REDACTED]" in repr(e.headers) for e in status_errors)
    kinds = {type(e).__name__ for e in errors}
    assert {"ResponseDecodeError", "PermissionDeniedError", "AuthenticationError"} <= kinds
    records = caplog.records
    assert any(r.levelno == logging.DEBUG for r in records)
    assert any(r.levelno == logging.INFO and "retrying" in r.getMessage() for r in records)
    for record in records:
        assert key not in record.getMessage()
        assert key not in repr(record.args)
        assert key not in (record.exc_text or "")
    captured = capsys.readouterr()
    assert "scaledmail_async" in captured.err  # the SCALEDMAIL_LOG handler did write
    assert key not in captured.err and key not in captured.out


async def test_key_not_leaked_across_fake_faults(
    debug_logging: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every fault kind of the fake, through the generated operations, at DEBUG."""
    key = new_key("SECRET")
    caplog.set_level(logging.DEBUG, logger="scaledmail_async")
    errors: list[BaseException] = []
    async with FakeScaledmail(api_key=key, rate_limits_enabled=False) as fake:
        fake.faults.randomize(
            1.0,
            [
                ("status", {"status": 500}),
                ("status", {"status": 401, "body": {"message": f"bad key {key}"}}),
                ("status", {"status": 429, "retry_after": 0, "headers": {"X-Key": key}}),
                ("reset_before", {}),
                ("reset_after", {}),
                ("close_mid_body", {}),
                ("truncated_json", {}),
                ("non_json", {"body": f"oops {key}"}),
                ("html_error", {"status": 503, "body": f"<p>{key}</p>"}),
            ],
            seed=7,
        )
        async with client_for(
            fake, rate_limit=None, max_retries=1, sleep=SleepRecorder(), timeout=2.0
        ) as client:
            order_id = fake.state.org_orders(fake.organization_id)[0].id
            for i in range(40):
                try:
                    if i % 2:
                        await client.get_order_details(order_id)
                    else:
                        await client.create_custom_order(
                            provider="buy",
                            body={
                                "tag": f"sec-{i}",
                                "providers": {
                                    "google": {
                                        "domains": [
                                            {
                                                "domain": f"secname{i}.com",
                                                "first_name": "Lea",
                                                "last_name": "Moss",
                                            }
                                        ]
                                    }
                                },
                            },
                        )
                except ScaledmailError as exc:
                    errors.append(exc)
    assert len(errors) >= 20
    assert len({type(e) for e in errors}) >= 3
    for err in errors:
        for text in _texts_of(err):
            assert key not in text, (type(err).__name__, text[:300])
    for record in caplog.records:
        assert key not in record.getMessage()
    captured = capsys.readouterr()
    assert key not in captured.err and key not in captured.out


@pytest.mark.parametrize(
    "base_url",
    [
        "http://server.scaledmail.com/api/v1",
        "http://example.com",
        "HTTP://EXAMPLE.COM/api/v1",
        "http://10.0.0.8:8080/api/v1",
        "http://192.168.1.1/api/v1",
        "http://0.0.0.0:8080/api/v1",
        "http://localhost.evil.example/api/v1",
        "http://127.0.0.1.nip.io/api/v1",
        "http://[2001:db8::1]/api/v1",
        "ftp://127.0.0.1/api/v1",
        "https://user:pw@server.scaledmail.com/api/v1",
        "//server.scaledmail.com/api/v1",
    ],
)
def test_insecure_base_urls_refused(base_url: str) -> None:
    key = new_key("SECRET")
    with pytest.raises(ValueError) as info:
        ScaledmailClient(key, base_url=base_url)
    assert key not in str(info.value)


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:1/api/v1", "http://localhost:1/api/v1", "http://[::1]:1/api/v1"],
)
def test_loopback_http_allowed(base_url: str) -> None:
    client = ScaledmailClient(new_key(), base_url=base_url, rate_limit=None)
    assert client.base_url == base_url


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_to_other_host_never_carries_the_key(status: int) -> None:
    key = new_key("SECRET")
    seen_by_other: list[dict[str, str]] = []

    async def other(request: web.Request) -> web.Response:
        seen_by_other.append(dict(request.headers))
        return web.json_response({"organizations": []})

    other_app = web.Application()
    other_app.router.add_route("*", "/{tail:.*}", other)
    other_server = TestServer(other_app, host="127.0.0.2")
    await other_server.start_server()
    target = f"http://127.0.0.2:{other_server.port}/api/v1/organizations"

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": target})

    first_app = web.Application()
    first_app.router.add_route("*", "/{tail:.*}", redirect)
    first = TestServer(first_app, host="127.0.0.1")
    await first.start_server()
    try:
        async with ScaledmailClient(
            key, base_url=f"http://127.0.0.1:{first.port}/api/v1", rate_limit=None
        ) as client:
            with pytest.raises(APIStatusError) as info:
                await client.get_organizations()
            assert info.value.status_code == status
            assert "does not follow redirects" in str(info.value)
            with pytest.raises(APIStatusError):
                await client.request("POST", "/organizations", json={"a": 1})
    finally:
        await first.close()
        await other_server.close()
    assert seen_by_other == []  # never followed, so the key never reached the other host
    # And the other host is reachable at all (the test is not vacuous).
    assert target.startswith("http://127.0.0.2:")


async def test_redirect_server_is_reachable() -> None:
    """Guard for the test above: a plain aiohttp client does follow to 127.0.0.2."""
    import aiohttp

    hits: list[str] = []

    async def other(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Authorization", ""))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/x", other)
    server = TestServer(app, host="127.0.0.2")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.2:{server.port}/x") as resp:
                assert resp.status == 200
    finally:
        await server.close()
    await asyncio.sleep(0)
    assert hits == [""]
