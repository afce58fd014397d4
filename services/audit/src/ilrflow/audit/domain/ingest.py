"""Turn any Kafka record into an ``AuditEntry``, whatever state it is in.

The audit log is the place people go when something went wrong, so poison records (random bytes,
missing headers, bad JSON, a payload that breaks its contract) are stored like any other, with
what could not be understood listed in ``problems``. ``entry_from_record`` never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ilrflow.audit.domain.records import (
    EPOCH,
    AuditEntry,
    DeadLetterInfo,
    StoredBytes,
    StoredHeader,
    entry_id,
    json_object,
    normalise_time,
)
from ilrflow.contracts.events import CATALOGUE, EventType, Topics, from_wire
from ilrflow.platform import lanes

DLT_SUFFIX = ".dlt"
DLT_HEADER_PREFIX = "dlt_"
MAX_PROBLEM_LENGTH = 500
NUL = "\x00"

HeaderValue = bytes | str | None


def entry_from_record(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    headers: Mapping[str, HeaderValue],
    value: bytes | None,
    timestamp_ms: int | None,
) -> AuditEntry:
    """Build the entry for one record; parse problems are noted on it, never raised."""
    try:
        return _parse(topic, partition, offset, key, headers, value, timestamp_ms)
    except Exception as error:  # the record must still be stored; say why it is bare
        problems = [_clip(f"unexpected parse failure: {error!r}")]
        return _bare_entry(topic, partition, offset, key, headers, value, timestamp_ms, problems)


def base_topic(topic: str) -> str:
    """``tracker-raised.dlt`` and ``lane-acme.tracker-raised`` -> ``tracker-raised``; other
    topics are returned unchanged."""
    return lanes.base_topic(topic).removesuffix(DLT_SUFFIX)


def is_dead_letter_topic(topic: str) -> bool:
    return topic.endswith(DLT_SUFFIX)


def _bare_entry(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    headers: Mapping[str, HeaderValue],
    value: bytes | None,
    timestamp_ms: int | None,
    problems: list[str],
) -> AuditEntry:
    recorded_at, _ = _record_time(timestamp_ms)
    return AuditEntry(
        id=entry_id(topic, partition, offset),
        topic=topic,
        partition=partition,
        offset=offset,
        key=None if key is None else StoredBytes.of(key),
        headers=_stored_headers(headers),
        value=None if value is None else StoredBytes.of(value),
        recorded_at=recorded_at,
        time=recorded_at or EPOCH,
        problems=problems,
    )


def _parse(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    headers: Mapping[str, HeaderValue],
    value: bytes | None,
    timestamp_ms: int | None,
) -> AuditEntry:
    problems: list[str] = []
    texts = _header_texts(headers, problems)
    recorded_at, time_problem = _record_time(timestamp_ms)
    event_time = _event_time(texts.get("ce_time"), problems)
    if event_time is None and time_problem:
        problems.append(time_problem)  # only a problem when the entry has no time at all
    payload = _check_value(topic, texts, value, problems)
    dead_letter = _dead_letter_info(topic, texts, problems)
    event_type = texts.get("ce_type")
    return AuditEntry(
        id=entry_id(topic, partition, offset),
        topic=topic,
        partition=partition,
        offset=offset,
        key=None if key is None else StoredBytes.of(key),
        headers=_stored_headers(headers),
        value=None if value is None else StoredBytes.of(value),
        recorded_at=recorded_at,
        time=event_time or recorded_at or EPOCH,
        event_id=texts.get("ce_id"),
        event_type=event_type,
        source=texts.get("ce_source"),
        event_time=event_time,
        tenant=texts.get("ce_tenant"),
        subject=texts.get("ce_subject"),
        learner_id=_learner_of(payload, event_type, texts.get("ce_subject")),
        tracker_id=_text_field(payload, "tracker_id"),
        actor=texts.get("ce_actor"),
        correlation_id=texts.get("ce_correlationid"),
        causation_id=texts.get("ce_causationid"),
        dead_letter=dead_letter,
        problems=[_clip(p) for p in problems],
    )


def _stored_headers(headers: Mapping[str, HeaderValue]) -> list[StoredHeader]:
    stored = [
        StoredHeader(name=storable(str(name)), value=None if raw is None else StoredBytes.of(raw))
        for name, raw in headers.items()
    ]
    return sorted(stored, key=lambda header: header.name)


def _header_texts(headers: Mapping[str, HeaderValue], problems: list[str]) -> dict[str, str]:
    """Header values as text for parsing; non-UTF-8 bytes and NUL characters are noted and read
    with replacements (the stored headers keep the original bytes)."""
    texts: dict[str, str] = {}
    for name, raw in headers.items():
        text = _as_text(str(name), raw, problems)
        if text and NUL in text:
            problems.append(f"header {storable(str(name))} holds a NUL character")
        if text:
            texts[storable(str(name))] = storable(text)
    return texts


def storable(text: str) -> str:
    """``text`` with each NUL character replaced by U+FFFD. PostgreSQL's ``jsonb`` (FerretDB's
    storage on that backend) refuses U+0000 in any string, so a poison record's text carrying
    one could never be stored; the record's bytes themselves are kept exactly (``StoredBytes``
    turns bytes with a NUL into base64)."""
    return text.replace(NUL, "\ufffd")


def _as_text(name: str, raw: HeaderValue, problems: list[str]) -> str | None:
    if not isinstance(raw, bytes):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"header {name} is not UTF-8")
        return raw.decode("utf-8", errors="replace")


def _record_time(timestamp_ms: int | None) -> tuple[datetime | None, str | None]:
    if timestamp_ms is None:
        return None, "record has no timestamp"
    try:
        return normalise_time(EPOCH + timedelta(milliseconds=timestamp_ms)), None
    except (OverflowError, ValueError, TypeError):
        return None, f"record timestamp {timestamp_ms!r} is out of range"


def _event_time(text: str | None, problems: list[str]) -> datetime | None:
    if text is None:
        return None
    try:
        return normalise_time(datetime.fromisoformat(text))
    except (ValueError, OverflowError):
        problems.append(f"ce_time {text!r} is not an ISO 8601 time")
        return None


def _check_value(
    topic: str, texts: dict[str, str], value: bytes | None, problems: list[str]
) -> dict[str, Any] | None:
    """Run the same contract check consumers run; return the payload as far as it is readable."""
    if value is None and base_topic(topic) in Topics.COMPACTED:
        return None  # a tombstone: compaction's delete marker, not a fault
    try:
        from_wire(texts, value)
    except Exception as error:  # any failure of the contract is a finding, not a crash
        problems.append(str(error) or type(error).__name__)
    event_type = texts.get("ce_type")
    entry = CATALOGUE.get(event_type or "")
    if entry is not None and entry.topic != base_topic(topic):
        problems.append(f"event type {event_type} does not belong on {base_topic(topic)}")
    return _json_object(value, problems)


def _json_object(value: bytes | None, problems: list[str]) -> dict[str, Any] | None:
    if value is None:
        return None
    payload = json_object(value)
    if payload is None:
        problems.append("value is not a JSON object")
    return payload


def _dead_letter_info(
    topic: str, texts: dict[str, str], problems: list[str]
) -> DeadLetterInfo | None:
    """Dead letters, and re-driven records that still carry ``dlt_*`` headers, say where from."""
    has_dlt_headers = any(name.startswith(DLT_HEADER_PREFIX) for name in texts)
    if not is_dead_letter_topic(topic) and not has_dlt_headers:
        return None
    if is_dead_letter_topic(topic) and "dlt_original_topic" not in texts:
        problems.append("dead letter without dlt_original_topic")
    return DeadLetterInfo(
        original_topic=texts.get("dlt_original_topic"),
        original_partition=_int_header(texts, "dlt_original_partition", problems),
        original_offset=_int_header(texts, "dlt_original_offset", problems),
        reason=texts.get("dlt_reason"),
        error_class=texts.get("dlt_error_class"),
        consumer_group=texts.get("dlt_consumer_group"),
    )


def _int_header(texts: dict[str, str], name: str, problems: list[str]) -> int | None:
    text = texts.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        problems.append(f"header {name} is not an integer: {text!r}")
        return None


def _learner_of(
    payload: dict[str, Any] | None, event_type: str | None, subject: str | None
) -> str | None:
    """The learner an event is about: from the payload when it says, else the subject."""
    learner = payload.get("learner") if payload else None
    nested_id = _text_field(learner, "id") if isinstance(learner, dict) else None
    from_payload = _text_field(payload, "learner_id") or nested_id
    if from_payload:
        return from_payload
    # The subject of a staff event is staff, of an audit read its reader, of a client's the client,
    # of a settings change the settings.
    return None if event_type in _SUBJECT_IS_NOT_A_LEARNER else subject


_SUBJECT_IS_NOT_A_LEARNER = frozenset(
    {
        EventType.STAFF_UPDATED,
        EventType.AUDIT_ACCESSED,
        EventType.API_CLIENT_CHANGED,
        EventType.API_CLIENT_TOKEN_ISSUED,
        EventType.API_CLIENT_TOKEN_REFUSED,
        EventType.TRACKER_SETTINGS_CHANGED,
        EventType.ILR_SETTINGS_CHANGED,
    }
)


def _text_field(payload: dict[str, Any] | None, name: str) -> str | None:
    found = payload.get(name) if payload else None
    return storable(found) if isinstance(found, str) else None


def _clip(problem: str) -> str:
    problem = storable(problem)
    return problem if len(problem) <= MAX_PROBLEM_LENGTH else problem[:MAX_PROBLEM_LENGTH] + "…"
