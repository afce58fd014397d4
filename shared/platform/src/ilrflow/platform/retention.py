"""How long each topic keeps its records: one deliberate choice per kind of topic (no I/O here).

What reads the history decides it (docs/operations.md, Retention):

- Event topics are the history. ``ilrflow projections rebuild`` and the audit service's catch-up
  of a new topic read them from the earliest offset, so they are kept for ever (no time or size
  limit); the broker's default of 7 days would make a later rebuild build from part of it.
- Compacted topics (``ilr-state``, ``reference-data``) keep the latest record of every key, which
  is all their readers (a downstream bootstrap, a rebuild) need.
- Dead-letter topics are a work queue for an operator: the audit service stores every dead letter
  as it arrives, and ``ilrflow dlt redrive`` acts on recent ones, so they are kept for 30 days.

Lane topics (``lane-<name>.<topic>``) follow the topic they carry.
"""

from __future__ import annotations

from ilrflow.contracts.events import Topics
from ilrflow.platform.lanes import base_topic

DEAD_LETTER_RETENTION_MS = 30 * 24 * 60 * 60 * 1000

KEPT_FOR_EVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
COMPACTED = {"cleanup.policy": "compact"}
DEAD_LETTERS = {
    "cleanup.policy": "delete",
    "retention.ms": str(DEAD_LETTER_RETENTION_MS),
    "retention.bytes": "-1",
}


def retention_configs(logical_topic: str) -> dict[str, str]:
    """The topic configs that set the retention of ``logical_topic`` (without the deployment's
    prefix, with or without a lane)."""
    topic = base_topic(logical_topic)
    if topic.endswith(".dlt"):
        return dict(DEAD_LETTERS)
    if topic in Topics.COMPACTED:
        return dict(COMPACTED)
    return dict(KEPT_FOR_EVER)


def configs_to_change(wanted: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """The wanted configs whose current value differs (empty: the topic is as it should be)."""
    return {name: value for name, value in wanted.items() if current.get(name) != value}
