"""Building the ILR learner record from the learner master record and an enrolment.

domain.md §3.2 (learner fields, PostcodePrior), §3.4 (employment status on the first day),
§3.5-§3.6 (the ZPROG001 programme aim, ACT). The learner service has already validated the
snapshot, so values the ILR cannot hold are dropped (or become the ILR's "unknown") rather than
refused: an enrolment must always produce a record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from ilrflow.contracts.events import Address, Enrolment, LearnerSnapshot
from ilrflow.ilr_engine import normalise
from ilrflow.ilr_engine.records import (
    Aim,
    EmploymentStatus,
    Esm,
    Fam,
    IlrLearner,
    Learner,
    dump,
    load,
)

PROGRAMME_AIM_REF = "ZPROG001"
FUND_MODEL_APPRENTICESHIPS = 36
PROG_TYPE_STANDARD = 25
CLOSED_STATUSES = frozenset({2, 3})  # completed or withdrawn: the learner has left that programme


def learner_from_enrolment(
    learner: LearnerSnapshot, enrolment: Enrolment, existing: IlrLearner | None
) -> IlrLearner:
    """The ILR record after ``enrolment``: a new record, or ``existing`` with one more programme.

    Enrolling again with the same enrolment id changes nothing but the learner's personal fields
    (the aim carries the enrolment id in ``SWSupAimId``), so redelivered events are harmless.
    """
    record = load(existing) if existing is not None else _new_record(learner)
    _refresh_personal_fields(record, learner)
    aim_id = _software_aim_id(enrolment.id)
    if any(aim.SWSupAimId == aim_id for aim in record.LearningDelivery):
        return dump(record)
    if existing is not None and _progressing_to_new_programme(record):
        record.PostcodePrior = record.Postcode  # PostcodePrior moves only with a new programme [D7]
    _ensure_employment_on_first_day(record, enrolment)
    record.LearningDelivery.append(_programme_aim(enrolment, record, aim_id))
    return dump(record)


def _new_record(learner: LearnerSnapshot) -> Learner:
    postcode = _postcode(learner.address)
    return Learner(
        LearnRefNumber=normalise.learn_ref_number(learner.id),
        ULN=normalise.uln_for_ilr(learner.uln),
        PostcodePrior=postcode,
        Postcode=postcode,
    )


def _refresh_personal_fields(record: Learner, learner: LearnerSnapshot) -> None:
    record.ULN = normalise.uln_for_ilr(learner.uln)
    record.GivenNames = _or_none(
        lambda v: normalise.clean_name(v, "GivenNames"), learner.given_names
    )
    record.FamilyName = _or_none(
        lambda v: normalise.clean_name(v, "FamilyName"), learner.family_name
    )
    record.DateOfBirth = learner.date_of_birth
    record.Postcode = _postcode(learner.address)
    lines = _address_lines(learner.address)
    record.AddLine1, record.AddLine2, record.AddLine3, record.AddLine4 = lines
    record.TelNo = _or_none(normalise.clean_phone, learner.phone)
    record.Email = _or_none(normalise.clean_email, learner.email)


def _or_none(clean: Callable[[str], str], value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return clean(value)
    except normalise.InvalidFieldError:
        return None


def _postcode(address: Address | None) -> str:
    if address is None:
        return normalise.UNKNOWN_POSTCODE
    try:
        return normalise.clean_postcode(address.postcode)
    except normalise.InvalidFieldError:
        return normalise.UNKNOWN_POSTCODE


def _address_lines(address: Address | None) -> list[str | None]:
    cleaned: list[str] = []
    for line in address.lines if address else []:
        try:
            cleaned.append(normalise.clean_address_line(line))
        except normalise.InvalidFieldError:
            continue
    return [*cleaned[:4], *[None] * (4 - len(cleaned[:4]))]


def _progressing_to_new_programme(record: Learner) -> bool:
    aims = record.LearningDelivery
    return bool(aims) and all(aim.CompStatus in CLOSED_STATUSES for aim in aims)


def _ensure_employment_on_first_day(record: Learner, enrolment: Enrolment) -> None:
    """Every apprentice needs an EmpStat 10 record applying on the first day [D36]."""
    wanted = employment_status(
        enrolment.start_date, normalise.emp_id(enrolment.employer.ern), enrolment.weekly_hours
    )
    current = record.status_on(enrolment.start_date)
    if current is not None and _same_employment(current, wanted):
        return
    record.LearnerEmploymentStatus = [
        s for s in record.LearnerEmploymentStatus if s.DateEmpStatApp != enrolment.start_date
    ]  # one status per date [D9]: the enrolment's is the one that applies on its first day
    record.LearnerEmploymentStatus.append(wanted)
    record.LearnerEmploymentStatus.sort(key=lambda s: s.DateEmpStatApp)


def employment_status(
    day: date, employer_id: int, weekly_hours: float, *, employer_changed: bool = False
) -> EmploymentStatus:
    monitoring = [Esm(ESMType="EII", ESMCode=normalise.eii_band(weekly_hours))]
    if employer_changed:
        monitoring.append(Esm(ESMType="OET", ESMCode=3))  # OET 3 "employer has changed" [D12]
    return EmploymentStatus(
        EmpStat=10, DateEmpStatApp=day, EmpId=employer_id, EmploymentStatusMonitoring=monitoring
    )


def _same_employment(current: EmploymentStatus, wanted: EmploymentStatus) -> bool:
    return (
        current.EmpStat == 10
        and current.EmpId == wanted.EmpId
        and current.esm_code("EII") == wanted.esm_code("EII")
    )


def _programme_aim(enrolment: Enrolment, record: Learner, aim_id: str) -> Aim:
    return Aim(
        LearnAimRef=PROGRAMME_AIM_REF,
        AimType=1,
        AimSeqNumber=record.next_aim_seq_number(),
        LearnStartDate=enrolment.start_date,
        LearnPlanEndDate=enrolment.planned_end_date,
        FundModel=FUND_MODEL_APPRENTICESHIPS,
        PHours=enrolment.planned_otj_hours,
        ProgType=PROG_TYPE_STANDARD,
        StdCode=enrolment.standard_code,
        DelLocPostCode=normalise.UNKNOWN_POSTCODE,
        CompStatus=1,
        SWSupAimId=aim_id,
        LearningDeliveryFAM=[
            Fam(
                LearnDelFAMType="ACT", LearnDelFAMCode="1", LearnDelFAMDateFrom=enrolment.start_date
            )
        ],
    )


def _software_aim_id(enrolment_id: str) -> str:
    """SWSupAimId (<= 36 chars) carries the enrolment id; longer ids become a stable UUID."""
    if len(enrolment_id) <= 36 and enrolment_id.replace("-", "").isalnum():
        return enrolment_id
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ilrflow:enrolment:{enrolment_id}"))
