"""Regenerate the committed API documents from the code: ``make docs``.

- ``docs/asyncapi.yaml``: AsyncAPI 3.0 for every topic, event type, payload schema, and which
  service publishes or consumes it (read from each service's bootstrap, not written by hand).
- ``docs/openapi/<service>.json``: each service's OpenAPI document.
- ``docs/tracker-catalogue.md``: every built-in tracker type, who may raise and process it, whether
  the ILR QA lock applies, and the fields of its ``changes`` (from the models the tracker service
  validates with).

``tests/contract/test_documents.py`` fails when the committed files and the code disagree.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from devstack import SERVICES

from ilrflow.contracts.events import CATALOGUE, CatalogueEntry, Topics, dead_letter_topic
from ilrflow.contracts.trackers import TRACKER_TYPES, TrackerTypeInfo, changes_schema
from ilrflow.platform.settings import Settings

DOCS = Path(__file__).resolve().parent


def service_apps() -> dict[str, Any]:
    settings = Settings(run_consumers=False)
    return {
        name: importlib.import_module(f"ilrflow.{name}.bootstrap").create_app(settings)
        for name in SERVICES
    }


def consumers_by_topic(apps: dict[str, Any]) -> dict[str, list[tuple[str, list[str]]]]:
    found: dict[str, list[tuple[str, list[str]]]] = {}
    for name, app in apps.items():
        for group in app.state.runtime.consumer_groups:
            found.setdefault(group.topic, []).append((name, sorted(group.handlers)))
    return found


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/messages/{name}"}


def asyncapi_document(apps: dict[str, Any]) -> dict[str, Any]:
    consumers = consumers_by_topic(apps)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event_type, entry in CATALOGUE.items():
        name = entry.payload.__name__
        schema = entry.payload.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
        messages[name] = {
            "name": event_type,
            "title": name,
            "summary": entry.summary,
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": {
                "kafka": {"key": {"type": "string", "description": key_description(entry)}}
            },
        }
    for topic in Topics.ALL:
        names = [e.payload.__name__ for e in CATALOGUE.values() if e.topic == topic]
        channel_messages = {n: _ref(n) for n in names}
        channels[topic] = {
            "address": topic,
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "partitions": 6,
                    "topicConfiguration": {
                        "cleanup.policy": ["compact" if topic in Topics.COMPACTED else "delete"]
                    },
                }
            },
        }
        channels[dead_letter_topic(topic)] = {
            "address": dead_letter_topic(topic),
            "description": (
                f"Records of {topic} that a consumer could not handle: the original key, value "
                "and headers plus dlt_original_topic/partition/offset, dlt_consumer_group, "
                "dlt_error_class and dlt_reason."
            ),
        }
        sources = sorted({e.source for e in CATALOGUE.values() if e.topic == topic})
        for source in sources:
            operations[f"{source}.publish.{topic}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{topic}"},
                "summary": f"The {source} service publishes through its outbox relay.",
                "messages": [
                    {"$ref": f"#/channels/{topic}/messages/{n}"}
                    for n in names
                    if CATALOGUE[_type_of(n)].source == source
                ],
            }
        for service, handled in consumers.get(topic, []):
            operations[f"{service}.consume.{topic}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{topic}"},
                "summary": f"The {service} service (group ilrflow.{service}.{topic}).",
                "messages": [
                    {"$ref": f"#/channels/{topic}/messages/{CATALOGUE[t].payload.__name__}"}
                    for t in handled
                ],
            }
    schemas["CloudEventHeaders"] = CLOUD_EVENT_HEADERS
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ilrflow events",
            "version": "1.0.0",
            "description": (
                "CloudEvents 1.0 in Kafka binary mode: attributes are ce_* headers, the payload is "
                "the JSON value, the key is <tenant>:<ce_subject> (the learner id but for staff "
                "and audit-access events: see each message's key). Generated by docs/generate.py."
            ),
        },
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "make run"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def key_description(entry: CatalogueEntry) -> str:
    """The record key of an event type, as ``<tenant>:<what its subject names>``."""
    return f"<tenant>:<{entry.subject}>"


def _type_of(payload_name: str) -> str:
    return next(t for t, e in CATALOGUE.items() if e.payload.__name__ == payload_name)


CLOUD_EVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": [
        "ce_specversion",
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_time",
        "ce_subject",
        "ce_tenant",
    ],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {"type": "string", "description": "Event id; consumers deduplicate on it."},
        "ce_type": {"type": "string", "description": "e.g. ilrflow.tracker.raised.v1"},
        "ce_source": {"type": "string", "description": "ilrflow/<service>"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {
            "type": "string",
            "description": "The learner id; a staff id for staff events; for audit-access "
            "events the learner read, else the reader (see each message's key).",
        },
        "ce_tenant": {"type": "string"},
        "ce_actor": {"type": "string", "description": "Who caused it (token subject)."},
        "ce_correlationid": {"type": "string", "description": "Shared by one whole story."},
        "ce_causationid": {"type": "string", "description": "The event that caused this one."},
        "traceparent": {
            "type": "string",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            "description": "W3C trace context of the span that wrote the event (OpenTelemetry).",
        },
        "content-type": {"const": "application/json"},
        "correlation_id": {
            "type": "string",
            "description": "Written by FastStream (the Kafka client library) on every record; "
            "always equal to ce_correlationid. Read ce_correlationid.",
        },
    },
}


def tracker_catalogue() -> str:
    lines = [
        "# Tracker catalogue",
        "",
        "Generated by `make docs` from `ilrflow.contracts.trackers.catalogue`; do not edit. Every",
        "type is off until a tenant admin enables it (`PUT /v1/tracker-types/{type}`), and a tenant",
        "may change who raises, edits and processes it. What processing does to the ILR:",
        "[ilr-rules.md](ilr-rules.md).",
        "",
        "| type | title | led by | raise (default) | process (default) | ILR QA lock |",
        "|---|---|---|---|---|---|",
    ]
    for info in TRACKER_TYPES.values():
        lines.append(
            f"| `{info.name}` | {info.title} | {'learner' if info.learner_led else 'staff'} "
            f"| {', '.join(sorted(info.default_raise_roles))} "
            f"| {', '.join(sorted(info.default_process_roles))} | {_qa_lock(info)} |"
        )
    for info in TRACKER_TYPES.values():
        lines += ["", f"## `{info.name}`", "", info.description, "", *_changes_fields(info)]
    return "\n".join(lines) + "\n"


def _qa_lock(info: TrackerTypeInfo) -> str:
    if info.programme_changing:
        return "yes"
    if info.qa_locked_fields:
        return "when it sets " + ", ".join(f"`{f}`" for f in sorted(info.qa_locked_fields))
    return "no"


def _changes_fields(info: TrackerTypeInfo) -> list[str]:
    schema = changes_schema(info)
    required = set(schema.get("required", []))
    rows = ["| field | required | type | description |", "|---|---|---|---|"]
    for name, field in schema.get("properties", {}).items():
        kind = field.get("type") or field.get("format") or _type_of_any(field)
        text = " ".join(str(field.get("description", "")).split()).replace("|", "\\|")
        rows.append(f"| `{name}` | {'yes' if name in required else 'no'} | {kind} | {text} |")
    return rows


def _type_of_any(field: dict[str, Any]) -> str:
    options = field.get("anyOf") or field.get("allOf") or []
    kinds = [
        o.get("format") or o.get("type") or o.get("$ref", "").rsplit("/", 1)[-1] for o in options
    ]
    return " or ".join(k for k in kinds if k) or "object"


def render() -> dict[Path, str]:
    apps = service_apps()
    files = {
        DOCS / "asyncapi.yaml": yaml.safe_dump(asyncapi_document(apps), sort_keys=False, width=100),
        DOCS / "tracker-catalogue.md": tracker_catalogue(),
    }
    for name, app in apps.items():
        files[DOCS / "openapi" / f"{name}.json"] = json.dumps(app.openapi(), indent=2) + "\n"
    return files


def main() -> int:
    for path, content in render().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        print(f"wrote {path.relative_to(DOCS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
