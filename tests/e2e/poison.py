"""The poison records the poison suite sends on every topic, each with the reason a consumer
gives for dead-lettering it: random bytes, random headers, a wrong schema, fields of the wrong
type, JSON nested too deeply to parse, an unknown event type, a missing tenant. Built from the
valid event they are sent in front of, so that each differs from it in one way only."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ilrflow.contracts.events import Envelope, types_on_topic
from tests.e2e.helpers import wire_record

Record = tuple[str, bytes, dict[str, bytes], bytes]


@dataclass
class Poison:
    kind: str
    record: Record
    reason: str  # what dlt_reason and the audit entry's problems must say
    offset: int = -1  # where it landed (set once produced)
    partition: int = -1


def poison_for(topic: str, valid: Envelope[Any], key: bytes) -> list[Poison]:
    _, _, headers, value = wire_record(valid)
    event_type = types_on_topic(topic)[0]

    def envelope(kind: str, **changes: bytes) -> dict[str, bytes]:
        # An id of its own per call: two suites sending poison never share an event id.
        return {**headers, "ce_id": f"poison-{kind}-{topic}-{valid.id}".encode(), **changes}

    without_tenant = {k: v for k, v in envelope("no-tenant").items() if k != "ce_tenant"}
    return [
        Poison(
            "random",
            (topic, key, {"content-type": b"application/json"}, b"\xff" + os.urandom(47)),
            "missing headers ce_id",
        ),
        Poison(
            "random-headers",
            (topic, key, {"ce_id": b"\xff\xfe\x00\x81", "\xff": os.urandom(8)}, os.urandom(48)),
            "missing headers ce_type",
        ),
        Poison(
            "wrong-schema",
            (topic, key, envelope("wrong-schema"), b'{"wrong": "schema"}'),
            f"payload does not match {event_type}",
        ),
        Poison(
            "wrong-types",
            (topic, key, envelope("wrong-types"), wrong_types(value)),
            f"payload does not match {event_type}",
        ),
        Poison(
            "deeply-nested",
            (topic, key, envelope("deeply-nested"), deeply_nested(value)),
            f"payload does not match {event_type}",
        ),
        Poison(
            "unknown-type",
            (topic, key, envelope("unknown-type", ce_type=b"ilrflow.unheard.of.v1"), value),
            "unknown event type 'ilrflow.unheard.of.v1'",
        ),
        Poison("no-tenant", (topic, key, without_tenant, value), "missing headers ce_tenant"),
    ]


def wrong_types(value: bytes) -> bytes:
    """The valid payload with every field wrapped in a list: the right names, the wrong types."""
    return json.dumps({name: [field] for name, field in json.loads(value).items()}).encode()


def deeply_nested(value: bytes, depth: int = 20_000) -> bytes:
    """The valid payload with one more field holding objects nested ``depth`` deep: more than
    Python's json (recursion limit 1,000) or pydantic's parser will follow."""
    payload = json.loads(value)
    nesting = b'{"a":' * depth + b"{}" + b"}" * depth
    return json.dumps(payload).encode()[:-1] + b', "nested": ' + nesting + b"}"
