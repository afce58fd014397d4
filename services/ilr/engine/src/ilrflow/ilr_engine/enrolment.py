"""Building the ILR learner record from the learner master record and an enrolment.

domain.md §3.2 (learner fields, PostcodePrior), §3.4 (employment status before the first day,
LOE, SEM), §3.5-§3.6 (the ZPROG001 programme aim, ACT, TNP prices). The learner service has
already validated the snapshot, so values the ILR cannot hold are dropped (or become the ILR's
"unknown") rather than refused: an enrolment must always produce a record. Snapshots and
enrolments from before the learner service captured the whole record lack sex, ethnicity, LLDD,
prior attainment, price and employment details; the record then simply lacks them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from ilrflow.contracts.events import Address, Enrolment, LearnerSnapshot, employment_date_before
from ilrflow.ilr_engine import normalise
from ilrflow.ilr_engine.records import (
    Aim,
    EmploymentStatus,
    Esm,
    Fam,
    FinRecord,
    IlrLearner,
    Learner,
    LlddProblem,
    PriorAttainment,
    dump,
    load,
)

PROGRAMME_AIM_REF = "ZPROG001"
FUND_MODEL_APPRENTICESHIPS = 36
PROG_TYPE_STANDARD = 25
CLOSED_STATUSES = frozenset({2, 3})  # completed or withdrawn: the learner has left that programme
PRIMARY_LLDD = 1
TOTAL_TRAINING_PRICE, TOTAL_ASSESSMENT_PRICE = 1, 2  # TNP1, TNP2 [D29]
SMALL_EMPLOYER = 1  # ESM SEM 1 [D10]
# SWSupAimId is a GUID: uuid5 in a namespace of ilrflow's own, so the same aim always gets the same.
SOFTWARE_AIM_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://ilrflow/SWSupAimId")


def learner_from_enrolment(
    learner: LearnerSnapshot, enrolment: Enrolment, existing: IlrLearner | None
) -> IlrLearner:
    """The ILR record after ``enrolment``: a new record, or ``existing`` with one more programme.

    Enrolling again with the same enrolment id changes nothing but the learner's personal fields
    (the aim's ``SWSupAimId`` is derived from the enrolment id; records stored before carry the
    id itself, which is recognised too), so redelivered events are harmless.
    """
    record = load(existing) if existing is not None else _new_record(learner)
    _refresh_personal_fields(record, learner)
    if any(aim.SWSupAimId in _ids_of_enrolment(enrolment.id) for aim in record.LearningDelivery):
        return dump(record)
    if existing is not None and _progressing_to_new_programme(record):
        record.PostcodePrior = record.Postcode  # PostcodePrior moves only with a new programme [D7]
    _record_prior_attainment(record, learner.prior_attainment, enrolment.start_date)
    _ensure_employment_before_start(record, enrolment)
    record.LearningDelivery.append(_programme_aim(enrolment, record))
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
    record.Sex = learner.sex
    record.Ethnicity = learner.ethnicity
    record.LLDDHealthProb = learner.lldd_health_problem
    record.NINumber = learner.ni_number
    record.LLDDandHealthProblem = _lldd_records(learner)


def _lldd_records(learner: LearnerSnapshot) -> list[LlddProblem]:
    """One LLDDandHealthProblem per category, the primary one marked PrimaryLLDD 1."""
    return [
        LlddProblem(
            LLDDCat=category,
            PrimaryLLDD=PRIMARY_LLDD if category == learner.primary_lldd else None,
        )
        for category in learner.lldd_categories
    ]


def _record_prior_attainment(record: Learner, level: int | None, start: date) -> None:
    """The level that applies to this programme, dated from its start [PSM: recording prior
    attainment]; a new record only when the level differs from the latest one."""
    latest = max(record.PriorAttain, key=lambda p: p.DateLevelApp, default=None)
    if level is None or (latest is not None and latest.PriorLevel == level):
        return
    record.PriorAttain = [p for p in record.PriorAttain if p.DateLevelApp != start]
    record.PriorAttain.append(PriorAttainment(PriorLevel=level, DateLevelApp=start))
    record.PriorAttain.sort(key=lambda p: p.DateLevelApp)


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


def _ensure_employment_before_start(record: Learner, enrolment: Enrolment) -> None:
    """Every apprentice needs an EmpStat 10 record that applies on the first day [D36], dated
    before it (EmpStat_09), with the length of employment (ESMType_09)."""
    employment = enrolment.employment
    day = employment.date_from if employment else employment_date_before(enrolment.start_date)
    wanted = employment_status(
        day,
        normalise.emp_id(enrolment.employer.ern),
        enrolment.weekly_hours,
        length_of_employment=employment.length_of_employment if employment else None,
        small_employer=employment.small_employer if employment else False,
    )
    current = record.status_on(employment_date_before(enrolment.start_date))
    if current is not None and _same_employment(current, wanted):
        return
    record.LearnerEmploymentStatus = [
        s for s in record.LearnerEmploymentStatus if s.DateEmpStatApp != day
    ]  # one status per date [D9]: the enrolment's is the one that applies on its first day
    record.LearnerEmploymentStatus.append(wanted)
    record.LearnerEmploymentStatus.sort(key=lambda s: s.DateEmpStatApp)


def employment_status(
    day: date,
    employer_id: int,
    weekly_hours: float,
    *,
    employer_changed: bool = False,
    length_of_employment: int | None = None,
    small_employer: bool = False,
) -> EmploymentStatus:
    monitoring = [Esm(ESMType="EII", ESMCode=normalise.eii_band(weekly_hours))]
    if length_of_employment is not None:
        monitoring.append(Esm(ESMType="LOE", ESMCode=length_of_employment))
    if small_employer:
        monitoring.append(Esm(ESMType="SEM", ESMCode=SMALL_EMPLOYER))
    if employer_changed:
        monitoring.append(Esm(ESMType="OET", ESMCode=3))  # OET 3 "employer has changed" [D12]
    return EmploymentStatus(
        EmpStat=10, DateEmpStatApp=day, EmpId=employer_id, EmploymentStatusMonitoring=monitoring
    )


def _same_employment(current: EmploymentStatus, wanted: EmploymentStatus) -> bool:
    return (
        current.EmpStat == 10
        and current.EmpId == wanted.EmpId
        and all(
            current.esm_code(esm_type) == wanted.esm_code(esm_type)
            for esm_type in ("EII", "LOE", "SEM")
        )
    )


def _programme_aim(enrolment: Enrolment, record: Learner) -> Aim:
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
        DelLocPostCode=_delivery_postcode(enrolment.delivery_postcode),
        ConRefNumber=enrolment.agreement_id,
        CompStatus=1,
        SWSupAimId=programme_aim_id(enrolment.id),
        LearningDeliveryFAM=[
            Fam(
                LearnDelFAMType="ACT", LearnDelFAMCode="1", LearnDelFAMDateFrom=enrolment.start_date
            )
        ],
        AppFinRecord=_prices(enrolment),
    )


def _delivery_postcode(postcode: str | None) -> str:
    if postcode is None:
        return normalise.UNKNOWN_POSTCODE
    try:
        return normalise.clean_postcode(postcode)
    except normalise.InvalidFieldError:
        return normalise.UNKNOWN_POSTCODE


def _prices(enrolment: Enrolment) -> list[FinRecord]:
    """TNP1 and TNP2, applying from the start (AFinDate = LearnStartDate)."""
    price = enrolment.price
    if price is None:
        return []
    return [
        FinRecord(AFinType="TNP", AFinCode=code, AFinDate=enrolment.start_date, AFinAmount=amount)
        for code, amount in (
            (TOTAL_TRAINING_PRICE, price.training),
            (TOTAL_ASSESSMENT_PRICE, price.assessment),
        )
    ]


def programme_aim_id(enrolment_id: str) -> str:
    """The programme aim's SWSupAimId: a GUID derived from the enrolment id, so it is the same in
    every version of the record."""
    return str(uuid.uuid5(SOFTWARE_AIM_NAMESPACE, f"enrolment:{enrolment_id}"))


def restarted_aim_id(learn_ref_number: str, old: Aim, seq: int) -> str:
    """The SWSupAimId of aim ``seq``, which restarts ``old`` after a break: a GUID of its own,
    derived from the old aim's (or, for an aim restarted before aims had one, from the learner
    and the old aim's sequence number)."""
    old_id = old.SWSupAimId or f"{learn_ref_number}:aim:{old.AimSeqNumber}"
    return str(uuid.uuid5(SOFTWARE_AIM_NAMESPACE, f"restart:{old_id}:{seq}"))


def _ids_of_enrolment(enrolment_id: str) -> set[str]:
    """Every SWSupAimId an enrolment's programme aim may carry: the GUID, and for records stored
    before it, the enrolment id itself or (ids the XSD could not hold) a URL-namespace uuid5."""
    legacy = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ilrflow:enrolment:{enrolment_id}"))
    return {programme_aim_id(enrolment_id), enrolment_id, legacy}
