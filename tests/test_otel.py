"""OpenTelemetry instrumentation (``scaledmail_async.otel``, extra ``otel``) against the fake.

Spans and metrics are collected with the OpenTelemetry SDK's ``InMemorySpanExporter`` and
``InMemoryMetricReader``; faults come from :class:`FakeScaledmail`'s fault queue. Every client
here uses ``rate_limit=None`` (the pause-only limiter) with an instant ``sleep``, so 429 pauses
and backoff cost no real time; nothing here asserts a duration.

``pytest tests/test_otel.py -k span_list -s`` prints the spans of a faulted run.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import attrs
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

import scaledmail_async.otel
from scaledmail_async import (
    ConfigurationError,
    NotFoundError,
    OutcomeUnknownError,
    PaymentPendingError,
    ScaledmailClient,
)
from scaledmail_async.errors import REDACTED
from scaledmail_async.models import CreateCustomOrderBody
from scaledmail_async.otel import Telemetry
from scaledmail_async.testing import FakeScaledmail

#: Every metric the instrumentation records, and the only attribute keys each may carry.
METRICS: dict[str, set[str]] = {
    "http.client.request.duration": {
        "http.request.method",
        "server.address",
        "server.port",
        "url.template",
        "http.response.status_code",
        "error.type",
    },
    "scaledmail.limiter.wait.duration": {
        "scaledmail.rate_limit.group",
        "scaledmail.priority",
        "scaledmail.limiter.backend",
    },
    "scaledmail.limiter.pauses": {"scaledmail.rate_limit.group", "scaledmail.limiter.backend"},
    "scaledmail.client.retries": {"scaledmail.operation", "error.type"},
    "scaledmail.purchases": {"scaledmail.operation", "scaledmail.purchase.state"},
}
#: The stable HTTP client span attributes (semconv v1.23+) and the opt-in ``url.template``.
HTTP_SPAN_ATTRIBUTES = {
    "http.request.method",
    "server.address",
    "server.port",
    "url.full",
    "url.template",
    "http.response.status_code",
    "error.type",
    "http.request.resend_count",
}


@attrs.define
class Recorder:
    """An SDK tracer and meter provider with in-memory export."""

    spans_out: InMemorySpanExporter
    reader: InMemoryMetricReader
    telemetry: Telemetry

    def spans(self) -> list[ReadableSpan]:
        return sorted(self.spans_out.get_finished_spans(), key=lambda s: s.start_time or 0)

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name -> (attributes, point) of every data point."""
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        if data is None:
            return found
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for point in metric.data.data_points:
                        found.setdefault(metric.name, []).append(
                            (dict(point.attributes or {}), point)
                        )
        return found


@pytest.fixture
def rec() -> Iterator[Recorder]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Recorder(
        exporter,
        reader,
        Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider),
    )
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
async def fake(api_key: str) -> AsyncIterator[FakeScaledmail]:
    async with FakeScaledmail(api_key=api_key, rate_limits_enabled=False, taken_ratio=0.0) as f:
        yield f


async def _instant(seconds: float) -> None:
    await asyncio.sleep(0)


def client_of(fake: FakeScaledmail, rec: Recorder, **options: Any) -> ScaledmailClient:
    options.setdefault("rate_limit", None)
    options.setdefault("telemetry", rec.telemetry)
    return ScaledmailClient(
        fake.api_key,
        organization_id=fake.organization_id,
        base_url=fake.base_url,
        sleep=_instant,
        random=lambda: 0.5,
        **options,
    )


def custom_body(domain: str, tag: str | None = None) -> CreateCustomOrderBody:
    body: CreateCustomOrderBody = {
        "providers": {
            "google": {"domains": [{"domain": domain, "first_name": "Ada", "last_name": "Ng"}]}
        },
    }
    if tag is not None:
        body["tag"] = tag
    return body


def children(rec: Recorder, parent: ReadableSpan) -> list[ReadableSpan]:
    span_id = parent.context.span_id if parent.context else None
    return [s for s in rec.spans() if s.parent is not None and s.parent.span_id == span_id]


def strings(value: object) -> Iterator[str]:
    """Every string in an attribute value (or a mapping / sequence of them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)
    elif hasattr(value, "items"):  # BoundedAttributes
        yield from strings(dict(value.items()))


def exported_strings(rec: Recorder) -> list[str]:
    """Every string the spans and metrics carry: names, attributes, events, statuses."""
    found: list[str] = []
    for span in rec.spans():
        found.append(span.name)
        found += strings(span.attributes)
        found.append(span.status.description or "")
        for event in span.events:
            found.append(event.name)
            found += strings(event.attributes)
    for name, points in rec.metrics().items():
        found.append(name)
        for attributes, _ in points:
            found += strings(attributes)
    return found


# ------------------------------------------------------------------------------- the spans


async def test_503_then_success_is_two_attempts_under_one_operation_span(
    fake: FakeScaledmail, rec: Recorder
) -> None:
    fake.faults.add("status", operation="get_orders", status=503)
    async with client_of(fake, rec) as client:
        await client.get_orders()
    (op,) = rec.named("scaledmail ")
    assert op.name == "scaledmail get_orders"
    assert op.kind is SpanKind.INTERNAL
    assert op.attributes is not None
    assert op.attributes["scaledmail.operation"] == "get_orders"
    assert op.attributes["scaledmail.outcome"] == "success"
    assert op.attributes["scaledmail.retries"] == 1
    assert op.status.status_code is StatusCode.UNSET
    first, second = children(rec, op)
    for attempt in (first, second):
        assert attempt.kind is SpanKind.CLIENT
        assert attempt.name == "GET /api/v1/orders"
        attributes = dict(attempt.attributes or {})
        assert set(attributes) <= HTTP_SPAN_ATTRIBUTES
        assert attributes["http.request.method"] == "GET"
        assert attributes["server.address"] == "127.0.0.1"
        assert attributes["server.port"] == int(fake.base_url.split(":")[2].split("/")[0])
        assert attributes["url.template"] == "/api/v1/orders"
        assert attributes["url.full"] == (
            f"{fake.base_url}/orders?organization_id={fake.organization_id}"
        )
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["http.response.status_code"] == 503
    assert first.attributes["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["http.request.resend_count"] == 1
    assert "error.type" not in second.attributes
    assert second.status.status_code is StatusCode.UNSET
    (retry,) = [e for e in op.events if e.name == "scaledmail.retry"]
    assert retry.attributes is not None
    assert retry.attributes["scaledmail.retry.reason"] == "503"
    assert retry.attributes["scaledmail.retry.attempt"] == 1
    assert retry.attributes["scaledmail.retry.delay"] == pytest.approx(0.25)  # 0.5 * base 0.5
    metrics = rec.metrics()
    ((retries, point),) = metrics["scaledmail.client.retries"]
    assert retries == {"scaledmail.operation": "get_orders", "error.type": "503"}
    assert point.value == 1
    statuses = sorted(
        (a.get("http.response.status_code"), a.get("error.type"), p.count)
        for a, p in metrics["http.client.request.duration"]
    )
    assert statuses == [(200, None, 1), (503, "503", 1)]


async def test_429_pause_is_an_event_and_a_metric(fake: FakeScaledmail, rec: Recorder) -> None:
    fake.faults.add("status", operation="get_packages", status=429, retry_after=2)
    async with client_of(fake, rec) as client:
        await client.get_packages()
    (op,) = rec.named("scaledmail ")
    events = {e.name: dict(e.attributes or {}) for e in op.events}
    assert events["scaledmail.rate_limited"] == {
        "scaledmail.rate_limit.group": "global",
        "scaledmail.limiter.pause.duration": pytest.approx(2.0),
        "scaledmail.retry_after": pytest.approx(2.0),
    }
    assert events["scaledmail.retry"]["scaledmail.retry.reason"] == "429"
    # The retry waited for the limiter's pause (the injected sleep: no real time).
    wait = events["scaledmail.limiter.wait"]
    assert wait["scaledmail.limiter.backend"] == "pause_only"
    assert wait["scaledmail.priority"] == "interactive"
    assert wait["scaledmail.rate_limit.group"] == "global"
    waited = wait["scaledmail.limiter.wait.duration"]
    assert isinstance(waited, float) and waited > 0
    assert [e.name for e in op.events] == [
        "scaledmail.rate_limited",
        "scaledmail.retry",
        "scaledmail.limiter.wait",
    ]
    first, second = children(rec, op)
    assert first.attributes is not None and first.attributes["error.type"] == "429"
    assert second.attributes is not None and second.attributes["http.request.resend_count"] == 1
    metrics = rec.metrics()
    ((pauses, point),) = metrics["scaledmail.limiter.pauses"]
    assert pauses == {
        "scaledmail.rate_limit.group": "global",
        "scaledmail.limiter.backend": "pause_only",
    }
    assert point.value == 1
    ((waits, histogram),) = metrics["scaledmail.limiter.wait.duration"]
    assert waits["scaledmail.limiter.backend"] == "pause_only"
    assert histogram.count == 1  # the attempt that waited (the first did not)
    assert histogram.sum > 0


async def test_spend_carries_its_tag_on_the_span_and_its_outcome(
    fake: FakeScaledmail, rec: Recorder
) -> None:
    async with client_of(fake, rec, max_retries=0) as client:
        await client.create_custom_order(provider="buy", body=custom_body("otel-a.com", "otel-1"))
        fake.faults.add("reset_after", operation="create_custom_order")
        with pytest.raises(OutcomeUnknownError):
            await client.create_custom_order(
                provider="buy", body=custom_body("otel-b.com", "otel-2")
            )
    applied, unknown = rec.named("scaledmail ")
    assert applied.attributes is not None and unknown.attributes is not None
    assert applied.name == "scaledmail create_custom_order"
    assert applied.attributes["scaledmail.spends_money"] is True
    assert applied.attributes["scaledmail.purchase.tag"] == "otel-1"
    assert applied.attributes["scaledmail.purchase.state"] == "applied"
    assert applied.attributes["scaledmail.outcome"] == "success"
    assert unknown.attributes["scaledmail.purchase.tag"] == "otel-2"
    assert unknown.attributes["scaledmail.purchase.state"] == "unknown"
    assert unknown.attributes["scaledmail.outcome"] == "outcome_unknown"
    assert unknown.attributes["error.type"] == "OutcomeUnknownError"
    (attempt,) = children(rec, unknown)
    assert attempt.name == "POST /api/v1/create-custom-order"
    assert attempt.attributes is not None
    assert "http.response.status_code" not in attempt.attributes
    assert attempt.attributes["error.type"] in {"ServerDisconnectedError", "ClientOSError"}
    purchases = sorted(
        (a["scaledmail.purchase.state"], p.value) for a, p in rec.metrics()["scaledmail.purchases"]
    )
    assert purchases == [("applied", 1), ("unknown", 1)]
    # Tags are on the spend's span only: never in a metric, never on an attempt.
    metric_values = [
        v for _, points in rec.metrics().items() for a, _ in points for v in strings(a)
    ]
    assert not any("otel-" in v for v in metric_values)
    assert not any(
        "otel-" in v
        for s in rec.spans()
        if s.kind is SpanKind.CLIENT
        for v in strings(s.attributes)
    )


async def test_spend_charged_later_is_payment_pending(fake: FakeScaledmail, rec: Recorder) -> None:
    fake.faults.add("unable_to_charge", operation="create_custom_order")
    async with client_of(fake, rec) as client:
        with pytest.raises(PaymentPendingError):
            await client.create_custom_order(
                provider="buy", body=custom_body("otel-p.com", "otel-6")
            )
    (op,) = rec.named("scaledmail ")
    assert op.attributes is not None
    assert op.attributes["scaledmail.purchase.state"] == "payment_pending"
    assert op.attributes["error.type"] == "PaymentPendingError"
    ((attributes, point),) = rec.metrics()["scaledmail.purchases"]
    assert attributes["scaledmail.purchase.state"] == "payment_pending" and point.value == 1


async def test_spend_minted_tag_is_on_the_span(fake: FakeScaledmail, rec: Recorder) -> None:
    async with client_of(fake, rec) as client:
        await client.create_custom_order(provider="buy", body=custom_body("otel-minted.com"))
    (op,) = rec.named("scaledmail ")
    assert op.attributes is not None
    assert str(op.attributes["scaledmail.purchase.tag"]).startswith("sm-")


async def test_404_is_an_error_on_both_spans(fake: FakeScaledmail, rec: Recorder) -> None:
    async with client_of(fake, rec) as client:
        with pytest.raises(NotFoundError):
            await client.get_order_details("recNoSuchOrder00")
    (op,) = rec.named("scaledmail ")
    assert op.attributes is not None
    assert op.status.status_code is StatusCode.ERROR
    assert op.status.description == "NotFoundError"
    assert op.attributes["error.type"] == "NotFoundError"
    assert op.attributes["scaledmail.outcome"] == "error"
    (exception,) = [e for e in op.events if e.name == "exception"]
    assert exception.attributes is not None
    assert exception.attributes["exception.type"] == "scaledmail_async.errors.NotFoundError"
    assert "HTTP 404" in str(exception.attributes["exception.message"])
    (attempt,) = children(rec, op)
    assert attempt.name == "GET /api/v1/orders/{order_id}"
    assert attempt.attributes is not None
    assert attempt.attributes["url.template"] == "/api/v1/orders/{order_id}"
    assert attempt.attributes["http.response.status_code"] == 404
    assert attempt.attributes["error.type"] == "404"
    assert attempt.status.status_code is StatusCode.ERROR
    ((attributes, _),) = rec.metrics()["http.client.request.duration"]
    assert attributes["error.type"] == "404"
    assert attributes["http.response.status_code"] == 404


async def test_connection_drop_is_an_exception_type_then_a_retry(
    fake: FakeScaledmail, rec: Recorder
) -> None:
    fake.faults.add("reset_before", operation="get_domains")
    async with client_of(fake, rec) as client:
        await client.get_domains()
    (op,) = rec.named("scaledmail ")
    dropped, ok = children(rec, op)
    assert dropped.attributes is not None and ok.attributes is not None
    error_type = dropped.attributes["error.type"]
    assert error_type in {"ServerDisconnectedError", "ClientOSError"}
    assert "http.response.status_code" not in dropped.attributes
    assert dropped.status.status_code is StatusCode.ERROR
    assert ok.attributes["http.response.status_code"] == 200
    assert ok.attributes["http.request.resend_count"] == 1
    (retry,) = [e for e in op.events if e.name == "scaledmail.retry"]
    assert (
        retry.attributes is not None and retry.attributes["scaledmail.retry.reason"] == error_type
    )
    durations = rec.metrics()["http.client.request.duration"]
    assert sorted(str(a.get("error.type")) for a, _ in durations) == [error_type, "None"]


async def test_cancelled_spend_in_flight_is_unknown(fake: FakeScaledmail, rec: Recorder) -> None:
    fake.faults.add("delay", seconds=math.inf, operation="create_custom_order")
    async with client_of(fake, rec) as client:
        call = asyncio.ensure_future(
            client.create_custom_order(provider="buy", body=custom_body("otel-c.com", "otel-3"))
        )
        for _ in range(500):
            if fake.requests:
                break
            await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    (op,) = rec.named("scaledmail ")
    assert op.attributes is not None
    assert op.attributes["scaledmail.outcome"] == "cancelled"
    assert op.attributes["scaledmail.purchase.state"] == "unknown"
    assert not [e for e in op.events if e.name == "exception"]
    (attempt,) = children(rec, op)
    assert attempt.attributes is not None and attempt.attributes["error.type"] == "CancelledError"


async def test_request_has_no_template(fake: FakeScaledmail, rec: Recorder) -> None:
    async with client_of(fake, rec) as client:
        await client.request("GET", "/orders")
    (op,) = rec.named("scaledmail ")
    assert op.name == "scaledmail request"
    (attempt,) = children(rec, op)
    assert attempt.name == "GET"
    assert attempt.attributes is not None and "url.template" not in attempt.attributes


async def test_operation_span_is_a_child_of_the_current_span(
    fake: FakeScaledmail, rec: Recorder
) -> None:
    assert rec.telemetry.tracer_provider is not None
    tracer = rec.telemetry.tracer_provider.get_tracer("app")
    async with client_of(fake, rec) as client:
        with tracer.start_as_current_span("job") as job:
            await client.get_orders()
    (op,) = rec.named("scaledmail ")
    assert op.parent is not None and op.parent.span_id == job.get_span_context().span_id
    assert trace.get_current_span() is not job  # the call's context was detached


async def test_a_call_inside_an_except_block_is_a_success(
    fake: FakeScaledmail, rec: Recorder
) -> None:
    # The outcome is read from sys.exc_info() in the client's ``finally``: the exception the
    # caller is handling is not the call's.
    async with client_of(fake, rec) as client:
        try:
            raise KeyError("the caller's own")
        except KeyError:
            await client.get_orders()
    (op,) = rec.named("scaledmail ")
    assert op.attributes is not None
    assert op.attributes["scaledmail.outcome"] == "success"
    assert op.status.status_code is StatusCode.UNSET


async def test_suppressed_instrumentation_emits_nothing(
    fake: FakeScaledmail, rec: Recorder
) -> None:
    key = otel_context._SUPPRESS_INSTRUMENTATION_KEY
    async with client_of(fake, rec) as client:
        token = otel_context.attach(otel_context.set_value(key, True))
        try:
            await client.get_orders()
        finally:
            otel_context.detach(token)
    assert rec.spans() == []


async def test_attempts_suppress_generic_http_instrumentation(
    fake: FakeScaledmail, rec: Recorder
) -> None:
    # What opentelemetry-instrumentation-aiohttp-client checks before making its own span.
    seen: list[object] = []

    async def on_request_start(*_: object) -> None:
        seen.append(otel_context.get_value(otel_context._SUPPRESS_HTTP_INSTRUMENTATION_KEY))

    hooks = aiohttp.TraceConfig()
    hooks.on_request_start.append(on_request_start)
    async with client_of(fake, rec, trace_configs=[hooks]) as client:
        await client.get_orders()
    settings = attrs.evolve(rec.telemetry, suppress_http_instrumentation=False)
    async with client_of(fake, rec, trace_configs=[hooks], telemetry=settings) as client:
        await client.get_orders()
    assert seen == [True, None]


async def test_a_sampled_out_call_keeps_its_metrics_only(
    fake: FakeScaledmail, rec: Recorder
) -> None:
    exporter = InMemorySpanExporter()
    sampled_out = TracerProvider(sampler=ALWAYS_OFF)
    sampled_out.add_span_processor(SimpleSpanProcessor(exporter))
    settings = attrs.evolve(rec.telemetry, tracer_provider=sampled_out)
    fake.faults.add("status", operation="get_orders", status=503)
    async with client_of(fake, rec, telemetry=settings) as client:
        await client.get_orders()
    assert exporter.get_finished_spans() == ()
    metrics = rec.metrics()
    assert sum(p.count for _, p in metrics["http.client.request.duration"]) == 2
    ((_, retries),) = metrics["scaledmail.client.retries"]
    assert retries.value == 1


# ------------------------------------------------------------------------ secrets, metrics


async def test_the_api_key_is_never_exported(fake: FakeScaledmail, rec: Recorder) -> None:
    await run_faulted(fake, rec)
    async with client_of(fake, rec) as client:
        # Even a caller who puts the key in a query parameter does not export it.
        await client.get_orders(extra_query={"debug": fake.api_key})
    values = exported_strings(rec)
    assert any(fake.base_url in v for v in values)  # the collection saw the URLs
    assert not [v for v in values if fake.api_key in v]
    assert not [v for v in values if "SECRET" in v]
    (last,) = [s for s in rec.spans() if s.kind is SpanKind.CLIENT][-1:]
    assert last.attributes is not None
    assert str(last.attributes["url.full"]).endswith(f"&debug={REDACTED}")


async def test_metric_names_and_attributes_are_bounded(fake: FakeScaledmail, rec: Recorder) -> None:
    await run_faulted(fake, rec)
    metrics = rec.metrics()
    assert set(metrics) == set(METRICS)
    for name, points in metrics.items():
        for attributes, _ in points:
            assert set(attributes) <= METRICS[name], (name, attributes)
            for value in attributes.values():
                text = str(value)
                # No URL (only the spec's templates), no order or organization id, no tag,
                # no key.
                if "/" in text:
                    assert attributes.get("url.template") == text, (name, attributes)
                    assert text.startswith("/api/v1/") and "?" not in text, (name, attributes)
                assert not text.startswith(("rec", "sm-", "otel-", "sk_")), (name, attributes)
    retried = {
        (a["scaledmail.operation"], a["error.type"])
        for a, _ in metrics["scaledmail.client.retries"]
    }
    assert retried == {
        ("get_orders", "503"),
        ("get_packages", "429"),
        ("get_domains", "ClientOSError"),
    }
    ((_, pause),) = metrics["scaledmail.limiter.pauses"]
    assert pause.value == 1
    ((_, wait),) = metrics["scaledmail.limiter.wait.duration"]
    assert wait.count == 1  # only the attempt after the pause waited
    states = {(a["scaledmail.purchase.state"], p.value) for a, p in metrics["scaledmail.purchases"]}
    assert states == {("applied", 1), ("unknown", 1)}
    http = metrics["http.client.request.duration"]
    assert {a["url.template"] for a, _ in http} == {
        "/api/v1/orders",
        "/api/v1/packages",
        "/api/v1/orders/{order_id}",
        "/api/v1/domains",
        "/api/v1/create-custom-order",
    }
    assert sum(p.count for _, p in http) == 9  # every attempt of the faulted run


async def run_faulted(fake: FakeScaledmail, rec: Recorder) -> None:
    """A run that meets each fault once, under one application span ``job``."""
    assert rec.telemetry.tracer_provider is not None
    tracer = rec.telemetry.tracer_provider.get_tracer("app")
    fake.faults.add("status", operation="get_orders", status=503)
    fake.faults.add("status", operation="get_packages", status=429, retry_after=1)
    fake.faults.add("reset_before", operation="get_domains")
    async with client_of(fake, rec) as client:
        with tracer.start_as_current_span("job"):
            await client.get_orders()
            await client.get_packages()
            with pytest.raises(NotFoundError):
                await client.get_order_details("recNoSuchOrder00")
            await client.get_domains()
            await client.create_custom_order(
                provider="buy", body=custom_body("otel-d.com", "otel-4")
            )
            fake.faults.add("reset_after", operation="create_custom_order")
            with pytest.raises(OutcomeUnknownError):
                await client.create_custom_order(
                    provider="buy", body=custom_body("otel-e.com", "otel-5")
                )


# ------------------------------------------------------------------- the printed span list

#: The attributes shown per span kind in the printed list.
_SHOWN = {
    SpanKind.INTERNAL: (
        "scaledmail.outcome",
        "error.type",
        "scaledmail.retries",
        "scaledmail.purchase.tag",
        "scaledmail.purchase.state",
    ),
    SpanKind.CLIENT: ("http.response.status_code", "error.type", "http.request.resend_count"),
}


def span_list(rec: Recorder) -> list[str]:
    """The spans as an indented tree (children and events in time order), one line each."""
    spans = rec.spans()
    lines: list[str] = []

    def show(span: ReadableSpan, depth: int) -> None:
        attributes = dict(span.attributes or {})
        shown = " ".join(
            f"{k.rsplit('.', 1)[-1] if k != 'error.type' else k}={attributes[k]}"
            for k in _SHOWN.get(span.kind, ())
            if k in attributes
        )
        status = " [ERROR]" if span.status.status_code is StatusCode.ERROR else ""
        kind = span.kind.name
        lines.append(f"{'  ' * depth}{kind:<8} {span.name}{status}  {shown}".rstrip())
        items: list[tuple[int, Any]] = [(c.start_time or 0, c) for c in children(rec, span)]
        items += [(e.timestamp, e) for e in span.events if e.name != "exception"]
        for _, item in sorted(items, key=lambda pair: pair[0]):
            if isinstance(item, ReadableSpan):
                show(item, depth + 1)
            else:
                details = " ".join(
                    f"{k.rsplit('.', 1)[-1]}={_short(v)}"
                    for k, v in (item.attributes or {}).items()
                )
                lines.append(f"{'  ' * (depth + 1)}{'event':<8} {item.name}  {details}")

    for root in [s for s in spans if s.parent is None]:
        show(root, 0)
    return lines


def _short(value: object) -> str:
    return f"{value:.3g}s" if isinstance(value, float) else str(value)


async def test_span_list_of_a_faulted_run(fake: FakeScaledmail, rec: Recorder) -> None:
    await run_faulted(fake, rec)
    lines = span_list(rec)
    print("\n" + "\n".join(lines))
    names = [line.split()[0:2] for line in lines]
    assert names[0] == ["INTERNAL", "job"]
    kinds = [line.split()[0] for line in lines]
    assert kinds.count("INTERNAL") == 7  # the job and six calls
    assert kinds.count("CLIENT") == 9
    assert sum(1 for line in lines if "scaledmail.retry " in line) == 3
    assert sum(1 for line in lines if "scaledmail.rate_limited" in line) == 1
    assert any("tag=otel-4" in line and "state=applied" in line for line in lines)
    assert any("tag=otel-5" in line and "state=unknown" in line for line in lines)


# -------------------------------------------------------------------- switching it on / off


async def test_instrument_a_client_made_elsewhere_and_its_views(
    fake: FakeScaledmail, rec: Recorder
) -> None:
    async with client_of(fake, rec, telemetry=None) as client:
        assert not scaledmail_async.otel.is_instrumented(client)
        await client.get_orders()
        assert rec.spans() == []
        scaledmail_async.otel.instrument(
            client.with_options(timeout=5),
            tracer_provider=rec.telemetry.tracer_provider,
            meter_provider=rec.telemetry.meter_provider,
        )
        assert scaledmail_async.otel.is_instrumented(client)
        await client.with_options(max_retries=0).get_orders()
        assert [s.name for s in rec.spans()] == ["scaledmail get_orders", "GET /api/v1/orders"]
        scaledmail_async.otel.uninstrument(client)
        await client.get_orders()
    assert len(rec.spans()) == 2


def test_bad_telemetry_settings_are_refused(api_key: str) -> None:
    with pytest.raises(ConfigurationError, match="telemetry must be True"):
        ScaledmailClient(api_key, telemetry="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="expected a ScaledmailClient"):
        scaledmail_async.otel.instrument(object())


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_does_not_import_opentelemetry() -> None:
    proc = _run(
        """
        import sys
        import scaledmail_async, scaledmail_async.testing, scaledmail_async.bulk
        from scaledmail_async import ScaledmailClient
        client = ScaledmailClient("sk_test_import", rate_limit=None)
        client = ScaledmailClient("sk_test_import", telemetry=None)
        client = ScaledmailClient("sk_test_import", telemetry=False)
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        import scaledmail_async.otel
        print("opentelemetry" in sys.modules)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "True"]


def test_telemetry_without_the_extra_says_how_to_install_it() -> None:
    proc = _run(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed
        from scaledmail_async import ConfigurationError, ScaledmailClient
        try:
            ScaledmailClient("sk_test_import", telemetry=True)
        except ConfigurationError as exc:
            print(exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'scaledmail-async[otel]'" in proc.stdout
