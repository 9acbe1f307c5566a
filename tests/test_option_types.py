"""Issue 17.3: every option refuses a value of the wrong type, with a clear message, before
anything is sent.

A constructor option raises ``ConfigurationError``, a per-call option ``RequestValidationError``;
the message names the option, what it takes and what was given (a number as given, a choice's
misspelt word quoted, anything else by its type only: never the API key, even pasted into the
wrong argument). ``bool`` is no ``int`` for a count. Before, several options (``session=``,
``user_agent=``, ``trace_configs=``, ``limiter=``, the injectable callables, a non-``str``
``api_key``, the per-call ``allow_duplicate=`` / ``exactly_once=``, some limiter options) were
accepted and failed later with a raw ``TypeError``/``AttributeError``, or echoed the value.

The per-call table runs against a real local aiohttp server that counts what reaches it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from scaledmail_async import ScaledmailClient
from scaledmail_async._limiter import InProcessLimiter
from scaledmail_async.errors import ConfigurationError, RequestValidationError

StartServer = Callable[[web.Application], Awaitable[str]]

#: Stands for the API key itself passed to the wrong argument (replaced by the test's key).
KEY: Any = object()

CONSTRUCTOR: list[tuple[str, list[Any]]] = [
    ("api_key", [123, b"sk_bytes", ["sk"], 1.5]),
    ("organization_id", [5, b"recOrg", ["recOrg"], 7.5]),
    ("base_url", [5, b"https://server.scaledmail.com/api/v1", ["https://x.test"]]),
    ("timeout", ["5", True, [5], KEY]),
    ("connect_timeout", ["1", True, KEY]),
    ("deadline", ["5", False, KEY]),
    ("max_retries", [True, False, 2.0, "3", None, KEY]),
    ("rate_limit", ["5", True, KEY]),
    ("critical_rate_limit", [1.5, True, "15", KEY]),
    ("backoff_base", ["1", True, None]),
    ("backoff_max", ["1", None]),
    ("max_retry_after", ["1", True]),
    ("max_response_size", ["1", True, 1.5, KEY]),
    ("priority", [5, "later", None, KEY]),
    ("session", ["session", 5, KEY]),
    ("user_agent", [5, b"agent", ["agent"]]),
    ("trace_configs", [5, "abc", [1], [aiohttp.TraceConfig(), "x"]]),
    ("limiter", ["limiter", 5, KEY]),
    ("journal", ["purchases.db", 5, KEY]),
    ("settle_window", ["300", True]),
    ("clock_skew", ["300", None]),
    ("sleep", [5, "sleep", KEY]),
    ("clock", [5, "clock"]),
    ("wall_clock", [5, "time"]),
    ("random", [0.5, "random"]),
]


def _cases(table: list[tuple[str, list[Any]]]) -> list[Any]:
    return [
        pytest.param(name, value, id=f"{name}={'KEY' if value is KEY else repr(value)}")
        for name, values in table
        for value in values
    ]


@pytest.mark.parametrize(("name", "value"), _cases(CONSTRUCTOR))
def test_a_constructor_option_of_the_wrong_type_is_refused(
    name: str, value: Any, api_key: str
) -> None:
    if value is KEY:
        value = api_key
    args: dict[str, Any] = {"rate_limit": None, name: value}
    key = args.pop("api_key", api_key)
    with pytest.raises(ConfigurationError) as info:
        ScaledmailClient(key, **args)
    message = str(info.value)
    assert name in message, message
    assert "must be" in message, message
    assert api_key not in message and "SECRET" not in message, message
    assert isinstance(info.value, ValueError)


def test_the_messages_say_what_was_given(api_key: str) -> None:
    def message(**kw: Any) -> str:
        with pytest.raises(ConfigurationError) as info:
            ScaledmailClient(api_key, **kw)
        return str(info.value)

    assert message(timeout="5").endswith("got str")
    assert message(max_retries=True).endswith("got bool")
    assert message(priority="later").endswith("got str 'later'")
    assert message(session="s").endswith("got str")
    assert message(trace_configs=[1]).endswith("got a list holding int")
    assert message(sleep=5).endswith("got int 5")
    assert "a callable like asyncio.sleep" in message(sleep=5)
    assert message(limiter=api_key).endswith("got str")
    text = message(organization_id=5)
    assert "a str" in text and text.endswith("got int 5")


def test_valid_values_are_still_accepted(api_key: str) -> None:
    ScaledmailClient(
        api_key,
        organization_id="recOrg",
        base_url="http://127.0.0.1:9/api/v1",
        timeout=5,
        max_retries=0,
        rate_limit=None,
        priority="bulk",
        user_agent="job/1",
        trace_configs=(aiohttp.TraceConfig() for _ in range(2)),  # any iterable, read once
        limiter=InProcessLimiter(5.0),
        max_response_size=None,
        sleep=lambda _s: _noop(),
        random=lambda: 0.5,
    )


async def _noop() -> None:
    return None


# -- limiter options ------------------------------------------------------------------------------

IN_PROCESS: list[tuple[str, list[Any]]] = [
    ("rate", ["5", True, None, KEY]),
    ("window", ["1", True]),
    ("critical_limit", [1.5, True, "15", KEY]),
    ("critical_window", ["60", True]),
    ("margin", ["0.02", True]),
    ("min_rate", ["1", True]),
    ("backoff", ["0.95", True]),
    ("probe", ["0.01", True]),
    ("probe_after", ["30", True]),
    ("recovery", ["120", True, KEY]),
]


@pytest.mark.parametrize(("name", "value"), _cases(IN_PROCESS))
def test_an_in_process_limiter_option_of_the_wrong_type_is_refused(
    name: str, value: Any, api_key: str
) -> None:
    if value is KEY:
        value = api_key
    with pytest.raises(ConfigurationError) as info:
        InProcessLimiter(**{name: value})
    message = str(info.value)
    assert name in message and "got " in message, message
    assert api_key not in message


REDIS: list[tuple[str, list[Any]]] = [
    ("rate", ["5", True, KEY]),
    ("window", ["1", True]),
    ("critical_window", ["60", None]),
    ("horizon_intervals", ["2", True]),
    ("bulk_horizon_intervals", ["1", True]),
    ("retry_interval", ["1", None]),
    ("socket_timeout", ["0.25", True]),
    ("probe", ["0.01", True]),
    ("recovery", ["120", KEY]),
    ("critical_limit", [1.5, True, KEY]),
    ("margin", ["0.02", True]),
    ("backoff", ["0.95", True, None]),
    ("min_rate", ["1", True]),
    ("probe_after", ["30", True]),
    ("outage", ["later", 5, KEY]),
    ("key_prefix", [5, "", None]),
    ("namespace", [5, ""]),
]


@pytest.mark.parametrize(("name", "value"), _cases(REDIS))
def test_a_redis_limiter_option_of_the_wrong_type_is_refused(
    name: str, value: Any, api_key: str
) -> None:
    pytest.importorskip("redis")
    from scaledmail_async import RedisRateLimiter

    if value is KEY:
        value = api_key
    with pytest.raises(ConfigurationError) as info:
        RedisRateLimiter.from_url("redis://127.0.0.1:9/0", **{name: value})
    message = str(info.value)
    assert name in message and "got " in message, message
    assert api_key not in message


def test_a_redis_url_is_never_echoed_with_its_password() -> None:
    pytest.importorskip("redis")
    from scaledmail_async import RedisRateLimiter

    with pytest.raises(ConfigurationError) as info:
        RedisRateLimiter.from_url("http://:hunter2secret@cache.internal:6379/0")
    assert "hunter2secret" not in str(info.value)
    assert "redis://" in str(info.value)
    with pytest.raises(ConfigurationError, match="got int 5"):
        RedisRateLimiter.from_url(5)  # type: ignore[arg-type]


# -- per-call options, against a real local server ------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        return web.json_response({"total": 0, "payments": []})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/v1/{tail:.*}", self.handle)
        return app


Call = Callable[[ScaledmailClient, Any], Awaitable[Any]]
BUY: Any = {"domains": ["example-a.com"]}

PER_CALL: list[tuple[str, str, Call, list[Any]]] = [
    ("timeout", "get_orders", lambda c, v: c.get_orders(timeout=v), ["5", True, [5], KEY]),
    ("deadline", "get_orders", lambda c, v: c.get_orders(deadline=v), ["5", False, KEY]),
    (
        "organization_id",
        "get_orders",
        lambda c, v: c.get_orders(organization_id=v),
        [5, b"recOrg", ["recOrg"], 1.5],
    ),
    (
        "timeout",
        "buy_domains",
        lambda c, v: c.buy_domains(body=BUY, timeout=v),
        ["5", True],
    ),
    (
        "organization_id",
        "buy_domains",
        lambda c, v: c.buy_domains(body=BUY, organization_id=v),
        [5, b"recOrg"],
    ),
    (
        "allow_duplicate",
        "buy_domains",
        lambda c, v: c.buy_domains(body=BUY, allow_duplicate=v),
        ["yes", 1, None, 0.0, KEY],
    ),
    (
        "exactly_once",
        "buy_domains",
        lambda c, v: c.buy_domains(body=BUY, exactly_once=v),
        ["true", 1, None, KEY],
    ),
    (
        "allow_duplicate",
        "buy_domains",
        lambda c, v: c.with_raw_response.buy_domains(body=BUY, allow_duplicate=v),
        ["yes"],
    ),
    ("retry", "GET /orders", lambda c, v: c.request("GET", "/orders", retry=v), ["always", 1]),
    (
        "organization_id",
        "GET /orders",
        lambda c, v: c.request("GET", "/orders", organization_id=v),
        [5, b"recOrg"],
    ),
    ("timeout", "GET /orders", lambda c, v: c.request("GET", "/orders", timeout=v), ["5"]),
]


def _call_cases() -> list[Any]:
    return [
        pytest.param(
            name,
            operation,
            call,
            value,
            id=f"{operation}:{name}={'KEY' if value is KEY else repr(value)}",
        )
        for name, operation, call, values in PER_CALL
        for value in values
    ]


@pytest.mark.parametrize(("name", "operation", "call", "value"), _call_cases())
async def test_a_per_call_option_of_the_wrong_type_is_refused_before_sending(
    serve: StartServer, api_key: str, name: str, operation: str, call: Call, value: Any
) -> None:
    counter = Counter()
    base = await serve(counter.app())
    if value is KEY:
        value = api_key
    async with ScaledmailClient(
        api_key, base_url=base, organization_id="recOrg", rate_limit=None
    ) as client:
        with pytest.raises(RequestValidationError) as info:
            await call(client, value)
        # the client still works: a valid call goes through
        await client.get_orders()
    message = str(info.value)
    assert info.value.field == name
    assert name in message and "must be" in message and "got " in message, message
    assert operation in message
    assert api_key not in message and "SECRET" not in message
    assert counter.requests == 1  # only the valid call reached the server
