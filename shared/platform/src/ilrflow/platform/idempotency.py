"""Idempotent consumers: the event id is recorded in the same single-document write as the effect.

An update filtered with ``not_yet_applied`` and carrying ``mark_applied`` matches nothing when the
event was applied before, so a redelivered event changes nothing.
"""

from __future__ import annotations

from typing import Any

APPLIED_FIELD = "applied_events"


def not_yet_applied(event_id: str) -> dict[str, Any]:
    return {APPLIED_FIELD: {"$ne": event_id}}


def mark_applied(event_id: str) -> dict[str, Any]:
    return {"$push": {APPLIED_FIELD: event_id}}


def was_applied(document: dict[str, Any], event_id: str) -> bool:
    return event_id in document.get(APPLIED_FIELD, [])
