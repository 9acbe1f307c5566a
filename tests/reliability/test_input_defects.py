"""Issue 10, items 6 and 7 (validation and configuration): bad input and bad settings are refused
with a typed error that names what failed, before anything is sent.

Every call test runs against the embedded fake server (a real local aiohttp server) and asserts
that nothing reached it: the fake recorded no request *and* the client started none (an aiohttp
trace hook; a request line aiohttp refuses to build, or one the server cannot parse, never shows
up in the fake's records). Before the fixes:

* a model attribute of the wrong type was coerced by cattrs' unstructure hooks and sent
  (``BuyDomainsRequest(domains="abc.com")`` bought ``["a","b","c",".","c","o","m"]``; a set was
  sent in an arbitrary order; an ``OutlookDomains`` in the ``smtp`` slot was sent as smtp), or
  failed with a field-less "cannot be encoded" message;
* ``timeout``/``deadline``/``rate_limit`` of ``inf`` were accepted and every call then failed with
  ``OverflowError``; NaN, negative and non-number settings raised plain ``ValueError`` /
  ``TypeError`` (or nothing);
* configuration errors were plain ``ValueError``;
* NaN/Infinity were sent as the invalid JSON ``NaN``;
* sets, bytes, datetimes, Decimals, cycles, deep nesting, lone surrogates, string timeouts and
  method strings with a space raised untyped ``TypeError`` / ``RecursionError`` /
  ``UnicodeEncodeError`` / ``ValueError``;
* ``request()`` sent dot-segments (``/../admin``) as given;
* ``http://api.localhost`` counted as loopback, so the key could go there in clear text.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import aiohttp
import pytest
from reliability_helpers import AttemptCounter, client_for, new_key

from scaledmail_async import models
from scaledmail_async._client import ScaledmailClient
from scaledmail_async._converter import structure, unstructure
from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async._retry import BackoffPolicy
from scaledmail_async._validation import prepare_body
from scaledmail_async.cli._errors import EXIT_USAGE, exit_code_for
from scaledmail_async.errors import (
    ConfigurationError,
    NotFoundError,
    RequestValidationError,
    ScaledmailError,
)
from scaledmail_async.testing import FakeScaledmail

Call = Callable[[ScaledmailClient], Awaitable[Any]]
INF = float("inf")
NAN = float("nan")


@dataclass
class Rig:
    fake: FakeScaledmail
    client: ScaledmailClient
    attempts: AttemptCounter

    def assert_nothing_sent(self) -> None:
        assert self.attempts.started == 0, "the client started a request"
        assert self.fake.request_count() == 0, "the server received a request"


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    attempts = AttemptCounter()
    async with FakeScaledmail(api_key=new_key("INPUT"), rate_limits_enabled=False) as fake:
        # timeout=None: a per-call deadline is then the attempt's only timer (deadline=inf case).
        async with client_for(
            fake, rate_limit=None, max_retries=0, timeout=None, trace_configs=[attempts.config]
        ) as client:
            yield Rig(fake, client, attempts)


async def _refused(rig: Rig, call: Call, field: str, *fragments: str) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as info:
        await call(rig.client)
    err = info.value
    assert err.field == field, err
    assert isinstance(err, ValueError) and isinstance(err, ScaledmailError)
    for fragment in fragments:
        assert fragment in str(err), err
    assert rig.client._transport._api_key not in str(err)
    rig.assert_nothing_sent()
    return err


def _aliases(n: int) -> list[models.Alias]:
    return [models.Alias(first_name="Lea", last_name="Moss", alias=f"a{i}") for i in range(n)]


def _smtp_spec() -> models.DomainSpec:
    return models.DomainSpec(domain="a-good-name.com", aliases=_aliases(4))


# -- 1. model attributes of the wrong type ------------------------------------------------------

WRONG_MODELS: list[tuple[str, Call, str, str]] = [
    (
        "str for list[str] (bought its characters)",
        lambda c: c.buy_domains(body=models.BuyDomainsRequest(domains="abc.com")),  # type: ignore[arg-type]
        "body.domains",
        "expected a list of strings, got str",
    ),
    (
        "dict for list[str] (sent its keys)",
        lambda c: c.search_domains(body=models.SearchDomainsRequest(domains={"a.com": 1})),  # type: ignore[arg-type]
        "body.domains",
        "expected a list of strings, got dict",
    ),
    (
        "set for list[str] (arbitrary order)",
        lambda c: c.buy_domains(body=models.BuyDomainsRequest(domains={"a.com", "b.com"})),  # type: ignore[arg-type]
        "body.domains",
        "expected a list of strings, got set",
    ),
    (
        "str for an optional list[str]",
        lambda c: c.suggest_domains(body=models.SuggestDomainsRequest(domain="acme", tlds="com")),  # type: ignore[arg-type]
        "body.tlds",
        "expected a list of strings, got str",
    ),
    (
        "the wrong model in a nested slot (was sent as smtp)",
        lambda c: c.create_custom_order(
            provider="buy",
            body=models.CreateCustomOrderRequest(
                providers=models.ProviderDomains(
                    smtp=models.OutlookDomains(domains=[_smtp_spec()])  # type: ignore[arg-type]
                )
            ),
        ),
        "body.providers.smtp",
        "expected a SmtpDomains, got OutlookDomains",
    ),
    (
        "the wrong model in a top-level slot",
        lambda c: c.create_custom_order(
            provider="buy",
            body=models.CreateCustomOrderRequest(
                providers=models.GoogleDomains(domains=[_smtp_spec()])  # type: ignore[arg-type]
            ),
        ),
        "body.providers",
        "expected a ProviderDomains, got GoogleDomains",
    ),
    (
        "a dict in a model slot",
        lambda c: c.update_domain_name(
            "a.com",
            provider="other",
            body=models.UpdateDomainNameRequest(
                new_domain="b.com",
                hosting={"provider": "x", "username": "u", "password": "p"},  # type: ignore[arg-type]
            ),
        ),
        "body.hosting",
        "expected a Hosting, got dict",
    ),
    (
        "a dict in a list of models",
        lambda c: c.create_custom_order(
            provider="buy",
            body=models.CreateCustomOrderRequest(
                providers=models.ProviderDomains(
                    google=models.GoogleDomains(domains=[{"domain": "a.com"}])  # type: ignore[list-item]
                )
            ),
        ),
        "body.providers.google.domains[0]",
        "expected a DomainSpec, got dict",
    ),
    (
        "a model of the wrong type inside a dict body",
        lambda c: c.create_custom_order(
            provider="buy",
            body={"providers": models.ProviderDomains(google={"domains": []})},  # type: ignore[arg-type]
        ),
        "body.providers.google",
        "expected a GoogleDomains, got dict",
    ),
]


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [case[1:] for case in WRONG_MODELS],
    ids=[case[0] for case in WRONG_MODELS],
)
async def test_wrong_typed_model_attribute_refused(
    rig: Rig, call: Call, field: str, message: str
) -> None:
    await _refused(rig, call, field, message)


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (
            lambda c: c.update_domain_redirect(
                "a.com",
                body=models.UpdateDomainRedirectRequest(new_redirect=5),  # type: ignore[arg-type]
            ),
            "body.new_redirect",
            "expected a string, got int",
        ),
        (
            lambda c: c.calculate_package(
                body=models.CalculatePackageRequest(volume="500", providers=["google"])  # type: ignore[arg-type]
            ),
            "body.volume",
            "expected an integer, got str",
        ),
        (
            lambda c: c.calculate_package(
                body=models.CalculatePackageRequest(volume=True, providers=["google"])
            ),
            "body.volume",
            "expected an integer, got bool",
        ),
    ],
    ids=["int for str", "str for int", "bool for int"],
)
async def test_wrong_typed_model_scalar_names_its_python_type(
    rig: Rig, call: Call, field: str, message: str
) -> None:
    # The schema already refused these (as "must be a string, got an integer"); the model walk
    # now refuses them first, naming the Python type like the other model errors.
    await _refused(rig, call, field, message)


def _valid_bodies() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    named = {"domain": "a-good-name.com", "first_name": "Lea", "last_name": "Moss"}
    aliases = [{"first_name": "Lea", "last_name": "Moss", "alias": f"a{i}"} for i in range(4)]
    seq = {"provider": "smartlead", "username": "u", "password": "p", "link": "https://x.io"}
    hosting = {"provider": "godaddy", "username": "u", "password": "p"}
    return [
        ("buy_domains", {"domains": ["a.com", "b.com"], "note": {"x": [1, 2.5, None]}}, {}),
        ("search_domains", {"domains": ["a.com"]}, {}),
        ("suggest_domains", {"domain": "acme", "tlds": ["com", "io"]}, {}),
        ("update_domain_name", {"new_domain": "b.com", "hosting": hosting}, {"provider": "other"}),
        ("update_domain_redirect", {"new_redirect": "https://b.com"}, {}),
        (
            "calculate_package",
            {
                "volume": 500,
                "providers": ["google", "outlook"],
                "distribution": {"google": 60, "outlook": 40.0},
                "period": "month",
                "tier": "max",
            },
            {},
        ),
        ("create_order", {"domains": [named], "quantity": 1, "tag": "t1"}, {"provider": "buy"}),
        (
            "create_custom_order",
            {
                "providers": {
                    "google": {"domains": [named], "mailboxes_per_domain": 3},
                    "smtp": {"domains": [{"domain": "c.com", "aliases": aliases}]},
                },
                "tag": "t2",
                "sequencer": seq,
                "extra_key": {"kept": True},
            },
            {"provider": "buy"},
        ),
        ("submit_form", {"providers": {"outlook": {"domains": [named]}}}, {"provider": "buy"}),
        (
            "buy_pre_warm_inboxes",
            {"domains": [{"id": "rec1", "domain": "a.com"}], "sequencer": seq},
            {},
        ),
    ]


@pytest.mark.parametrize(("operation_id", "body", "query"), _valid_bodies())
def test_valid_models_encode_exactly_as_unstructure(
    operation_id: str, body: dict[str, Any], query: dict[str, Any]
) -> None:
    """A guard, not a defect: a well-typed model's wire form is exactly cattrs' unstructure
    (same keys in the same order, so the same bytes); a tuple for a list is still a list."""
    op = OPERATIONS[operation_id]
    assert op.request_type is not None
    model = structure(body, op.request_type)
    wire = prepare_body(op, model, query)
    assert json.dumps(wire) == json.dumps(unstructure(model))
    assert json.dumps(prepare_body(op, body, query)) == json.dumps(wire)
    as_tuple = models.BuyDomainsRequest(domains=("a.com", "b.com"))  # type: ignore[arg-type]
    assert prepare_body(OPERATIONS["buy_domains"], as_tuple) == {"domains": ["a.com", "b.com"]}


# -- 2. infinite, NaN, negative and non-number settings -----------------------------------------

BAD_NUMBERS: list[tuple[str, object]] = [
    *[("timeout", v) for v in (INF, NAN, -1.0, 0, "5", True, 10**400)],
    *[("connect_timeout", v) for v in (INF, NAN, -1, 0, "5", False)],
    *[("deadline", v) for v in (INF, NAN, -1, 0, "5", True)],
    *[("rate_limit", v) for v in (INF, NAN, -1, 0, "5", True)],
    *[("max_retries", v) for v in (-1, 1.5, NAN, INF, "3", True)],
    *[("critical_rate_limit", v) for v in (0, -1, 1.5, NAN, INF, "15", True)],
    *[("max_retry_after", v) for v in (INF, NAN, -1, "60", True)],
    *[("backoff_base", v) for v in (INF, NAN, -1, "0.5")],
    *[("backoff_max", v) for v in (INF, NAN, -1, "8")],
]


@pytest.mark.parametrize(
    ("name", "value"), BAD_NUMBERS, ids=[f"{n}={v!r}"[:40] for n, v in BAD_NUMBERS]
)
def test_bad_number_setting_refused_at_construction(name: str, value: object) -> None:
    key = new_key("SECRET")
    options: dict[str, Any] = {name: value}
    if name == "deadline":
        options["timeout"] = None  # deadline=inf with timeout=None overflowed every call
    with pytest.raises(ConfigurationError) as info:
        ScaledmailClient(key, base_url="http://127.0.0.1:1/api/v1", **options)
    message = str(info.value)
    assert message.startswith(f"{name} must be "), message
    assert "finite" in message or "int" in message
    assert isinstance(info.value, ValueError)
    assert key not in message


def test_setting_error_never_shows_a_string_value() -> None:
    """A str in a number setting is described by its type only: it might be the key itself."""
    key = new_key("SECRET")
    with pytest.raises(ConfigurationError) as info:
        ScaledmailClient(key, timeout=key)  # type: ignore[arg-type]
    assert key not in str(info.value)
    assert str(info.value).endswith("got str")


BAD_CALL_SECONDS: list[object] = [INF, -INF, NAN, -1, 0, "5", True, [5]]


@pytest.mark.parametrize("which", ["timeout", "deadline"])
@pytest.mark.parametrize("value", BAD_CALL_SECONDS, ids=[repr(v) for v in BAD_CALL_SECONDS])
@pytest.mark.parametrize("entry", ["operation", "request"])
async def test_bad_per_call_timeout_or_deadline_refused(
    rig: Rig, which: str, value: object, entry: str
) -> None:
    options = {which: value}
    if entry == "operation":
        call: Call = lambda c: c.get_orders(**options)  # type: ignore[arg-type]  # noqa: E731
    else:
        call = lambda c: c.request("GET", "/orders", **options)  # type: ignore[arg-type]  # noqa: E731
    await _refused(rig, call, which, "finite number of seconds > 0")


async def test_finite_settings_still_work(rig: Rig) -> None:
    """A guard: the values the checks accept (ints, floats, huge finite ones) still call."""
    async with client_for(
        rig.fake, rate_limit=1e300, timeout=1e300, deadline=10, max_retries=0, max_retry_after=0
    ) as client:
        await client.get_orders(timeout=5, deadline=2.5)
        await client.request("GET", "/orders", timeout=1e9)
    assert rig.fake.request_count() == 2


# -- 3. configuration errors are ConfigurationError ---------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://server.scaledmail.com/api/v1",
        "ftp://server.scaledmail.com/api/v1",
        "https://user:pw@server.scaledmail.com/api/v1",
        "https://server.scaledmail.com/api/v1?x=1",
        "server.scaledmail.com/api/v1",
        "",
        "https://server.scaledmail.com:99999/api/v1",
    ],
)
def test_bad_base_url_is_a_configuration_error(base_url: str) -> None:
    with pytest.raises(ConfigurationError):
        ScaledmailClient(new_key(), base_url=base_url)


def test_bad_organization_id_setting_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="organization_id"):
        ScaledmailClient(new_key(), organization_id="   ")
    with pytest.raises(ConfigurationError, match="organization_id"):
        ScaledmailClient(new_key(), organization_id="rec\ud800")
    # A blank variable is unset (one rule for every environment setting, issue 16); a value
    # that is not valid text (an undecodable byte) is refused, naming the variable.
    monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", "  ")
    assert ScaledmailClient(new_key()).organization_id is None
    monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", "rec\udcff")
    with pytest.raises(ConfigurationError, match="SCALEDMAIL_ORGANIZATION_ID"):
        ScaledmailClient(new_key())


async def test_trace_configs_with_own_session_is_a_configuration_error() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ConfigurationError, match="trace_configs"):
            ScaledmailClient(new_key(), session=session, trace_configs=[aiohttp.TraceConfig()])


def test_backoff_policy_refuses_bad_values_with_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="backoff_base"):
        BackoffPolicy(-1.0, 8.0, random.random)
    with pytest.raises(ConfigurationError, match="backoff_max"):
        BackoffPolicy(0.5, NAN, random.random)


def test_cli_treats_a_configuration_error_as_bad_input() -> None:
    assert exit_code_for(ConfigurationError("rate_limit must be ...")) == EXIT_USAGE


# -- 4. NaN and Infinity are never sent ---------------------------------------------------------

NON_FINITE: list[tuple[str, Call, str]] = [
    (
        "NaN in an unknown key of a dict body",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(body=cast(Any, {"domains": ["a.com"], "x": NAN})),
        "body.x",
    ),
    (
        "Infinity deep in an unknown key",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(body=cast(Any, {"domains": ["a.com"], "meta": {"a": [1, INF]}})),
        "body.meta.a[1]",
    ),
    (
        "-Infinity in a model's additional_properties",
        lambda c: c.buy_domains(
            body=models.BuyDomainsRequest(domains=["a.com"], additional_properties={"x": -INF})
        ),
        "body.x",
    ),
    (
        "NaN in a nested model's additional_properties",
        lambda c: c.create_custom_order(
            provider="buy",
            body=models.CreateCustomOrderRequest(
                providers=models.ProviderDomains(
                    smtp=models.SmtpDomains(
                        domains=[_smtp_spec()], additional_properties={"weight": NAN}
                    )
                )
            ),
        ),
        "body.providers.smtp.weight",
    ),
    ("NaN in request(json=)", lambda c: c.request("POST", "/x", json={"a": NAN}), "json.a"),
    ("Infinity as request(json=)", lambda c: c.request("POST", "/x", json=[INF]), "json[0]"),
]


@pytest.mark.parametrize(
    ("call", "field"), [c[1:] for c in NON_FINITE], ids=[c[0] for c in NON_FINITE]
)
async def test_nan_and_infinity_never_sent(rig: Rig, call: Call, field: str) -> None:
    await _refused(rig, call, field, "finite number")


# -- 5. untyped errors before sending -----------------------------------------------------------


def _cyclic_dict() -> dict[str, Any]:
    body: dict[str, Any] = {"domains": ["a.com"]}
    body["self"] = body
    return body


def _cyclic_list() -> dict[str, Any]:
    loop: list[Any] = []
    loop.append(loop)
    return {"domains": ["a.com"], "x": loop}


def _deep(levels: int) -> dict[str, Any]:
    body: dict[str, Any] = {"domains": ["a.com"]}
    inner = body
    for _ in range(levels):
        inner["x"] = {}
        inner = inner["x"]
    return body


UNTYPED: list[tuple[str, Call, str, str]] = [
    (
        "set in an unknown key",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(body=cast(Any, {"domains": ["a.com"], "x": {1, 2}})),
        "body.x",
        "set is not a JSON value",
    ),
    (
        "bytes in an unknown key",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(body=cast(Any, {"domains": ["a.com"], "x": b"1"})),
        "body.x",
        "bytes is not a JSON value",
    ),
    (
        "datetime in an unknown key",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(
            body=cast(Any, {"domains": ["a.com"], "at": dt.datetime(2026, 1, 1)})
        ),
        "body.at",
        "ISO 8601",
    ),
    (
        "Decimal in an unknown key",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(body=cast(Any, {"domains": ["a.com"], "x": [Decimal("1.5")]})),
        "body.x[0]",
        "Decimal is not a JSON value",
    ),
    (
        "set in a model's additional_properties",
        lambda c: c.buy_domains(
            body=models.BuyDomainsRequest(domains=["a.com"], additional_properties={"x": {1}})
        ),
        "body.x",
        "set is not a JSON value",
    ),
    (
        "cyclic dict body",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(body=cast(Any, _cyclic_dict())),
        "body.self",
        "reference cycle",
    ),
    (
        "cyclic list",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(body=cast(Any, _cyclic_list())),
        "body.x[0]",
        "reference cycle",
    ),
    (
        "cyclic request(json=)",
        lambda c: c.request("POST", "/x", json=_cyclic_dict()),
        "json.self",
        "reference cycle",
    ),
    (
        "10,000-level dict body",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(body=cast(Any, _deep(10_000))),
        "body",
        "levels deep",
    ),
    (
        "10,000-level request(json=)",
        lambda c: c.request("POST", "/x", json=_deep(10_000)),
        "json",
        "levels deep",
    ),
    (
        "lone surrogate in an id",
        lambda c: c.get_order_details("rec\ud800"),
        "order_id",
        "lone surrogate",
    ),
    (
        "lone surrogate in a path parameter",
        lambda c: c.update_domain_redirect("a\ud800.com", body={"new_redirect": "b.com"}),
        "domain",
        "lone surrogate",
    ),
    (
        "lone surrogate in a query parameter",
        lambda c: c.get_orders(organization_id="rec\ud800"),
        "organization_id",
        "lone surrogate",
    ),
    (
        "lone surrogate in a body string",
        lambda c: c.buy_domains(body={"domains": ["a.com", "b\udfff.com"]}),
        "body.domains[1]",
        "lone surrogate",
    ),
    (
        "lone surrogate in a body key",
        # deliberately invalid (an unknown key): checked at run time
        lambda c: c.buy_domains(body=cast(Any, {"domains": ["a.com"], "\ud800": 1})),
        "body['\\ud800']",
        "lone surrogate",
    ),
    (
        "lone surrogate in a model attribute",
        lambda c: c.search_domains(body=models.SearchDomainsRequest(domains=["a\ud800.com"])),
        "body.domains[0]",
        "lone surrogate",
    ),
    (
        "lone surrogate in a request() path",
        lambda c: c.request("GET", "/orders/rec\ud800"),
        "path",
        "lone surrogate",
    ),
    (
        "lone surrogate in request() params",
        lambda c: c.request("GET", "/orders", params={"q": "\ud800"}),
        "q",
        "lone surrogate",
    ),
    (
        "string timeout per call",
        lambda c: c.get_orders(timeout="5"),  # type: ignore[arg-type]
        "timeout",
        "got str",
    ),
    (
        "method with a space",
        lambda c: c.request("GE T", "/orders"),
        "method",
        "HTTP method",
    ),
    ("method with a newline", lambda c: c.request("GET\n", "/orders"), "method", "HTTP method"),
    ("method with '@'", lambda c: c.request("G@T", "/orders"), "method", "HTTP method"),
    ("empty method", lambda c: c.request("", "/orders"), "method", "HTTP method"),
    ("method not a str", lambda c: c.request(5, "/orders"), "method", "HTTP method"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("call", "field", "message"), [u[1:] for u in UNTYPED], ids=[u[0] for u in UNTYPED]
)
async def test_untyped_errors_become_request_validation_errors(
    rig: Rig, call: Call, field: str, message: str
) -> None:
    await _refused(rig, call, field, message)


# -- 6. request() and dot-segments --------------------------------------------------------------

DOT_PATHS = [
    "/../admin",
    "/orders/../../x",
    "/orders/..",
    "/./orders",
    "/orders/.",
    "/%2e%2e/admin",
    "/orders/%2E%2E/x",
    "/orders/.%2e/x",
    "/%2e/orders",
]


@pytest.mark.parametrize("path", DOT_PATHS)
async def test_request_dot_segments_refused(rig: Rig, path: str) -> None:
    await _refused(rig, lambda c: c.request("GET", path), "path", "dot-segment")


@pytest.mark.parametrize("path", ["/orders/...", "/orders/a..b", "/orders/.well-known"])
async def test_request_dots_inside_a_segment_still_sent(rig: Rig, path: str) -> None:
    """A guard: only whole '.'/'..' segments are refused; the path is sent as given."""
    with pytest.raises(NotFoundError):
        await rig.client.request("GET", path)
    assert [r.path for r in rig.fake.requests] == ["/api/v1" + path]


# -- 7. *.localhost is not loopback ---------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.localhost/api/v1",
        "http://api.localhost:8080/api/v1",
        "http://a.b.localhost/api/v1",
        "http://LOCALHOST.localhost/api/v1",
    ],
)
def test_plain_http_to_a_localhost_subdomain_refused(base_url: str) -> None:
    key = new_key("SECRET")
    with pytest.raises(ConfigurationError, match="non-loopback") as info:
        ScaledmailClient(key, base_url=base_url)
    assert key not in str(info.value)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://localhost:1/api/v1",
        "http://LOCALHOST:1/api/v1",
        "http://127.0.0.1:1/api/v1",
        "http://127.1.2.3/api/v1",
        "http://[::1]:1/api/v1",
        "https://api.localhost/api/v1",
    ],
)
def test_localhost_loopback_addresses_and_https_still_allowed(base_url: str) -> None:
    client = ScaledmailClient(new_key(), base_url=base_url, rate_limit=None)
    assert client.base_url == base_url.lower()


def test_messages_name_what_to_do() -> None:
    """The messages say what failed and what is accepted (spot checks)."""
    with pytest.raises(ConfigurationError) as info:
        ScaledmailClient(new_key(), timeout=INF)
    assert "timeout must be a finite number of seconds > 0, or None" in str(info.value)
    assert str(info.value).endswith("got inf")
