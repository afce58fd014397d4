"""The audit entry: one Kafka record, stored once, exactly as it arrived plus what could be parsed.

Raw bytes (key, header values, value) are kept losslessly as ``StoredBytes``: UTF-8 text when the
bytes are valid UTF-8 without NUL (readable in the database), base64 otherwise. Headers are a list of
name/value pairs sorted by name rather than a sub-document, because header names are
producer-controlled and may contain characters a document key may not (``$``, ``.``).

Every datetime is normalised to UTC with millisecond precision, the precision BSON stores, so an
entry read back from MongoDB or FerretDB is field-for-field the entry that was hashed.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, field_validator

SCHEMA_VERSION = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def normalise_time(value: datetime) -> datetime:
    """UTC, millisecond precision; a naive datetime (as PyMongo returns them) is taken as UTC."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)


class StoredBytes(BaseModel):
    """Bytes kept losslessly: UTF-8 text when possible, base64 otherwise."""

    model_config = ConfigDict(frozen=True)

    encoding: Literal["utf-8", "base64"]
    data: str

    @classmethod
    def of(cls, raw: bytes | str) -> StoredBytes:
        """Text when ``raw`` is UTF-8 without NUL (some document stores reject NUL in strings)."""
        data = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None or "\x00" in text:
            return cls(encoding="base64", data=base64.b64encode(data).decode("ascii"))
        return cls(encoding="utf-8", data=text)

    def to_bytes(self) -> bytes:
        if self.encoding == "utf-8":
            return self.data.encode("utf-8")
        try:
            return base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError):
            return b""  # only a tampered entry gets here; verification reports it

    def as_text(self) -> str:
        """Readable text: exact for UTF-8, with replacement characters for anything else."""
        return self.to_bytes().decode("utf-8", errors="replace")


class StoredHeader(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    value: StoredBytes | None


class DeadLetterInfo(BaseModel):
    """Where a dead letter came from and why, read from the ``dlt_*`` headers."""

    model_config = ConfigDict(frozen=True)

    original_topic: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    reason: str | None = None
    error_class: str | None = None
    consumer_group: str | None = None


class RecordCoordinates(NamedTuple):
    topic: str
    partition: int
    offset: int

    @property
    def entry_id(self) -> str:
        return entry_id(self.topic, self.partition, self.offset)


def entry_id(topic: str, partition: int, offset: int) -> str:
    """Kafka topic names cannot contain ':', so this id is unambiguous and natural."""
    return f"{topic}:{partition}:{offset}"


class AuditEntry(BaseModel):
    """One stored Kafka record. Everything but ``sequence``, ``prev_hash`` and ``hash`` is covered
    by the hash. ``sequence`` is the tenant's ingest sequence (``domain.sequence``), numbered when
    the entry was stored; entries without a tenant have none."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    id: str
    topic: str
    partition: int
    offset: int
    key: StoredBytes | None
    headers: list[StoredHeader]
    value: StoredBytes | None
    recorded_at: datetime | None
    time: datetime
    event_id: str | None = None
    event_type: str | None = None
    source: str | None = None
    event_time: datetime | None = None
    tenant: str | None = None
    subject: str | None = None
    learner_id: str | None = None
    tracker_id: str | None = None
    actor: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    dead_letter: DeadLetterInfo | None = None
    problems: list[str] = []
    duplicate_of: str | None = None
    sequence: int | None = None
    prev_hash: str | None = None
    hash: str | None = None

    @field_validator("recorded_at", "time", "event_time")
    @classmethod
    def _bson_precision(cls, value: datetime | None) -> datetime | None:
        return None if value is None else normalise_time(value)

    @property
    def coordinates(self) -> RecordCoordinates:
        return RecordCoordinates(self.topic, self.partition, self.offset)

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_of is not None

    def header(self, name: str) -> str | None:
        for header in self.headers:
            if header.name == name:
                return None if header.value is None else header.value.as_text()
        return None

    def payload(self) -> dict[str, Any] | None:
        """The value parsed as a JSON object, or None when it is not one."""
        return None if self.value is None else json_object(self.value.to_bytes())


def json_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` parsed as a JSON object, or None for anything else (never raises)."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested poison JSON
        return None
    return parsed if isinstance(parsed, dict) else None
