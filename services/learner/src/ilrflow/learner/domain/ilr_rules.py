"""Which ESFA validation rules an enrolment would break, told before it is accepted.

The ILR engine builds the programme's ILR exactly as the ILR service will, and its rule check
(``ilrflow.ilr_engine.esfa_rules``) runs on it. Only breaches in the programme's own data count:
the learner's personal fields have rules too (Sex_01, PriorAttain_01), but those are the
learner's record, shown by the ILR's validation, not a reason to refuse the programme.
"""

from __future__ import annotations

from datetime import date

from ilrflow.contracts.errors import FieldProblem
from ilrflow.contracts.events import Enrolment, LearnerSnapshot
from ilrflow.ilr_engine import learner_from_enrolment
from ilrflow.ilr_engine.esfa_rules import validate

PROGRAMME_PARTS = ("/LearningDelivery", "/LearnerEmploymentStatus")
# The request field each ILR element comes from, so a problem points at what the caller sent.
REQUEST_FIELD_OF_ELEMENT = {
    "LearnStartDate": "start_date",
    "LearnPlanEndDate": "planned_end_date",
    "PHours": "planned_otj_hours",
    "StdCode": "standard_code",
    "AppFinRecord": "price",
    "DelLocPostCode": "delivery_postcode",
    "ConRefNumber": "agreement_id",
    "LearnerEmploymentStatus": "employment",
    "EmpId": "employer.ern",
}


def enrolment_breaches(
    learner: LearnerSnapshot, enrolment: Enrolment, *, today: date
) -> list[FieldProblem]:
    """The errors ESFA's rules would raise on the new programme, as problems with rule names."""
    record = learner_from_enrolment(learner, enrolment, None)
    problems = []
    for finding in validate(record, today=today).errors:
        if finding.path.startswith(PROGRAMME_PARTS):
            problems.append(
                FieldProblem(
                    field=_request_field(finding.path),
                    reason=f"{finding.rule}: {finding.message}",
                )
            )
    return problems


def _request_field(path: str) -> str:
    for element in reversed(path.strip("/").split("/")):
        if element in REQUEST_FIELD_OF_ELEMENT:
            return REQUEST_FIELD_OF_ELEMENT[element]
    return "enrolment"
