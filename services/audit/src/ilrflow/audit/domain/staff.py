"""The staff directory as the audit log learns it: who each staff id is, from the
``ilrflow.staff.updated.v1`` events it stores like any other.

Support reads "processed by admin A1" as "processed by admin Ada Admin (A1)": names are looked up
when a timeline or an export is read, so a renamed person shows their current name (the stored
events keep what was true at the time). The newest event for a person wins, by event time, so a
replayed or late older event does not undo a rename.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.summary import typed_payload
from ilrflow.contracts.events import StaffUpdated


class StaffName(NamedTuple):
    name: str
    time: datetime


StaffKey = tuple[str, str]  # (tenant, staff id)


def staff_names(entries: Iterable[AuditEntry]) -> dict[StaffKey, StaffName]:
    """The newest name of each member of staff the entries register or change. Dead letters and
    duplicate deliveries are left out: the first were never applied, the second repeat."""
    newest: dict[StaffKey, StaffName] = {}
    for entry in entries:
        if entry.tenant is None or entry.dead_letter or entry.is_duplicate:
            continue
        payload = typed_payload(entry)
        if isinstance(payload, StaffUpdated):
            key = (entry.tenant, payload.id)
            if key not in newest or newest[key].time <= entry.time:
                newest[key] = StaffName(payload.name, entry.time)
    return newest


def is_newer(candidate: StaffName, known: StaffName | None) -> bool:
    return known is None or candidate.time >= known.time
