"""OpenTelemetry for the SDK (extra ``otel``: ``pip install 'scaledmail-async[otel]'``).

Turn it on per client, with the global providers or your own::

    client = ScaledmailClient(telemetry=True)
    client = ScaledmailClient(telemetry=Telemetry(tracer_provider=tp, meter_provider=mp))
    scaledmail_async.otel.instrument(client)  # a client made elsewhere

Each call is an INTERNAL span ``scaledmail <operation_id>`` with one CLIENT span per attempt
(stable HTTP client conventions, ``url.template`` from the spec, ``http.request.resend_count``),
limiter waits, 429 pauses and retries as span events, and metrics (``http.client.request.duration``
and ``scaledmail.*``). Importing this module imports ``opentelemetry``; ``import scaledmail_async``
never does. What is emitted: docs/guide/observability.md.
"""

from __future__ import annotations

from scaledmail_async._otel import SCOPE, Telemetry, instrument, is_instrumented, uninstrument

__all__ = ["SCOPE", "Telemetry", "instrument", "is_instrumented", "uninstrument"]
