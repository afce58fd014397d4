"""Trace context from the span that writes an event, through the outbox and the wire, to the
consumer's span and the events its handler writes; trace ids on log lines; the file exporter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from consumer_doubles import RecordingBroker, group, processed_event
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ilrflow.contracts.events import Envelope, event_from_document, from_wire, to_wire
from ilrflow.platform.outbox import outbox_update
from ilrflow.platform.tracing import (
    JsonLinesSpanExporter,
    add_trace_ids,
    batch_consumer_spans,
    current_traceparent,
)

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    # The global provider can be set once per process; every test here shares this one.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider(resource=Resource.create({"service.name": "ilrflow-test"}))
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def tracer() -> trace.Tracer:
    return trace.get_tracer("test")


def ids(span: Any) -> tuple[str, str]:
    context = span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def parent_of(traceparent: str | None) -> tuple[str, str]:
    """(trace id, span id) of a W3C traceparent ``00-<trace>-<span>-<flags>``."""
    assert traceparent is not None
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


def stored(event: Any) -> Envelope[Any]:
    [document] = outbox_update([event])["$push"]["outbox"]["$each"]
    return event_from_document(document)


def test_an_event_written_inside_a_span_carries_its_traceparent_to_the_wire(
    spans: InMemorySpanExporter,
) -> None:
    with tracer().start_as_current_span("POST /v1/trackers/{id}/process") as span:
        event = stored(processed_event())
    trace_id, span_id = ids(span)
    assert parent_of(event.traceparent) == (trace_id, span_id)
    _, headers, value = to_wire(event)
    assert headers["traceparent"] == event.traceparent
    assert from_wire({k: v.encode() for k, v in headers.items()}, value).traceparent == (
        event.traceparent
    )


def test_outside_any_span_nothing_is_stored() -> None:
    assert current_traceparent() is None
    assert stored(processed_event()).traceparent is None
    _, headers, _ = to_wire(stored(processed_event()))
    assert "traceparent" not in headers


async def test_a_consumer_continues_the_writers_trace_and_passes_it_on(
    spans: InMemorySpanExporter,
) -> None:
    with tracer().start_as_current_span("POST /v1/trackers/{id}/process") as http:
        event = stored(processed_event())
    key, headers, value = to_wire(event)
    written: list[Envelope[Any]] = []

    async def handler(received: Any) -> None:
        written.append(stored(received.model_copy(update={"traceparent": None})))

    outcome = await group(handler, RecordingBroker()).handle_record(
        headers={k: v.encode() for k, v in headers.items()},
        value=value,
        key=key,
        partition=0,
        offset=7,
    )
    assert outcome == "done"
    [consumer] = [s for s in spans.get_finished_spans() if s.name == "tracker-processed process"]
    assert consumer.kind == trace.SpanKind.CONSUMER
    assert consumer.parent is not None
    assert consumer.parent.span_id == http.get_span_context().span_id
    assert ids(consumer)[0] == ids(http)[0]
    assert consumer.attributes is not None
    assert consumer.attributes["ilrflow.outcome"] == "done"
    # What the handler writes continues from the consumer's span.
    assert parent_of(written[0].traceparent) == ids(consumer)


def test_log_lines_carry_the_active_trace_and_span(spans: InMemorySpanExporter) -> None:
    assert "trace_id" not in add_trace_ids(None, "info", {})
    with tracer().start_as_current_span("work") as span:
        line = add_trace_ids(None, "info", {"event": "x"})
    assert (line["trace_id"], line["span_id"]) == ids(span)


def test_a_batch_gets_one_span_per_traced_record(spans: InMemorySpanExporter) -> None:
    with tracer().start_as_current_span("writer") as writer:
        traced = {"traceparent": current_traceparent() or ""}
    batch_consumer_spans("ilr-updated", [traced, {"ce_id": b"x"}], started_ns=1)
    [span] = [s for s in spans.get_finished_spans() if s.name == "ilr-updated process"]
    assert ids(span)[0] == ids(writer)[0]


def test_the_file_exporter_writes_one_json_line_per_span(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    with tracer().start_as_current_span("parent"), tracer().start_as_current_span("child"):
        pass
    path = tmp_path / "spans" / "tracker.jsonl"
    JsonLinesSpanExporter(path).export(spans.get_finished_spans())
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    child, parent = lines
    assert (child["name"], parent["name"]) == ("child", "parent")
    assert child["trace_id"] == parent["trace_id"]
    assert child["parent_id"] == parent["span_id"]
    assert parent["parent_id"] is None
