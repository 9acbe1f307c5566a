"""``FakeScaledmail``: the embedded fake Scaledmail server (an ``aiohttp.web`` application).

Every request goes through one pipeline::

    record -> take a queued fault -> [fault before processing]
           -> bearer check (401) -> rate limits per key (429) -> organization_id (400/404)
           -> the operation's handler (plain JSON in, plain JSON out; 400/404/409 errors)
           -> [fault after processing] -> response (with an ``X-Request-Id``: ``req_`` + serial)

The fake's own admin routes (``/_fake/state``, ``/_fake/faults``, ``/_fake/rate-limits``:
:mod:`._admin`) sit beside the API's and are neither recorded nor faulted.

The fake depends on nothing else in the SDK, so it can test the SDK and users' own code.
Unknown organizations get **404** ``{"error": "Organization not found"}``.

Why a real server rather than a library: client-side mocks (aioresponses) bypass the socket, so
they cannot produce resets, half-sent bodies, trickles or timeouts, nor prove how many requests
reached the server; external mock servers (Prism, stripe-mock style) need a separate binary and
have no stateful order lifecycle, per-key rate limits or fault queue. aiohttp.web gives the real
HTTP stack in-process with nothing to install.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import signal
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Final

from aiohttp import web

from scaledmail_async.testing._admin import ADMIN_PREFIX, add_admin_routes
from scaledmail_async.testing._fault_spec import FaultSpec
from scaledmail_async.testing._faults import Fault, FaultHit, FaultQueue
from scaledmail_async.testing._handlers import OPERATIONS, Ctx, FakeOperation
from scaledmail_async.testing._options import DEFAULT_API_KEY, FakeOptions
from scaledmail_async.testing._ratelimit import (
    CRITICAL_MESSAGE,
    GLOBAL_MESSAGE,
    FakeRateLimiter,
    RateLimitRule,
    Rejection,
    limit_label,
)
from scaledmail_async.testing._rules import ApiError
from scaledmail_async.testing._state import FakeState

__all__ = ["API_PREFIX", "FakeScaledmail", "RequestRecord", "create_app", "run_fake_server"]

API_PREFIX: Final = "/api/v1"
_FAKE_KEY: Final = web.AppKey("scaledmail_fake", object)
#: Where a request's id is kept on the aiohttp request (answered as ``X-Request-Id``): a
#: ``web.RequestKey`` where aiohttp has them (3.14, which warns about a plain string key).
_REQUEST_KEY: Any = getattr(web, "RequestKey", None)
_REQUEST_ID_KEY: Final[Any] = (
    "scaledmail_fake.request_id"
    if _REQUEST_KEY is None
    else _REQUEST_KEY("scaledmail_fake.request_id", str)
)
_JSON: Final = "application/json"
_WRITE_OPERATIONS: Final = frozenset(op.operation_id for op in OPERATIONS if op.writes)
_HTML_PAGE: Final = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_STATUS_BODIES: Final = {
    401: {"message": "Unauthorized"},
    403: {"message": "Forbidden"},
    500: {"error": "Internal server error"},
}


def key_hash(api_key: str) -> str:
    """A short, non-reversible label of an API key (records and limiter buckets use it)."""
    return "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


@dataclass
class RequestRecord:
    """One request the fake received (whatever happened to it).

    ``status`` is the status line sent (``None`` when the connection was dropped without one);
    ``applied`` is True when the operation was processed successfully (for writes: its side
    effects happened, including the "unable to charge" case); ``key_hash`` labels the API key
    without revealing it; ``timestamp`` comes from the fake's (monotonic) clock.
    """

    index: int
    operation_id: str | None
    method: str
    path: str
    query: dict[str, str]
    timestamp: float
    json: Any = None
    key_hash: str | None = None
    status: int | None = None
    fault: str | None = None
    applied: bool = False
    rate_limited: bool = False
    #: The ``X-Request-Id`` the fake answered with (``req_`` and a serial number).
    request_id: str | None = None


@dataclass
class _Result:
    status: int
    body: Any
    headers: dict[str, str]

    def payload(self) -> bytes:
        return json.dumps(self.body).encode()


class FakeScaledmail:
    """An in-process fake of the Scaledmail API with in-memory state.

    ``async with FakeScaledmail(**options) as fake:`` serves on ``127.0.0.1`` on a free port;
    point a client at ``fake.base_url`` with ``fake.api_key`` and ``fake.organization_id``.
    Options are :class:`~scaledmail_async.testing.FakeOptions` fields (``seed``, ``rate_limit``,
    ``critical_limit``, ``rate_limit_algorithm``, ``activate_after_polls``...); ``api_key`` /
    ``api_keys`` set the accepted bearer keys; ``clock`` replaces :func:`time.monotonic` (rate
    limits, lifecycle, record timestamps).

    Inspect and steer it with ``fake.state`` (the data), ``fake.faults`` (fault injection),
    ``fake.requests`` / :meth:`request_count` / :meth:`applied_count` (counters) and
    :meth:`stats`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        api_keys: Iterable[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> None:
        keys: list[str] = [api_key] if api_key is not None else []
        keys += list(api_keys or [])
        self.options = FakeOptions(api_keys=tuple(keys or [DEFAULT_API_KEY]), **options)
        self.host = host
        self._port = port
        self._clock = clock
        self.state = FakeState(self.options, clock)
        self.faults = FaultQueue()
        self.requests: list[RequestRecord] = []
        self.limiter = self._build_limiter()
        self.app = create_app(self)
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._request_serial = 0

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start serving (idempotent)."""
        if self._runner is not None:
            return
        runner = web.AppRunner(
            self.app,
            handler_cancellation=True,
            shutdown_timeout=self.options.shutdown_timeout,
            access_log=None,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._bound_port = int(address[1])

    async def close(self) -> None:
        """Stop serving; in-flight requests get ``shutdown_timeout`` seconds, then are cancelled."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeScaledmail:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._runner is not None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._bound_port is None:
            raise RuntimeError("FakeScaledmail is not started: use 'async with' or start()")
        return self._bound_port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no API prefix)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/v1``: the client's ``base_url``."""
        return self.url + API_PREFIX

    @property
    def api_key(self) -> str:
        """The first accepted API key."""
        return self.options.api_keys[0]

    @property
    def organization_id(self) -> str:
        """The first seeded organization's id (a good client default)."""
        return self.state.organizations[0].id

    @property
    def organization_ids(self) -> list[str]:
        """Every organization id."""
        return [o.id for o in self.state.organizations]

    def __repr__(self) -> str:
        where = self.base_url if self._bound_port is not None else "not started"
        return f"<FakeScaledmail {where} requests={len(self.requests)}>"

    # ----------------------------------------------------------------- rate limits
    def _build_limiter(self) -> FakeRateLimiter:
        opts = self.options
        global_rule = (
            RateLimitRule("global", opts.rate_limit, opts.rate_window, GLOBAL_MESSAGE)
            if opts.rate_limit is not None
            else None
        )
        critical_rule = (
            RateLimitRule("critical", opts.critical_limit, opts.critical_window, CRITICAL_MESSAGE)
            if opts.critical_limit is not None
            else None
        )
        return FakeRateLimiter(
            global_rule=global_rule,
            critical_rule=critical_rule,
            algorithm=opts.rate_limit_algorithm,
            burst=opts.burst,
            clock=self._clock,
            enabled=opts.rate_limits_enabled,
        )

    def configure_rate_limits(self, **changes: Any) -> None:
        """Change rate-limit options at run time (``rate_limit``, ``critical_limit``, windows,
        ``rate_limit_algorithm``, ``burst``, ``rate_limits_enabled``, ``retry_after_header``);
        the limiter restarts empty. A value the limiter refuses raises ``ValueError`` and changes
        nothing."""
        allowed = {
            "rate_limit",
            "rate_window",
            "critical_limit",
            "critical_window",
            "rate_limit_algorithm",
            "burst",
            "rate_limits_enabled",
            "retry_after_header",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"not rate-limit options: {sorted(unknown)}")
        before = {name: getattr(self.options, name) for name in changes}
        for name, value in changes.items():
            setattr(self.options, name, value)
        try:
            if self.options.retry_after_header not in (True, False, "seconds", "http-date"):
                raise ValueError("retry_after_header must be True, False, 'seconds' or 'http-date'")
            self.limiter = self._build_limiter()
        except (TypeError, ValueError):
            # A refused change leaves the options (and the running limiter) as they were.
            for name, value in before.items():
                setattr(self.options, name, value)
            raise

    def _retry_after_header(self, wait: float, mode: Any) -> dict[str, str]:
        if mode is False or mode == "none" or mode == "body":
            return {}
        if mode == "http-date":
            when = math.ceil(self.state.wall_time() + wait)
            return {"Retry-After": formatdate(when, usegmt=True)}
        return {"Retry-After": str(max(1, math.ceil(wait)))}

    def _too_many(self, rejection: Rejection) -> _Result:
        body = {
            "message": rejection.rule.message,
            "retryAfter": math.ceil(self.state.wall_time() + rejection.wait),
            "limit": rejection.rule.label,
        }
        headers = self._retry_after_header(rejection.wait, self.options.retry_after_header)
        return _Result(429, body, headers)

    # ----------------------------------------------------------------- counters
    def request_count(self, operation_id: str | None = None, *, status: int | None = None) -> int:
        """Requests received (including faulted and rate-limited ones), optionally of one
        operation and/or answered with one status."""
        return sum(
            1
            for r in self.requests
            if (operation_id is None or r.operation_id == operation_id)
            and (status is None or r.status == status)
        )

    def applied_count(self, operation_id: str | None = None) -> int:
        """How many requests were actually processed (for writes: applied)."""
        return sum(
            1
            for r in self.requests
            if r.applied and (operation_id is None or r.operation_id == operation_id)
        )

    def requests_for(self, operation_id: str) -> list[RequestRecord]:
        """The records of one operation, in arrival order."""
        return [r for r in self.requests if r.operation_id == operation_id]

    def max_requests_in_window(
        self, window: float = 1.0, operation_ids: Iterable[str] | None = None
    ) -> int:
        """The largest number of received requests whose timestamps fit in any ``window``
        seconds (optionally only of some operations)."""
        wanted = set(operation_ids) if operation_ids is not None else None
        times = sorted(
            r.timestamp for r in self.requests if wanted is None or r.operation_id in wanted
        )
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def assert_request_count(self, operation_id: str | None, expected: int) -> None:
        """Raise ``AssertionError`` unless exactly ``expected`` requests were received."""
        actual = self.request_count(operation_id)
        if actual != expected:
            what = operation_id or "any operation"
            raise AssertionError(f"expected {expected} request(s) of {what}, received {actual}")

    def assert_applied(self, operation_id: str, expected: int) -> None:
        """Raise ``AssertionError`` unless the operation was applied exactly ``expected`` times."""
        actual = self.applied_count(operation_id)
        if actual != expected:
            raise AssertionError(
                f"expected {operation_id} applied {expected} time(s), got {actual}"
            )

    def reset_counters(self) -> None:
        """Forget the request records and the fault log (state and queued faults stay)."""
        self.requests.clear()
        self.faults.injected.clear()

    def stats(self) -> dict[str, Any]:
        """A summary for demos and reports."""
        by_op = Counter(r.operation_id or "<unknown>" for r in self.requests)
        by_status = Counter(str(r.status) for r in self.requests)
        return {
            "requests": len(self.requests),
            "by_operation": dict(sorted(by_op.items())),
            "by_status": dict(sorted(by_status.items())),
            "rate_limited": sum(1 for r in self.requests if r.rate_limited),
            "faults_injected": len(self.faults.injected),
            "faults_by_kind": dict(sorted(Counter(h.kind for h in self.faults.injected).items())),
            "applied_writes": sum(
                1 for r in self.requests if r.applied and r.operation_id in _WRITE_OPERATIONS
            ),
            "orders": len(self.state.orders),
        }

    # ----------------------------------------------------------------- pipeline
    def _record(self, request: web.Request, operation_id: str | None) -> RequestRecord:
        self._request_serial += 1
        record = RequestRecord(
            index=len(self.requests),
            operation_id=operation_id,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            timestamp=self._clock(),
            request_id=f"req_{self._request_serial:08d}",
        )
        request[_REQUEST_ID_KEY] = record.request_id
        self.requests.append(record)
        return record

    async def _handle(self, request: web.Request, op: FakeOperation) -> web.StreamResponse:
        record = self._record(request, op.operation_id)
        fault = self.faults.take(op.operation_id)
        if fault is None:
            result = await self._process(request, op, record)
            return self._send(result, record)
        record.fault = fault.kind
        if op.body and request.can_read_body:
            # Record the body of every faulted request too (the tag of a purchase is how tests
            # count receptions per purchase); aiohttp caches it for the handler.
            _record_json(record, await request.read())
        try:
            return await self._faulted(request, op, record, fault)
        finally:
            hit = FaultHit(fault.kind, op.operation_id, record.index, record.applied)
            self.faults.record(fault, hit)

    async def _on_response_prepare(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        # aiohttp stamps a real-time Date only when none is set: a skewed server sends its own.
        if self.options.clock_skew:
            response.headers["Date"] = formatdate(self.state.wall_time(), usegmt=True)
        request_id = request.get(_REQUEST_ID_KEY)
        if isinstance(request_id, str):
            response.headers.setdefault("X-Request-Id", request_id)

    async def _unknown_route(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request, None)
        return self._send(_Result(404, {"error": "Not found"}, {}), record)

    def _send(self, result: _Result, record: RequestRecord) -> web.Response:
        record.status = result.status
        return web.Response(
            status=result.status, body=result.payload(), headers=result.headers, content_type=_JSON
        )

    async def _process(
        self,
        request: web.Request,
        op: FakeOperation,
        record: RequestRecord,
        *,
        unable_to_charge: bool = False,
    ) -> _Result:
        raw = await request.read() if op.body else b""
        body: Any = None
        body_error = False
        if raw.strip():
            body_error = not _record_json(record, raw)
            body = None if body_error else record.json
        key = _bearer(request)
        if key is None or key not in self.options.api_keys:
            return _Result(401, {"message": "Unauthorized"}, {})
        record.key_hash = key_hash(key)
        rejection = self.limiter.acquire(record.key_hash, critical=op.critical)
        if rejection is not None:
            record.rate_limited = True
            return self._too_many(rejection)
        if body_error:
            return _Result(400, {"error": "Invalid JSON body"}, {})
        org = None
        if op.organization:
            org_id = request.query.get("organization_id")
            if not org_id:
                return _Result(400, {"error": "organization_id is required"}, {})
            org = self.state.organization(org_id)
            if org is None:
                return _Result(404, {"error": "Organization not found"}, {})
        ctx = Ctx(
            state=self.state,
            options=self.options,
            org=org,
            query=request.query,
            path=request.match_info,
            body=body,
            unable_to_charge=unable_to_charge,
        )
        try:
            payload = op.handler(ctx)
        except ApiError as error:
            record.applied = error.applied
            return _Result(error.status, error.body, {})
        record.applied = True
        return _Result(200, payload, {})

    async def _faulted(
        self, request: web.Request, op: FakeOperation, record: RequestRecord, fault: Fault
    ) -> web.StreamResponse:
        kind, params = fault.kind, fault.params
        if kind == "reset_before":
            return _reset(request)
        if kind == "delay" and not params.get("after", False):
            await asyncio.sleep(float(params.get("seconds", 1.0)))
        result: _Result | None = None
        if fault.apply:
            result = await self._process(
                request, op, record, unable_to_charge=kind == "unable_to_charge"
            )
        if kind == "delay":
            assert result is not None
            if params.get("after", False):
                await asyncio.sleep(float(params.get("seconds", 1.0)))
            return self._send(result, record)
        if kind in ("reset_after",):
            return _reset(request)
        if kind == "unable_to_charge":
            assert result is not None
            return self._send(result, record)
        if kind == "status":
            return self._status_fault(params, record)
        if kind == "non_json":
            status = int(params.get("status", 200))
            text = str(params.get("body", "upstream error: the service returned no JSON\n"))
            record.status = status
            return web.Response(status=status, text=text, content_type="text/plain")
        if kind == "html_error":
            status = int(params.get("status", 502))
            phrase = _phrase(status)
            page = params.get("body") or _HTML_PAGE.format(code=status, phrase=phrase)
            record.status = status
            return web.Response(status=status, text=str(page), content_type="text/html")
        status, payload = (
            (result.status, result.payload())
            if result is not None
            else (200, json.dumps({"data": [{"id": "rec0000000000000", "status": ""}]}).encode())
        )
        record.status = status
        if kind == "truncated_json":
            keep = _keep(params.get("keep"), len(payload))
            return web.Response(status=status, body=payload[:keep], content_type=_JSON)
        if kind == "close_mid_body":
            return await _close_mid_body(request, status, payload, params.get("keep"))
        if kind == "trickle":
            return await _trickle(
                request,
                status,
                payload,
                int(params.get("chunk_size", 16)),
                float(params.get("interval", 0.05)),
            )
        raise AssertionError(f"unhandled fault kind {kind}")  # pragma: no cover

    def _status_fault(self, params: dict[str, Any], record: RequestRecord) -> web.Response:
        status = int(params["status"])
        headers = dict(params.get("headers") or {})
        body = params.get("body")
        if status == 429:
            wait = float(params.get("retry_after", 1.0))
            fmt = params.get("retry_after_format", "seconds")
            headers = {**self._retry_after_header(wait, fmt), **headers}
            if body is None:
                rule = self.limiter.global_rule
                body = {
                    "message": GLOBAL_MESSAGE,
                    "limit": rule.label if rule is not None else limit_label(5, 1.0),
                }
                if fmt != "none":
                    body["retryAfter"] = math.ceil(self.state.wall_time() + wait)
        elif body is None:
            body = _STATUS_BODIES.get(status, {"error": _phrase(status)})
        record.status = status
        if status in (204, 304) or status < 200:
            return web.Response(status=status, headers=headers)
        if isinstance(body, str | bytes):
            data = body.encode() if isinstance(body, str) else body
            return web.Response(
                status=status, body=data, headers=headers, content_type="text/plain"
            )
        return web.Response(
            status=status, body=json.dumps(body).encode(), headers=headers, content_type=_JSON
        )


def _record_json(record: RequestRecord, raw: bytes) -> bool:
    """Store the request body on ``record`` (parsed, or the text when it is not JSON); returns
    whether it parsed."""
    if not raw.strip():
        return True
    try:
        record.json = json.loads(raw)
    except ValueError:
        record.json = raw.decode("utf-8", "replace")
        return False
    return True


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _keep(keep: Any, length: int) -> int:
    if keep is None:
        return max(1, length // 2)
    return min(int(keep), max(length - 1, 0))


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _reset(request: web.Request) -> web.Response:
    """Drop the connection with a TCP reset; nothing is answered."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    # aiohttp tries to send this on a closed transport and quietly gives up.
    return web.Response(status=500)


async def _close_mid_body(
    request: web.Request, status: int, payload: bytes, keep: Any
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers={"Content-Type": _JSON})
    response.content_length = len(payload)
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        await response.write(payload[: _keep(keep, len(payload))])
    if request.transport is not None:
        request.transport.close()
    return response


async def _trickle(
    request: web.Request, status: int, payload: bytes, chunk_size: int, interval: float
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers={"Content-Type": _JSON})
    response.content_length = len(payload)
    await response.prepare(request)
    try:
        for start in range(0, len(payload), chunk_size):
            await response.write(payload[start : start + chunk_size])
            await asyncio.sleep(interval)
    except ConnectionError:
        pass
    return response


def create_app(fake: FakeScaledmail) -> web.Application:
    """The aiohttp application serving ``fake`` (also ``fake.app``), e.g. for aiohttp's
    ``aiohttp_client`` fixture. The API's routes live under ``/api/v1``; the fake's own admin
    routes (state, faults, rate limits: :mod:`._admin`) under ``/_fake``."""
    app = web.Application()
    app[_FAKE_KEY] = fake
    app.on_response_prepare.append(fake._on_response_prepare)

    def route(op: FakeOperation) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await fake._handle(request, op)

        return handler

    for op in OPERATIONS:
        app.router.add_route(op.method, API_PREFIX + op.path, route(op), name=op.operation_id)
    add_admin_routes(app, fake)
    app.router.add_route("*", "/{tail:.*}", fake._unknown_route)
    return app


def run_fake_server(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[FakeScaledmail], None] | None = None,
    faults: Iterable[FaultSpec] = (),
    **options: Any,
) -> None:
    """Serve a :class:`FakeScaledmail` until Ctrl-C (or SIGTERM). ``faults`` are set before the
    first request (``rate`` faults seeded with the fake's ``seed``); ``on_ready`` is called once
    it listens (default: print the base URL and organization ids; never the key). A running
    fake can be steered from another process through its admin routes (``/_fake/state``,
    ``/_fake/faults``, ``/_fake/rate-limits``)."""
    specs = list(faults)

    def announce(fake: FakeScaledmail) -> None:
        print(f"Fake Scaledmail API at {fake.base_url}")
        print(f"Organizations: {', '.join(fake.organization_ids)}")
        keys = len(fake.options.api_keys)
        default = " (the default test key, scaledmail_async.testing.DEFAULT_API_KEY)"
        uses_default = fake.options.api_keys == (DEFAULT_API_KEY,)
        print(f"Accepting {keys} API key(s){default if uses_default else ''}. Ctrl-C to stop.")
        print(f"Admin routes: {fake.url}{ADMIN_PREFIX}/state, {fake.url}{ADMIN_PREFIX}/faults")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with FakeScaledmail(host=host, port=port, **options) as fake:
            # No await between start and here: no request is served before the faults are set.
            for spec in specs:
                spec.add_to(fake.faults, seed=fake.options.seed)
            (on_ready or announce)(fake)
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
