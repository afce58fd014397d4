"""OpenTelemetry tracing: one trace from an HTTP call through Kafka to every consumer.

FastAPI makes the HTTP spans itself once a tracer provider is installed (its native telemetry:
a server span continuing the caller's ``traceparent``, then spans for dependencies, endpoint and
serialisation). The W3C ``traceparent`` of the span that writes an event is stored with the
event in the outbox (the relay publishes later, outside any request) and travels as the record's
``traceparent`` header; a consumer continues the trace from it, and the events its handler
writes carry the consumer's span on. Export is off unless ``ILRFLOW_OTEL_EXPORTER`` names an
exporter; then nothing is recorded, though a consumer still passes an incoming trace on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ilrflow.platform.settings import Settings

TRACEPARENT = "traceparent"
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("ilrflow")


def configure_tracing(service: str, settings: Settings) -> TracerProvider | None:
    """Install the exporter ``settings.otel_exporter`` names (once per process)."""
    exporter = _exporter(service, settings)
    if exporter is None:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": f"ilrflow-{service}"}))
    processor = (
        SimpleSpanProcessor(exporter)
        if settings.otel_exporter == "file"
        else BatchSpanProcessor(exporter)
    )
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def _exporter(service: str, settings: Settings) -> SpanExporter | None:
    if settings.otel_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # An empty endpoint leaves OTEL_EXPORTER_OTLP_* (or the local collector) in charge.
        return OTLPSpanExporter(endpoint=settings.otel_endpoint or None)
    if settings.otel_exporter == "console":
        return ConsoleSpanExporter(service_name=f"ilrflow-{service}")
    if settings.otel_exporter == "file":
        return JsonLinesSpanExporter(Path(settings.otel_file.format(service=service)))
    return None


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, to store with an event written now."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


def _context_from(headers: Mapping[str, Any]) -> context.Context:
    text = {
        k.lower(): v.decode(errors="replace") if isinstance(v, bytes) else str(v)
        for k, v in headers.items()
    }
    return _propagator.extract(text)


@contextmanager
def consumer_span(topic: str, headers: Mapping[str, Any], **attributes: Any) -> Iterator[Span]:
    """A span for handling one record, a child of the span that wrote the event."""
    with _tracer.start_as_current_span(
        f"{topic} process",
        context=_context_from(headers),
        kind=SpanKind.CONSUMER,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic, **attributes},
    ) as span:
        yield span


def batch_consumer_spans(
    topic: str, records_headers: Sequence[Mapping[str, Any]], started_ns: int, **attributes: Any
) -> None:
    """For records handled together in one batch: one finished span per traced record, a child
    of the span that wrote it, covering the batch's time."""
    for headers in records_headers:
        if TRACEPARENT not in headers:
            continue  # no trace to continue: a root span per record would only be noise
        span = _tracer.start_span(
            f"{topic} process",
            context=_context_from(headers),
            kind=SpanKind.CONSUMER,
            start_time=started_ns,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                **attributes,
            },
        )
        span.end()


def add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: ``trace_id`` and ``span_id`` of the active span on every line."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict.setdefault("trace_id", format(span_context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(span_context.span_id, "016x"))
    return event_dict


class JsonLinesSpanExporter(SpanExporter):
    """One JSON object per finished span, appended to a file (for tests and quick looks)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(span)) + "\n" for span in spans)
        with self._lock, self._path.open("a") as file:
            file.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def span_record(span: ReadableSpan) -> dict[str, Any]:
    span_context = span.get_span_context()
    assert span_context is not None
    return {
        "name": span.name,
        "service": span.resource.attributes.get("service.name"),
        "kind": span.kind.name,
        "trace_id": format(span_context.trace_id, "032x"),
        "span_id": format(span_context.span_id, "016x"),
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }
