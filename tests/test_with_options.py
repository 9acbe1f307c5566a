"""Per-call options and what a response or an error knows (issue 14, items 2 and 3).

``client.with_options(...)`` is a light view sharing the session, limiter and journal;
``extra_headers=`` / ``extra_query=`` are kept apart from the API's own parameters and cannot
replace ``Authorization``; ``APIResponse`` and every ``APIError`` carry ``request_id``,
``retries_taken``, ``limiter_wait`` and ``limiter_state``. Against local servers of the tests'
own making that record every request and connection.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from typing import Any

import pytest
from aiohttp import web
from conftest import StartServer

from scaledmail_async import (
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    InProcessLimiter,
    NotFoundError,
    RequestValidationError,
    ScaledmailClient,
    priority,
)
from scaledmail_async._limiter import PauseOnlyLimiter
from scaledmail_async._metadata import LimiterState


class Recorder:
    """Answers every API path; scripted statuses first; records requests and connections."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.peers: set[Any] = set()
        self.script: list[tuple[int, dict[str, str]]] = []
        self.delay = 0.0
        self.request_id: str | None = "req-abc-123"
        #: Keep each request (False: only count them, for the memory test).
        self.keep = True
        self.count = 0
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        self.count += 1
        if self.keep:
            self.requests.append(request)
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        if self.delay:
            await asyncio.sleep(self.delay)
        headers = {"X-Request-Id": self.request_id} if self.request_id else {}
        if self.script:
            status, extra = self.script.pop(0)
            return web.json_response(
                {"error": f"scripted {status}"}, status=status, headers={**headers, **extra}
            )
        return web.json_response(
            {"payments": [], "organizations": [], "packages": []}, headers=headers
        )

    @property
    def last(self) -> web.Request:
        return self.requests[-1]


@pytest.fixture
async def server(serve: StartServer) -> tuple[Recorder, str]:
    recorder = Recorder()
    return recorder, await serve(recorder.app)


def _client(api_key: str, base_url: str, **options: Any) -> ScaledmailClient:
    options.setdefault("organization_id", "recORG")
    options.setdefault("rate_limit", None)
    options.setdefault("backoff_base", 0.001)
    options.setdefault("backoff_max", 0.001)
    return ScaledmailClient(api_key, base_url=base_url, **options)


async def test_a_view_changes_only_its_own_calls(
    server: tuple[Recorder, str], api_key: str
) -> None:
    recorder, base = server
    async with _client(api_key, base, max_retries=3) as client:
        view = client.with_options(
            max_retries=0, organization_id="recOTHER", extra_headers={"X-Trace": "t1"}
        )
        recorder.script = [(503, {})]
        with pytest.raises(APIStatusError) as info:
            await view.get_orders()
        assert len(recorder.requests) == 1  # max_retries=0: no retry
        assert info.value.retries_taken == 0
        assert recorder.last.query["organization_id"] == "recOTHER"
        assert recorder.last.headers["X-Trace"] == "t1"
        # The client itself is unchanged: it retries, its organization, no extra header.
        recorder.script = [(503, {})]
        await client.get_orders()
        assert len(recorder.requests) == 3
        assert recorder.last.query["organization_id"] == "recORG"
        assert "X-Trace" not in recorder.last.headers
        # A call's own arguments win over the view's; extra headers merge (the call's win).
        await view.get_orders(
            organization_id="recCALL", extra_headers={"X-Trace": "t2", "X-B": "b"}
        )
        assert recorder.last.query["organization_id"] == "recCALL"
        assert recorder.last.headers["X-Trace"] == "t2" and recorder.last.headers["X-B"] == "b"
        # Views chain; properties read through.
        chained = view.with_options(organization_id=None)
        assert chained.organization_id is None and chained.max_retries == 0
        assert view.journal is client.journal and view.limiter is client.limiter
        await chained.get_packages()
        assert "organization_id" not in recorder.last.query


async def test_view_timeout_and_deadline(server: tuple[Recorder, str], api_key: str) -> None:
    recorder, base = server
    recorder.delay = 0.5
    async with _client(api_key, base, timeout=30.0, max_retries=0) as client:
        with pytest.raises(APITimeoutError):
            await client.with_options(timeout=0.05).get_orders()
        with pytest.raises(APITimeoutError):
            await client.with_options(deadline=0.05).get_orders()
        # The call's own timeout wins over the view's.
        recorder.delay = 0.05
        await client.with_options(timeout=0.01).get_orders(timeout=5.0)


async def test_a_view_sets_the_lane(server: tuple[Recorder, str], api_key: str) -> None:
    _, base = server
    lanes: list[str | None] = []

    class Recording(InProcessLimiter):
        async def acquire(
            self,
            group: str | None = None,
            *,
            timeout: float | None = None,  # noqa: ASYNC109
            priority: Any = None,
        ) -> float:
            lanes.append(priority)
            return await super().acquire(group, timeout=timeout, priority=priority)

    async with _client(api_key, base, limiter=Recording(rate=1000)) as client:
        await client.with_options(priority="bulk").get_orders()
        await client.get_orders()
        with priority("interactive"):  # an enclosing priority(...) wins over the view's
            await client.with_options(priority="bulk").get_orders()
    assert lanes == ["bulk", None, None]


async def test_authorization_cannot_be_replaced(server: tuple[Recorder, str], api_key: str) -> None:
    recorder, base = server
    async with _client(api_key, base) as client:
        for name in ("Authorization", "authorization", "AUTHORIZATION", "Host", "Content-Length"):
            with pytest.raises(ConfigurationError, match=name):
                client.with_options(extra_headers={name: "Bearer evil"})
            with pytest.raises(RequestValidationError, match=name) as info:
                await client.get_orders(extra_headers={name: "Bearer evil"})
            assert "evil" not in str(info.value)
        for bad in ({"X-A": "a\r\nX-Injected: 1"}, {"bad name": "x"}, {"X-A": 5}, ["X-A"]):
            with pytest.raises(ConfigurationError):
                client.with_options(extra_headers=bad)  # type: ignore[arg-type]
            with pytest.raises(RequestValidationError):
                await client.get_orders(extra_headers=bad)  # type: ignore[arg-type]
        assert recorder.requests == []
        await client.get_orders(extra_headers={"X-Custom": "1"})
        assert recorder.last.headers["Authorization"] == f"Bearer {api_key}"
        assert recorder.last.headers["X-Custom"] == "1"


async def test_extra_query_is_kept_apart(server: tuple[Recorder, str], api_key: str) -> None:
    recorder, base = server
    async with _client(api_key, base) as client:
        await client.get_orders(extra_query={"beta": "1", "page": 2, "flag": True})
        assert dict(recorder.last.query) == {
            "organization_id": "recORG",
            "beta": "1",
            "page": "2",
            "flag": "true",
        }
        for name in ("organization_id",):
            with pytest.raises(RequestValidationError, match="organization_id="):
                await client.get_orders(extra_query={name: "recEVIL"})
        with pytest.raises(RequestValidationError, match="provider="):
            await client.update_domain_name(
                "a.com",
                provider="scaledmail",
                body={"new_domain": "b.com"},
                extra_query={"provider": "other"},
            )
        for bad in ({"x": object()}, {"x": float("nan")}, {"": "1"}, "x=1"):
            with pytest.raises(RequestValidationError, match="extra_query"):
                await client.get_orders(extra_query=bad)  # type: ignore[arg-type]
        assert len(recorder.requests) == 1


async def test_bad_view_options_fail_where_written(
    server: tuple[Recorder, str], api_key: str
) -> None:
    recorder, base = server
    async with _client(api_key, base) as client:
        bad: list[dict[str, Any]] = [
            {"timeout": "5"},
            {"timeout": -1},
            {"deadline": float("inf")},
            {"max_retries": True},
            {"max_retries": -1},
            {"max_retries": 1.5},
            {"priority": "urgent"},
            {"organization_id": ""},
            {"organization_id": 5},
        ]
        for options in bad:
            name = next(iter(options))
            with pytest.raises(ConfigurationError, match=name):
                client.with_options(**options)
        assert recorder.requests == []


async def test_ten_thousand_views_share_one_connection_and_do_not_grow(
    server: tuple[Recorder, str], api_key: str
) -> None:
    recorder, base = server
    recorder.keep = False
    async with _client(api_key, base) as client:

        async def burst(n: int) -> None:
            for i in range(n):
                view = client.with_options(timeout=10.0, extra_headers={"X-I": str(i)})
                if i % 250 == 0:
                    await view.get_orders()

        await burst(1_000)  # warm up caches, the connection pool
        tracemalloc.start()
        try:
            gc.collect()
            first = tracemalloc.take_snapshot()
            await burst(10_000)
            gc.collect()
            second = tracemalloc.take_snapshot()
            await burst(10_000)
            gc.collect()
            third = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
    assert recorder.count == 4 + 40 + 40
    assert len(recorder.peers) == 1, "a view opened a connection of its own"
    # Whatever the first 10,000 left (lazily built caches, logging state) is not repeated: the
    # next 10,000 views keep nothing (a leak of one small object per view would be > 500 KB).
    grown = sum(s.size_diff for s in third.compare_to(second, "filename"))
    assert grown < 32 * 1024, f"{grown} bytes kept by 10,000 more views"
    del first


async def test_response_and_error_metadata(server: tuple[Recorder, str], api_key: str) -> None:
    recorder, base = server
    async with _client(api_key, base, rate_limit=1000.0, max_retries=3) as client:
        recorder.script = [(503, {}), (503, {})]
        raw = await client.with_raw_response.get_orders()
        assert raw.request_id == "req-abc-123"
        assert raw.retries_taken == 2
        assert raw.limiter_wait >= 0.0
        assert isinstance(raw.limiter_state, LimiterState)
        assert raw.limiter_state.pace == pytest.approx(1000.0) == raw.limiter_state.rate
        assert raw.limiter_state.paused_until is None
        assert raw.limiter_state.paused_for == 0.0

        recorder.script = [(503, {}), (404, {})]
        with pytest.raises(NotFoundError) as info:
            await client.get_order_details("recMISSING")
        err = info.value
        assert err.request_id == "req-abc-123"
        assert err.retries_taken == 1
        assert err.limiter_wait >= 0.0
        assert isinstance(err.limiter_state, LimiterState)

        recorder.request_id = None
        recorder.script = [(400, {})]
        with pytest.raises(APIStatusError) as no_id:
            await client.get_orders()
        assert no_id.value.request_id is None
        raw = await client.with_raw_response.get_orders()
        assert raw.request_id is None


async def test_a_pause_shows_in_the_limiter_state(
    server: tuple[Recorder, str], api_key: str
) -> None:
    recorder, base = server
    async with _client(api_key, base, max_retries=0, max_retry_after=60.0) as client:
        assert isinstance(client.limiter, PauseOnlyLimiter)
        recorder.script = [(429, {"Retry-After": "30"})]
        with pytest.raises(APIStatusError) as info:
            await client.get_orders()
        state = info.value.limiter_state
        assert state is not None and state.pace is None
        assert state.paused_until is not None and state.paused_until > time.time() + 20
        assert 20.0 < state.paused_for <= 30.0
