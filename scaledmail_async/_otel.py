"""OpenTelemetry instrumentation of a client (the ``otel`` extra: ``opentelemetry-api`` only).

Nothing imports this module unless instrumentation is asked for
(``ScaledmailClient(telemetry=True)``, ``ScaledmailClient(telemetry=Telemetry(...))`` or
:func:`instrument`): ``import scaledmail_async`` never imports ``opentelemetry``, and a client
without telemetry pays one ``is None`` check per hook. The public surface is
:mod:`scaledmail_async.otel`.

What an instrumented client emits (names and attributes: docs/guide/observability.md):

* one INTERNAL span per call, ``scaledmail <operation_id>`` (``scaledmail request`` for
  ``client.request``), made current for the call, with the operation, the outcome
  (``success`` / ``error`` / ``outcome_unknown`` / ``cancelled``), ``error.type`` (the SDK
  error class), the retries taken, the limiter wait, and for spends the order tag
  and the purchase state (``applied`` / ``payment_pending`` / ``not_applied`` / ``unknown``);
* one CLIENT span per attempt under it, named ``{method} {url.template}``, with the stable HTTP
  client conventions (semconv >= 1.23): ``http.request.method``, ``server.address``,
  ``server.port``, ``url.full`` (the SDK's display URL: secret query values redacted, the API key
  never present), ``url.template`` (the spec path under the base URL's path),
  ``http.response.status_code``, ``error.type`` (the status as a string, or the exception
  class), ``http.request.resend_count`` (from the second attempt on);
* events on the INTERNAL span: ``scaledmail.limiter.wait`` (a wait > 0 for the rate limiter),
  ``scaledmail.rate_limited`` (a 429 that paused the key), ``scaledmail.retry`` (each retry,
  its reason and delay), ``exception`` (the SDK error, its text redacted);
* metrics: ``http.client.request.duration`` (one measurement per attempt) and, under
  ``scaledmail.``, the limiter waits (attempts that waited), the 429 pauses, the retries and the
  purchase outcomes. Metric attributes are low-cardinality only: never a tag, an id, a URL or the
  key.

Cost: the OpenTelemetry SDK's own work dominates (a recorded span costs it ~15-30 us, a histogram
measurement ~14 us on the benchmark machine), so a call records the least that answers the
questions: two spans and one measurement in the common case (counters only on retries, pauses
and spends; no per-call histogram beyond the HTTP one). A span that does not record (no SDK, or
sampled out) skips its attributes, events and attempt spans (the attempts follow the operation's
sampling decision); its metrics are still recorded. Figures: ``bench/otel_overhead.py``.

How the pieces meet: the client's call hook (:meth:`Instrumentation.operation`) starts the
INTERNAL span, attaches an OpenTelemetry context holding it and sets a context variable to the
call's ``_Call`` record; the transport's hooks (limiter, attempt, 429, retry) find that
record there, so no signature between the client and the transport changes. The context also
carries the HTTP-instrumentation suppression flag (``suppress_http_instrumentation``), so an
application that also runs ``opentelemetry-instrumentation-aiohttp-client`` gets the SDK's
attempt spans instead of a duplicate, operation-blind span per request.

The trace context is not propagated to the API (no ``traceparent`` header): the Scaledmail
server takes no part in traces, and the SDK sends nothing it was not asked to.
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
import weakref
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Final

import attrs
from yarl import URL

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "OpenTelemetry instrumentation needs the opentelemetry-api package: "
        "pip install 'scaledmail-async[otel]'"
    ) from exc

from scaledmail_async._logging import logger
from scaledmail_async._version import __version__
from scaledmail_async.errors import (
    REDACTED,
    APIStatusError,
    ConfigurationError,
    OutcomeUnknownError,
    PaymentPendingError,
    ResponseDecodeError,
)

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.metrics import Counter, Histogram, MeterProvider
    from opentelemetry.trace import Span, Tracer, TracerProvider

    from scaledmail_async._client import ScaledmailClient
    from scaledmail_async._operation import Operation
    from scaledmail_async._transport import Transport

__all__ = [
    "SCOPE",
    "Instrumentation",
    "Telemetry",
    "check_telemetry",
    "instrument",
    "is_instrumented",
    "uninstrument",
]

#: The instrumentation scope (tracer and meter name).
SCOPE: Final = "scaledmail_async"

#: The advisory buckets of ``http.client.request.duration`` (semconv).
_HTTP_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
#: Limiter waits reach a critical window (60 s) and a 429's pause.
_WAIT_BUCKETS: Final = (
    0.005,
    0.01,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)
_KNOWN_METHODS: Final = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
#: What ends a call without it failing on its own.
_STOPPED: Final = (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt, SystemExit)

#: The API's suppression keys (``opentelemetry.context``; absent in old API releases).
_SUPPRESS_ALL: Final[str | None] = getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", None)
_SUPPRESS_HTTP: Final[str | None] = getattr(
    otel_context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None
)


@attrs.frozen(kw_only=True)
class Telemetry:
    """How a client reports to OpenTelemetry: ``ScaledmailClient(telemetry=Telemetry(...))``.

    ``telemetry=True`` is ``Telemetry()``: the global providers (whatever the application set with
    ``trace.set_tracer_provider`` / ``metrics.set_meter_provider``, or the OpenTelemetry SDK's
    auto-configuration; no-ops when none is set).

    Args:
        tracer_provider: the ``TracerProvider`` the spans go to (``None``: the global one).
        meter_provider: the ``MeterProvider`` the metrics go to (``None``: the global one).
        suppress_http_instrumentation: mark each call's context so that generic HTTP
            instrumentations (``opentelemetry-instrumentation-aiohttp-client``) do not add a
            second span per request under the SDK's own attempt spans (default ``True``).
    """

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    suppress_http_instrumentation: bool = True

    def _enable(self, client: ScaledmailClient) -> None:
        """Instrument ``client`` with these settings (replacing any it had)."""
        transport = client._transport
        transport.otel = Instrumentation(transport, client.base_url, self)


class _Instruments:
    """The instruments of one meter provider (created once: the SDK warns on duplicates)."""

    __slots__ = ("limiter_wait", "pauses", "purchases", "request_duration", "retries")

    def __init__(self, meter_provider: MeterProvider | None) -> None:
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self.request_duration: Histogram = _histogram(
            meter,
            "http.client.request.duration",
            "Duration of HTTP client requests (one per attempt).",
            _HTTP_BUCKETS,
        )
        self.limiter_wait: Histogram = _histogram(
            meter,
            "scaledmail.limiter.wait.duration",
            "Time an attempt waited for the client-side rate limiter (attempts that waited).",
            _WAIT_BUCKETS,
        )
        self.pauses: Counter = meter.create_counter(
            "scaledmail.limiter.pauses",
            unit="{pause}",
            description="429 answers that paused the key's requests.",
        )
        self.retries: Counter = meter.create_counter(
            "scaledmail.client.retries",
            unit="{retry}",
            description="Retries of SDK calls, by operation and reason.",
        )
        self.purchases: Counter = meter.create_counter(
            "scaledmail.purchases",
            unit="{purchase}",
            description="Spending calls, by operation and purchase state.",
        )


def _histogram(meter: Any, name: str, description: str, buckets: tuple[float, ...]) -> Histogram:
    try:
        histogram: Histogram = meter.create_histogram(
            name, unit="s", description=description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # opentelemetry-api < 1.23: no advisory buckets
        histogram = meter.create_histogram(name, unit="s", description=description)
    return histogram


_instruments: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()


def _instruments_of(meter_provider: MeterProvider | None) -> _Instruments:
    provider: Any = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    try:
        found = _instruments.get(provider)
    except TypeError:  # not weakly referenceable: not cached
        return _Instruments(provider)
    if found is None:
        found = _instruments[provider] = _Instruments(provider)
    return found


def _limiter_backend(limiter: object) -> str:
    name = type(limiter).__name__
    return {
        "InProcessLimiter": "in_process",
        "PauseOnlyLimiter": "pause_only",
        "RedisRateLimiter": "redis",
        "NoneType": "none",
    }.get(name, "custom")


class _OperationNames:
    """What is fixed per operation of one client: span names and the attributes every span and
    measurement of it starts with (built once)."""

    __slots__ = (
        "client_attributes",
        "client_name",
        "label",
        "method",
        "metric_attributes",
        "retry_attributes",
        "span_name",
        "spends",
        "start_attributes",
        "template",
    )

    def __init__(
        self,
        label: str,
        template: str | None,
        spends: bool,
        group: str | None,
        method: str,
        server: tuple[str, int],
    ) -> None:
        self.label = label
        self.template = template
        self.spends = spends
        self.span_name = f"scaledmail {label}"
        shown = _method(method)
        self.method = method
        self.client_name = f"{shown} {template}" if template is not None else shown
        start: dict[str, Any] = {"scaledmail.operation": label}
        if spends:
            start["scaledmail.spends_money"] = True
        if group is not None:
            start["scaledmail.rate_limit.group"] = group
        self.start_attributes = start
        metric: dict[str, Any] = {
            "http.request.method": shown,
            "server.address": server[0],
            "server.port": server[1],
        }
        if template is not None:
            metric["url.template"] = template
        self.metric_attributes = metric
        client = dict(metric)
        if shown == "_OTHER":
            client["http.request.method_original"] = method
        self.client_attributes = client
        self.retry_attributes: dict[str, dict[str, Any]] = {}


class _Call:
    """One instrumented call: its INTERNAL span, its context and what its attempts did."""

    __slots__ = (
        "attempt_span",
        "attempt_start",
        "attempts",
        "context",
        "in_attempt",
        "inherited",
        "instrumentation",
        "last_error",
        "names",
        "recording",
        "retries",
        "send_waited",
        "span",
        "token",
        "var_token",
        "waited",
    )

    def __init__(
        self, instrumentation: Instrumentation, names: _OperationNames, span: Span
    ) -> None:
        self.instrumentation = instrumentation
        self.names = names
        self.span = span
        #: Whether the span records (no SDK, or sampled out: only the metrics are kept, and the
        #: attempts follow the operation span's sampling decision).
        self.recording = span.is_recording()
        #: The exception being handled where the call started (not the call's own outcome).
        self.inherited = sys.exc_info()[1]
        self.context: Context | None = None
        self.token: Token[Context] | None = None
        self.var_token: Token[_Call | None] | None = None
        self.attempts = 0
        self.retries = 0
        self.waited = 0.0
        self.send_waited = 0.0
        self.last_error: str | None = None
        self.in_attempt = False
        self.attempt_span: Span | None = None
        self.attempt_start = 0.0

    def end(self) -> None:
        """End the call (from the client's ``finally``): its outcome is the exception in flight
        (``sys.exc_info()``), unless that is the one the caller was already handling."""
        exc = sys.exc_info()[1]
        if exc is self.inherited:
            exc = None
        try:
            if self.var_token is not None:
                _CURRENT.reset(self.var_token)
            if self.token is not None:
                otel_context.detach(self.token)
            self._finish(exc)
        except Exception:  # telemetry never changes a call's outcome
            logger.debug("OpenTelemetry: could not end the span of a call", exc_info=True)

    def _finish(self, exc: BaseException | None) -> None:
        inst = self.instrumentation
        names = self.names
        in_flight = self.in_attempt
        if in_flight:  # stopped during an attempt (cancelled, interrupted)
            inst.end_attempt(self, exc, None)
        state = _purchase_state(exc, in_flight) if names.spends else None
        if state is not None:
            inst.instruments.purchases.add(
                1, {"scaledmail.operation": names.label, "scaledmail.purchase.state": state}
            )
        if not self.recording:
            self.span.end()
            return
        span = self.span
        attributes: dict[str, Any] = {"scaledmail.retries": self.retries}
        if self.waited:
            attributes["scaledmail.limiter.wait.duration"] = self.waited
        if exc is None:
            attributes["scaledmail.outcome"] = "success"
        else:
            error_type = type(exc).__qualname__
            stopped = isinstance(exc, _STOPPED)
            attributes["scaledmail.outcome"] = (
                "cancelled"
                if stopped
                else "outcome_unknown"
                if isinstance(exc, OutcomeUnknownError)
                else "error"
            )
            attributes["error.type"] = error_type
            if not stopped:
                span.add_event("exception", inst.exception_attributes(exc))
            span.set_status(Status(StatusCode.ERROR, error_type))
        if state is not None:
            attributes["scaledmail.purchase.state"] = state
        span.set_attributes(attributes)
        span.end()


def _purchase_state(exc: BaseException | None, in_flight: bool) -> str:
    """A spend's outcome, by the purchase journal's rules (:mod:`scaledmail_async._purchases`):
    ``applied`` / ``payment_pending`` / ``not_applied`` / ``unknown``."""
    if exc is None:
        return "applied"
    if isinstance(exc, PaymentPendingError):
        return "payment_pending"
    if isinstance(exc, OutcomeUnknownError | ResponseDecodeError):
        return "unknown"
    if isinstance(exc, APIStatusError):
        return "not_applied" if exc.status_code < 500 else "unknown"
    if isinstance(exc, _STOPPED):
        return "unknown" if in_flight else "not_applied"
    # Raised before the request was written: validation, the journal, the limiter, a deadline,
    # a connection that could not be opened (after it, the transport raises OutcomeUnknownError).
    return "not_applied"


#: The current call of an instrumented client, for the transport's hooks (set and reset with the
#: OpenTelemetry context that makes the call's span current).
_CURRENT: ContextVar[_Call | None] = ContextVar("scaledmail_async_otel_call", default=None)


class Instrumentation:
    """The telemetry of one client: its tracer, instruments and the hooks the client and the
    transport call (each behind an ``is None`` check: nothing runs for a client without it)."""

    def __init__(self, transport: Transport, base_url: str, settings: Telemetry) -> None:
        self.settings = settings
        self.tracer: Tracer = trace.get_tracer(SCOPE, __version__, settings.tracer_provider)
        self.instruments = _instruments_of(settings.meter_provider)
        self._redact = transport.redact
        self._api_key = transport.api_key
        self._backend = _limiter_backend(transport.limiter)
        url = URL(base_url)
        self._server = (url.host or "", url.port or (443 if url.scheme == "https" else 80))
        self._base_path = url.path.rstrip("/")
        self._suppress_http = settings.suppress_http_instrumentation and _SUPPRESS_HTTP is not None
        self._names: dict[tuple[str, str], _OperationNames] = {}
        self._limiter_attributes: dict[tuple[str, str], dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<Instrumentation of {self._server[0]}:{self._server[1]}>"

    # -- the client's hooks ---------------------------------------------------------------

    def operation(self, op: Operation) -> _Call | None:
        """Start the INTERNAL span of a call of ``op`` and make it current; ``None`` when the
        application suppressed instrumentation in this context."""
        names = self._names.get((op.operation_id, ""))
        if names is None:
            names = self._names[(op.operation_id, "")] = _OperationNames(
                op.operation_id,
                self._base_path + op.path,
                op.spends_money,
                op.rate_limit_group,
                op.method,
                self._server,
            )
        return self._start(names)

    def request(self, method: str) -> _Call | None:
        """Start the INTERNAL span of a ``client.request(method, path)`` call (no template: the
        path is the caller's, of unknown cardinality)."""
        names = self._names.get(("", method))
        if names is None:
            names = self._names[("", method)] = _OperationNames(
                "request", None, False, None, method, self._server
            )
        return self._start(names)

    def _start(self, names: _OperationNames) -> _Call | None:
        try:
            return self._started(names)
        except Exception:  # telemetry never changes a call's outcome
            logger.debug("OpenTelemetry: could not start the span of a call", exc_info=True)
            return None

    def _started(self, names: _OperationNames) -> _Call | None:
        parent = otel_context.get_current()
        if _SUPPRESS_ALL is not None and parent.get(_SUPPRESS_ALL):
            return None
        span = self.tracer.start_span(
            names.span_name,
            context=parent,
            kind=SpanKind.INTERNAL,
            attributes=names.start_attributes,
        )
        call = _Call(self, names, span)
        ctx = trace.set_span_in_context(span, parent)
        if self._suppress_http:
            assert _SUPPRESS_HTTP is not None
            ctx = otel_context.set_value(_SUPPRESS_HTTP, True, ctx)
        call.context = ctx
        call.token = otel_context.attach(ctx)
        call.var_token = _CURRENT.set(call)
        return call

    # -- the transport's hooks ------------------------------------------------------------

    def limiter_waited(self, total: float, attempt: int, lane: str, group: str | None) -> None:
        """The limiter granted a slot; ``total`` is the send's wait so far (``attempt`` 0: the
        first of a send)."""
        call = _CURRENT.get()
        if call is None:
            return
        waited = total - (call.send_waited if attempt else 0.0)
        call.send_waited = total
        if waited <= 0.0:
            return
        call.waited += waited
        group_name = group or "global"
        key = (group_name, lane)
        attributes = self._limiter_attributes.get(key)
        if attributes is None:
            attributes = self._limiter_attributes[key] = {
                "scaledmail.rate_limit.group": group_name,
                "scaledmail.priority": lane,
                "scaledmail.limiter.backend": self._backend,
            }
        self.instruments.limiter_wait.record(waited, attributes)
        if call.recording:
            call.span.add_event(
                "scaledmail.limiter.wait",
                {**attributes, "scaledmail.limiter.wait.duration": waited},
            )

    def attempt_started(self, shown_url: str, tag: str | None) -> None:
        """An attempt is about to be written to ``shown_url`` (the display URL): start its
        CLIENT span (``tag``: a spend's order tag, set on the operation span)."""
        call = _CURRENT.get()
        if call is None:
            return
        resend = call.attempts
        call.attempts = resend + 1
        call.in_attempt = True
        if call.recording:
            names = call.names
            if resend == 0 and tag and names.spends:
                call.span.set_attribute("scaledmail.purchase.tag", tag)
            if self._api_key in shown_url:  # an extra_query value, say: never exported
                shown_url = shown_url.replace(self._api_key, REDACTED)
            attributes = {**names.client_attributes, "url.full": shown_url}
            if resend:
                attributes["http.request.resend_count"] = resend
            call.attempt_span = self.tracer.start_span(
                names.client_name, context=call.context, kind=SpanKind.CLIENT, attributes=attributes
            )
        call.attempt_start = time.perf_counter()

    def attempt_ended(self, failure: BaseException | None, status: int | None) -> None:
        """The attempt got an answer (``status``) or failed without one (``failure``)."""
        call = _CURRENT.get()
        if call is not None and call.in_attempt:
            self.end_attempt(call, failure, status)

    def end_attempt(self, call: _Call, failure: BaseException | None, status: int | None) -> None:
        """End the current attempt of ``call``: its span and its duration measurement."""
        elapsed = time.perf_counter() - call.attempt_start
        call.in_attempt = False
        metric = dict(call.names.metric_attributes)
        error_type: str | None = None
        if status is not None:
            metric["http.response.status_code"] = status
            if status >= 400:
                error_type = metric["error.type"] = str(status)
        else:
            error_type = metric["error.type"] = (
                type(failure).__qualname__ if failure is not None else "cancelled"
            )
        call.last_error = error_type
        span = call.attempt_span
        if span is not None:
            call.attempt_span = None
            if error_type is None:
                span.set_attribute("http.response.status_code", status)
            else:
                attributes: dict[str, Any] = {"error.type": error_type}
                if status is not None:
                    attributes["http.response.status_code"] = status
                    span.set_status(Status(StatusCode.ERROR))
                else:
                    span.set_status(Status(StatusCode.ERROR, error_type))
                span.set_attributes(attributes)
            span.end()
        self.instruments.request_duration.record(elapsed, metric)

    def rate_limited(self, pause: float, hint: float | None, group: str | None) -> None:
        """A 429 paused the key's requests (``group``: the critical group only) for ``pause``."""
        group_name = group or "global"
        self.instruments.pauses.add(
            1,
            {
                "scaledmail.rate_limit.group": group_name,
                "scaledmail.limiter.backend": self._backend,
            },
        )
        call = _CURRENT.get()
        if call is None or not call.recording:
            return
        attributes: dict[str, Any] = {
            "scaledmail.rate_limit.group": group_name,
            "scaledmail.limiter.pause.duration": pause,
        }
        if hint is not None:
            attributes["scaledmail.retry_after"] = hint
        call.span.add_event("scaledmail.rate_limited", attributes)

    def retrying(self, delay: float) -> None:
        """The call is retried after ``delay`` seconds (the limiter may wait longer)."""
        call = _CURRENT.get()
        if call is None:
            return
        call.retries += 1
        reason = call.last_error or "unknown"
        names = call.names
        attributes = names.retry_attributes.get(reason)
        if attributes is None:
            attributes = names.retry_attributes[reason] = {
                "scaledmail.operation": names.label,
                "error.type": reason,
            }
        self.instruments.retries.add(1, attributes)
        if call.recording:
            call.span.add_event(
                "scaledmail.retry",
                {
                    "scaledmail.retry.reason": reason,
                    "scaledmail.retry.delay": delay,
                    "scaledmail.retry.attempt": call.retries,
                },
            )

    # -- helpers ----------------------------------------------------------------------------

    def exception_attributes(self, exc: BaseException) -> dict[str, Any]:
        """The semconv ``exception`` event of ``exc``, with the API key redacted everywhere."""
        try:
            message = str(exc)
        except Exception:
            message = ""
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return {
            "exception.type": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "exception.message": self._redact(message),
            "exception.stacktrace": self._redact(stack),
            "exception.escaped": True,
        }


def _method(method: str) -> str:
    upper = method.upper()
    return upper if upper in _KNOWN_METHODS else "_OTHER"


# -- switching it on and off ----------------------------------------------------------------


def check_telemetry(telemetry: object) -> Telemetry:
    """``ScaledmailClient(telemetry=...)``, checked before the client is built: ``True`` (the
    global providers) or a :class:`Telemetry`."""
    if telemetry is True:
        return Telemetry()
    if isinstance(telemetry, Telemetry):
        return telemetry
    raise ConfigurationError(
        "telemetry must be True, a scaledmail_async.otel.Telemetry, or None/False for none; "
        f"got {type(telemetry).__name__}"
    )


def instrument(
    client: Any,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    suppress_http_instrumentation: bool = True,
) -> None:
    """Turn OpenTelemetry instrumentation on for ``client`` (a client made elsewhere: a
    fixture's, a library's), as ``ScaledmailClient(telemetry=Telemetry(...))`` would.

    Applies to the client's calls from now on, through every ``with_options()`` view of it;
    instrumenting it again replaces the settings. ``tracer_provider``/``meter_provider``:
    ``None`` for the global ones.
    """
    Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        suppress_http_instrumentation=suppress_http_instrumentation,
    )._enable(_client_of(client))


def uninstrument(client: Any) -> None:
    """Turn ``client``'s instrumentation off (calls in flight finish their spans)."""
    _client_of(client)._transport.otel = None


def is_instrumented(client: Any) -> bool:
    """Whether ``client`` (or the client of a ``with_options()`` view) is instrumented."""
    return _client_of(client)._transport.otel is not None


def _client_of(client: object) -> ScaledmailClient:
    from scaledmail_async._client import ScaledmailClient

    inner = getattr(client, "client", None) if not isinstance(client, ScaledmailClient) else client
    if not isinstance(inner, ScaledmailClient):
        raise ConfigurationError(
            f"expected a ScaledmailClient (or a with_options() view), got {type(client).__name__}"
        )
    return inner
