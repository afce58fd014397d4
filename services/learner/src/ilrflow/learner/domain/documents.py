"""The learner's compliance document (the training plan), versioned; no I/O here.

What the document says is worked out from two sources: the master record (the learner's name and
ULN, the employer of the current enrolment) and the current ILR record (the current programme
aim's standard, dates, planned off-the-job hours and price). A new version is made only when one
of those fields differs from the latest version, so a change that touches neither (an address, a
break in learning) makes none, and earlier versions are kept as they were issued. A version
awaits signature until both the learner and the employer have acknowledged it, unless a later one
has superseded it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ilrflow.contracts.errors import Conflict, NotFound
from ilrflow.contracts.events import DocumentParty, LearnerSnapshot
from ilrflow.ilr_engine.records import PROGRAMME_AIM_TYPE, Aim, FinRecord, load

DOCUMENT_TITLE = "Training plan"
PARTIES: tuple[DocumentParty, ...] = ("learner", "employer")
# TNP1 and TNP3 are training prices, TNP2 and TNP4 assessment prices (the 3 and 4 are the
# residual prices after a change of employer); the latest dated of each pair applies.
TRAINING_PRICE_CODES = frozenset({1, 3})
ASSESSMENT_PRICE_CODES = frozenset({2, 4})


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DocumentFields(_Frozen):
    """What the training plan states; a change to any of these makes a new version."""

    learner_name: str
    uln: str | None
    employer_name: str
    employer_ern: str
    standard_code: int | None
    start_date: date = Field(description="LearnStartDate of the current programme aim.")
    original_start_date: date | None = Field(
        description="OrigLearnStartDate: the first start, for a restart after a break."
    )
    planned_end_date: date = Field(description="LearnPlanEndDate of the current programme aim.")
    planned_otj_hours: int | None = Field(description="PHours.")
    training_price: int | None = Field(description="TNP1 (or TNP3), in pounds.")
    assessment_price: int | None = Field(description="TNP2 (or TNP4), in pounds.")


FIELD_LABELS: dict[str, str] = {
    "learner_name": "Apprentice",
    "uln": "Unique learner number",
    "employer_name": "Employer",
    "employer_ern": "Employer reference",
    "standard_code": "Apprenticeship standard",
    "start_date": "Start date",
    "original_start_date": "Original start date",
    "planned_end_date": "Planned end date",
    "planned_otj_hours": "Planned off-the-job training hours",
    "training_price": "Training price (GBP)",
    "assessment_price": "End-point assessment price (GBP)",
}


def document_fields(learner: LearnerSnapshot, ilr_record: dict[str, Any]) -> DocumentFields | None:
    """The training plan's fields, or None while the learner has no enrolment or programme aim."""
    aim = current_programme_aim(ilr_record)
    if aim is None or not learner.enrolments:
        return None
    employer = learner.enrolments[-1].employer
    return DocumentFields(
        learner_name=f"{learner.given_names} {learner.family_name}",
        uln=learner.uln,
        employer_name=employer.name,
        employer_ern=employer.ern,
        standard_code=aim.StdCode,
        start_date=aim.LearnStartDate,
        original_start_date=aim.OrigLearnStartDate,
        planned_end_date=aim.LearnPlanEndDate,
        planned_otj_hours=aim.PHours,
        training_price=_latest_price(aim.AppFinRecord, TRAINING_PRICE_CODES),
        assessment_price=_latest_price(aim.AppFinRecord, ASSESSMENT_PRICE_CODES),
    )


def current_programme_aim(ilr_record: dict[str, Any]) -> Aim | None:
    """The latest programme aim (after a return to learning, the restarted one)."""
    aims = [a for a in load(ilr_record).LearningDelivery if a.AimType == PROGRAMME_AIM_TYPE]
    return max(aims, key=lambda aim: aim.AimSeqNumber, default=None)


def _latest_price(records: list[FinRecord], codes: frozenset[int]) -> int | None:
    prices = [r for r in records if r.AFinType == "TNP" and r.AFinCode in codes]
    latest = max(prices, key=lambda r: r.AFinDate, default=None)
    return None if latest is None else latest.AFinAmount


def changed_fields(before: DocumentFields, after: DocumentFields) -> list[str]:
    names = DocumentFields.model_fields
    return [name for name in names if getattr(before, name) != getattr(after, name)]


class Acknowledgement(_Frozen):
    party: DocumentParty
    signatory: str = Field(description="The name of the person who signed.")
    recorded_by: str = Field(description="The learner, or the staff member who recorded it.")
    at: datetime


class DocumentVersion(_Frozen):
    id: str = Field(description="v1, v2, ...")
    version: int
    title: str = DOCUMENT_TITLE
    fields: DocumentFields
    changed_fields: list[str] = Field(description="What differs from the previous version.")
    caused_by_tracker: str | None = Field(
        description="The processed tracker that made it; None for an enrolment."
    )
    created_at: datetime
    pdf_sha256: str = Field(default="", description="The SHA-256 of the PDF as issued.")
    acknowledgements: list[Acknowledgement] = Field(default_factory=list)

    def awaiting(self) -> list[DocumentParty]:
        """The parties who have not acknowledged this version yet."""
        done = {a.party for a in self.acknowledgements}
        return [party for party in PARTIES if party not in done]


def version_id(version: int) -> str:
    return f"v{version}"


class LearnerDocuments(_Frozen):
    """One learner's training plan versions (oldest first) and the latest ILR record seen, which
    the versions are worked out from. A learner has a handful of versions (one per enrolment and
    per change to the plan), so they are kept together."""

    learner_id: str
    ilr_version: int = 0
    ilr_record: dict[str, Any] | None = None
    versions: list[DocumentVersion] = Field(default_factory=list)

    @property
    def latest(self) -> DocumentVersion | None:
        return self.versions[-1] if self.versions else None

    def needs_signature(self, version: DocumentVersion) -> bool:
        return version.version == len(self.versions) and bool(version.awaiting())

    def with_ilr(self, ilr_version: int, ilr_record: dict[str, Any]) -> LearnerDocuments:
        """Take a newer ILR record; an older or repeated one (a replay) is ignored."""
        if ilr_version <= self.ilr_version:
            return self
        return self.model_copy(update={"ilr_version": ilr_version, "ilr_record": ilr_record})

    def next_version(
        self, fields: DocumentFields, caused_by_tracker: str | None, at: datetime
    ) -> DocumentVersion | None:
        """The version ``fields`` call for, or None when they are what the latest one says."""
        latest = self.latest
        if latest is not None and latest.fields == fields:
            return None
        number = len(self.versions) + 1
        return DocumentVersion(
            id=version_id(number),
            version=number,
            fields=fields,
            changed_fields=[] if latest is None else changed_fields(latest.fields, fields),
            caused_by_tracker=caused_by_tracker,
            created_at=at,
        )

    def issued(self, version: DocumentVersion) -> LearnerDocuments:
        return self.model_copy(update={"versions": [*self.versions, version]})

    def find(self, document_id: str) -> DocumentVersion:
        found = next((v for v in self.versions if v.id == document_id), None)
        if found is None:
            raise NotFound.of("document", document_id)
        return found

    def acknowledged(
        self, document_id: str, acknowledgement: Acknowledgement
    ) -> tuple[LearnerDocuments, DocumentVersion]:
        """The documents with ``acknowledgement`` recorded on the version, and that version.
        Only the latest version can be acknowledged. Each party acknowledges once: a repeat
        (a retried request) changes nothing and the documents come back as they were."""
        version = self.find(document_id)
        if version.version != len(self.versions):
            raise Conflict(
                f"Document {document_id} was superseded by {self.versions[-1].id}; "
                "acknowledge the latest version.",
                code="document_superseded",
            )
        if acknowledgement.party not in version.awaiting():
            return self, version
        signed = version.model_copy(
            update={"acknowledgements": [*version.acknowledgements, acknowledgement]}
        )
        return self.model_copy(update={"versions": [*self.versions[:-1], signed]}), signed
