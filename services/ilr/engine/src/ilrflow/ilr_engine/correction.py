"""Correction: ULN, DateOfBirth, Sex and Ethnicity on the Learner entity, put right in place.

The ILR keeps no history of learner fields (domain.md §3.2); the tracker carries the reason and
the audit log keeps the before and after. The group and the primary tutor are the master
record's (the learner service's), not the ILR's: a correction of only those changes no ILR data.
"""

from __future__ import annotations

from typing import Any

from ilrflow.contracts.trackers import Correction
from ilrflow.ilr_engine.policy import IlrPolicy, Outcome, changed, unchanged
from ilrflow.ilr_engine.records import Learner


def ilr_values(changes: Correction) -> dict[str, Any]:
    """The ILR Learner fields the correction sets, as the ILR holds them."""
    values = {
        "ULN": int(changes.uln) if changes.uln is not None else None,
        "DateOfBirth": changes.date_of_birth,
        "Sex": changes.sex,
        "Ethnicity": changes.ethnicity,
    }
    return {field: value for field, value in values.items() if value is not None}


def before_and_after(record: Learner, changes: Correction) -> dict[str, dict[str, Any]]:
    """Each ILR field the correction changes: ``{"before", "after"}``."""
    return {
        field: {"before": getattr(record, field), "after": value}
        for field, value in ilr_values(changes).items()
        if getattr(record, field) != value
    }


def correction(record: Learner, changes: Correction, _: IlrPolicy) -> Outcome:
    if not ilr_values(changes):
        return unchanged("the group and the primary tutor are not ILR data")
    differing = before_and_after(record, changes)
    if not differing:
        return unchanged("the ILR already records these values")
    for field, values in differing.items():
        setattr(record, field, values["after"])
    corrected = "; ".join(f"{f} {v['before']} -> {v['after']}" for f, v in differing.items())
    return changed(f"corrected {corrected}")
