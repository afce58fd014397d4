"""The ESFA ILR ``Message`` XML for a collection year (domain.md §1 item 5, §3.1).

Elements are written in the order the models declare them, which is the XSD sequence order.
Only elements valid in both 2024/25 and 2025/26 are modelled (no ContactPreference, FworkCode or
PwayCode), so the year decides the namespace, the Year value and which learners and aims belong
in the file. Uses the standard library so the services need no XML dependency at run time.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from ilrflow.ilr_engine.records import Aim, IlrLearner, Learner, load

NAMESPACES = {"2425": "ESFA/ILR/2024-25", "2526": "ESFA/ILR/2025-26"}
# From 2025/26 an apprenticeship aim's ConRefNumber carries the Employer Agreement ID [D39];
# before, the field was collected for Skills Bootcamps only.
FIRST_YEAR_WITH_AGREEMENT_ID = "2526"
OUTCOME_NOT_YET_KNOWN = 8
SOFTWARE = {"SoftwareSupplier": "ilrflow", "SoftwarePackage": "ilrflow", "Release": "1"}

# Required by the XSD. The learner service captures them for every learner it creates now (Sex
# required, Ethnicity 99 and LLDDHealthProb 9 when not given), so only records stored before it
# did lack them; these keep such a file schema-valid. 99 and 9 are the ILR's own "not provided"
# codes; Sex has no such code, so "U" is refused by ESFA's validation until the record is
# corrected.
PLACEHOLDERS_FOR_UNCOLLECTED: Mapping[str, object] = {
    "Ethnicity": 99,
    "Sex": "U",
    "LLDDHealthProb": 9,
}


def export_message(
    records: list[IlrLearner], *, ukprn: int, year: str, prepared: datetime, serial_no: int = 1
) -> bytes:
    """The UTF-8 ILR file for ``year`` ("2425" or "2526") holding the learners in that year."""
    namespace = NAMESPACES.get(year)
    if namespace is None:
        raise ValueError(f"no ILR schema for collection year {year!r}")
    in_year = learners_for_year(records, year)
    if year == "2526" and not in_year:
        raise ValueError("a 2025/26 ILR file must hold at least one learner")
    message = ET.Element("Message", {"xmlns": namespace})
    message.append(_header(year, ukprn, prepared, serial_no))
    _add(message, "LearningProvider", [("UKPRN", ukprn)])
    for learner in in_year:
        message.append(_element("Learner", learner))
    ET.indent(message)
    document: bytes = ET.tostring(message, encoding="UTF-8", xml_declaration=True)
    return document


def learners_for_year(records: list[IlrLearner], year: str) -> list[Learner]:
    """The learners of ``year``'s file exactly as they go into it (the year's aims and statuses,
    placeholders for fields not collected), in file order; what the export validation checks."""
    learners = [_for_year(load(record), year) for record in records]
    in_year = sorted((lr for lr in learners if lr is not None), key=lambda lr: lr.LearnRefNumber)
    return [_with_placeholders(learner) for learner in in_year]


def collection_year_bounds(year: str) -> tuple[date, date]:
    first = 2000 + int(year[:2])
    return date(first, 8, 1), date(first + 1, 7, 31)


def _for_year(learner: Learner, year: str) -> Learner | None:
    """The learner as the year's file returns them (aims started and statuses dated by the
    year's end), or None when nothing of theirs belongs in that year.

    A learner belongs in the year while any aim is live in it (:func:`_live_in`) or while they
    are on a break that neither a restart nor a withdrawal has ended by the year's end: the PSM
    says to keep returning a learner on a break until they return or are withdrawn [D33]. The
    aims closed earlier (e.g. the CompStatus 6 aims of a break) are returned with the rest.
    """
    first_day, last_day = collection_year_bounds(year)
    aims = [a for a in learner.LearningDelivery if a.LearnStartDate <= last_day]
    statuses = [s for s in learner.LearnerEmploymentStatus if s.DateEmpStatApp <= last_day]
    if year < FIRST_YEAR_WITH_AGREEMENT_ID:
        aims = [aim.model_copy(update={"ConRefNumber": None}) for aim in aims]
    in_year = learner.model_copy(
        update={"LearningDelivery": aims, "LearnerEmploymentStatus": statuses}
    )
    if in_year.aims_on_break() or any(_live_in(aim, first_day) for aim in aims):
        return in_year
    return None


def _live_in(aim: Aim, first_day: date) -> bool:
    """Learning on or after the year's first day, or an outcome not final before it: Outcome 8
    (learning complete, outcome not yet known; a standard's programme aim awaiting its end-point
    assessment) is returned each year until the outcome is recorded, and an AchDate in the year
    is reported in that year [D20][D21][D35]."""
    learning = aim.LearnActEndDate is None or aim.LearnActEndDate >= first_day
    outcome_pending = aim.Outcome == OUTCOME_NOT_YET_KNOWN
    achieved_in_year = aim.AchDate is not None and aim.AchDate >= first_day
    return learning or outcome_pending or achieved_in_year


def _with_placeholders(learner: Learner) -> Learner:
    missing = {k: v for k, v in PLACEHOLDERS_FOR_UNCOLLECTED.items() if getattr(learner, k) is None}
    return learner.model_copy(update=missing)


def _header(year: str, ukprn: int, prepared: datetime, serial_no: int) -> ET.Element:
    header = ET.Element("Header")
    _add(
        header,
        "CollectionDetails",
        [("Collection", "ILR"), ("Year", year), ("FilePreparationDate", prepared.date())],
    )
    source: list[tuple[str, Any]] = [
        ("ProtectiveMarking", "OFFICIAL-SENSITIVE-Personal"),
        ("UKPRN", ukprn),
        *SOFTWARE.items(),
        ("SerialNo", f"{serial_no:02d}"),
        ("DateTime", prepared.replace(microsecond=0, tzinfo=None)),
    ]
    _add(header, "Source", source)
    return header


def _add(parent: ET.Element, tag: str, children: list[tuple[str, Any]]) -> None:
    element = ET.SubElement(parent, tag)
    for name, value in children:
        ET.SubElement(element, name).text = _text(value)


def _element(tag: str, model: BaseModel) -> ET.Element:
    element = ET.Element(tag)
    for name in type(model).model_fields:
        _append_value(element, name, getattr(model, name))
    return element


def _append_value(parent: ET.Element, name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _append_value(parent, name, item)
    elif isinstance(value, BaseModel):
        parent.append(_element(name, value))
    else:
        ET.SubElement(parent, name).text = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
