"""Prometheus metrics shared by every service (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter("ilrflow_events_published_total", "Events published", ["topic"])
DEAD_LETTERS = Counter(
    "ilrflow_dead_letters_total", "Records sent to a dead-letter topic", ["topic", "group"]
)
HANDLER_SECONDS = Histogram(
    "ilrflow_handler_seconds",
    "Time spent handling one Kafka record",
    ["topic", "group", "outcome"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_SECONDS = Histogram(
    "ilrflow_http_request_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_DEPTH = Gauge("ilrflow_outbox_depth", "Events written but not yet published")
OUTBOX_OLDEST_SECONDS = Gauge(
    "ilrflow_outbox_oldest_age_seconds",
    "Age of the oldest event written but not yet published (0 when the outbox is empty)",
)
CONSUMER_LAG = Gauge(
    "ilrflow_consumer_lag",
    "Records on a partition not yet read by this process's consumer (highwater - position)",
    ["topic", "group", "partition"],
)
