"""Event contracts: the CloudEvents envelope, every payload, and which topic carries which type.

Producers and consumers import these same models. Events travel over Kafka in CloudEvents
binary mode: the envelope's attributes are ``ce_*`` headers, the payload is the JSON value, and
the record key is ``<tenant>:<learner>`` so that everything about one learner stays in order.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ilrflow.contracts.errors import PermanentError

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class Topics:
    TRACKER_RAISED = "tracker-raised"
    TRACKER_ALLOCATED = "tracker-allocated"
    TRACKER_PROCESSED = "tracker-processed"
    TRACKER_REJECTED = "tracker-rejected"
    TRACKER_CANCELLED = "tracker-cancelled"
    LEARNER_UPDATED = "learner-updated"
    LEARNER_DOCUMENTS = "learner-documents"
    ILR_UPDATED = "ilr-updated"
    ILR_STATE = "ilr-state"
    REFERENCE_DATA = "reference-data"
    AUDIT_ACCESS = "audit-access"
    AUDIT_CHECKPOINTS = "audit-checkpoints"
    API_CLIENTS = "api-clients"
    TENANT_SETTINGS = "tenant-settings"

    ALL: tuple[str, ...] = (
        TRACKER_RAISED,
        TRACKER_ALLOCATED,
        TRACKER_PROCESSED,
        TRACKER_REJECTED,
        TRACKER_CANCELLED,
        LEARNER_UPDATED,
        LEARNER_DOCUMENTS,
        ILR_UPDATED,
        ILR_STATE,
        REFERENCE_DATA,
        AUDIT_ACCESS,
        AUDIT_CHECKPOINTS,
        API_CLIENTS,
        TENANT_SETTINGS,
    )
    COMPACTED: frozenset[str] = frozenset({ILR_STATE, REFERENCE_DATA, AUDIT_CHECKPOINTS})


PLATFORM_TENANT = "_platform"
"""``ce_tenant`` of platform-wide events (reference data, the same for every tenant). It is not a
valid tenant id (those start with a letter or digit), so no tenant's key or audit trail meets it."""
OTJ_MINIMUMS_SUBJECT = "otj-minimums"
TRACKER_SETTINGS_SUBJECT = "tracker-settings"
ILR_SETTINGS_SUBJECT = "ilr-settings"
"""``ce_subject`` of a tenant's tracker settings events: their key is ``<tenant>:tracker-settings``."""
"""``ce_subject`` of the minimum OTJ table's events: with ``PLATFORM_TENANT``, one compacted key."""


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlt"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- learner service -------------------------------------------------------------------------


class Address(Payload):
    lines: list[str] = Field(min_length=1, max_length=4)
    postcode: str


class EmployerRef(Payload):
    ern: str
    name: str


class Price(Payload):
    """The total negotiated price agreed at the start, in whole pounds (AppFinRecord TNP1, TNP2)."""

    training: int
    assessment: int


class Employment(Payload):
    """The employment status that applies when the programme starts."""

    date_from: date = Field(description="DateEmpStatApp: before the start (EmpStat_09).")
    length_of_employment: int = Field(description="ESM LOE code 1-4.")
    small_employer: bool = Field(default=False, description="ESM SEM 1 when true.")


def employment_date_before(start: date) -> date:
    """The date of an employment status given without one: the day before the programme starts,
    because ESFA's EmpStat_09 wants a status dated strictly before LearnStartDate."""
    return start - timedelta(days=1)


class Enrolment(Payload):
    """An enrolment on an apprenticeship standard. Enrolments made before the learner service
    captured price, employment, agreement id and delivery postcode have them as None."""

    id: str
    standard_code: int
    start_date: date
    planned_end_date: date
    employer: EmployerRef
    weekly_hours: float
    planned_otj_hours: int
    price: Price | None = None
    employment: Employment | None = None
    agreement_id: str | None = Field(default=None, description="Employer Agreement ID.")
    delivery_postcode: str | None = None


class LearnerSnapshot(Payload):
    """The learner's master record as the learner service holds it after the change. Learners
    created before the service captured sex, ethnicity, LLDD, NI number and prior attainment have
    them as None (and no LLDD categories)."""

    id: str
    given_names: str
    family_name: str
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None
    uln: str | None = None
    address: Address | None = None
    group: str | None = None
    primary_tutor_id: str | None = None
    sex: Literal["F", "M"] | None = None
    ethnicity: int | None = Field(default=None, description="ILR Ethnicity code.")
    lldd_health_problem: int | None = Field(
        default=None, description="ILR LLDDHealthProb: 1, 2, 9."
    )
    lldd_categories: list[int] = Field(default_factory=list, description="ILR LLDDCat codes.")
    primary_lldd: int | None = Field(default=None, description="The primary LLDDCat.")
    ni_number: str | None = None
    prior_attainment: int | None = Field(default=None, description="ILR PriorLevel code.")
    enrolments: list[Enrolment] = Field(default_factory=list)


class LearnerUpdated(Payload):
    change: Literal["created", "changed", "enrolled"]
    learner: LearnerSnapshot
    changed_fields: list[str] = Field(default_factory=list)
    enrolment_id: str | None = None
    tracker_id: str | None = None


class StaffUpdated(Payload):
    id: str
    name: str
    email: str
    roles: list[str]
    groups: list[str]


DocumentParty = Literal["learner", "employer"]


class DocumentIssued(Payload):
    """A new version of the learner's training plan was produced and awaits signature: at
    enrolment, or because a processed tracker (``tracker_id``) changed one of its fields."""

    learner_id: str
    document_id: str = Field(description="The version's id, e.g. v2.")
    version: int
    title: str
    changed_fields: list[str] = Field(description="The fields that differ from the last version.")
    tracker_id: str | None = Field(default=None, description="The tracker that caused it.")
    pdf_sha256: str


class DocumentAcknowledged(Payload):
    """The learner, or staff recording the employer's, acknowledged one version of the training
    plan (an e-signature stand-in): the PDF acknowledged is the one with ``pdf_sha256``."""

    learner_id: str
    document_id: str
    version: int
    party: DocumentParty
    acknowledged_by: str = Field(description="Who recorded it: the learner, or a staff member.")
    signatory: str = Field(description="The name of the person who signed.")
    pdf_sha256: str


# --- tracker service -------------------------------------------------------------------------


class TrackerRaised(Payload):
    tracker_id: str
    learner_id: str
    tracker_type: str
    changes: dict[str, Any]
    note: str | None = None
    raised_by: str
    raised_by_roles: list[str]
    on_behalf_of_learner: bool = False
    allocated_to: str | None = None
    candidate_processors: list[str] = Field(
        default_factory=list, description="Admins who may process it, when nobody is allocated."
    )


class TrackerAllocated(Payload):
    tracker_id: str
    learner_id: str
    tracker_type: str
    allocated_to: str
    previously_allocated_to: str | None = None
    allocated_by: str


class TrackerProcessed(Payload):
    tracker_id: str
    learner_id: str
    tracker_type: str
    changes: dict[str, Any]
    processed_by: str
    processor_roles: list[str]
    raised_by: str
    learner_led: bool


class TrackerRejected(Payload):
    tracker_id: str
    learner_id: str
    tracker_type: str
    reason: str
    rejected_by: str
    raised_by: str


class TrackerCancelled(Payload):
    tracker_id: str
    learner_id: str
    tracker_type: str
    reason: str | None = None
    cancelled_by: str
    raised_by: str
    allocated_to: str | None = None


class SettingChange(BaseModel):
    """One setting as it was and as it is, by its path in the settings document."""

    path: str = Field(description="Dotted path, e.g. types.change_of_address.process_roles.")
    before: Any = None
    after: Any = None


def setting_changes(before: dict[str, Any], after: dict[str, Any]) -> list[SettingChange]:
    """Every setting that differs between two settings documents, by dotted path, in path order.
    Objects are compared key by key; a list (roles, reasons) is one setting, shown whole."""
    return sorted(_setting_differences(before, after, ""), key=lambda change: change.path)


def _setting_differences(before: Any, after: Any, path: str) -> list[SettingChange]:
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[SettingChange] = []
        for key in before.keys() | after.keys():
            found += _setting_differences(before.get(key), after.get(key), f"{path}{key}.")
        return found
    if before == after:
        return []
    return [SettingChange(path=path.rstrip("."), before=before, after=after)]


class TrackerSettingsChanged(Payload):
    """A tenant admin or an operator changed the tenant's tracker settings (who may raise, edit
    and process each type, types on and off, custom types, two-person control, allocation)."""

    version: int = Field(description="The settings' version after the change.")
    changes: list[SettingChange]
    settings: dict[str, Any] = Field(description="The whole settings after the change.")


# --- ilr service -----------------------------------------------------------------------------


class IlrSettingsChanged(Payload):
    """A tenant admin or an operator changed the tenant's ILR settings (UKPRN, the planned
    hours of a restart, the withdrawal-reason mapping)."""

    changes: list[SettingChange]
    settings: dict[str, Any] = Field(description="The whole settings after the change.")


IlrOutcomeStatus = Literal["applied", "no_ilr_change", "rejected"]


class PatchOperation(Payload):
    """One RFC 6902 JSON Patch operation."""

    op: Literal["add", "remove", "replace"]
    path: str
    value: Any = None


class ValidationFinding(Payload):
    """One ESFA validation rule a record breaks: the rule id, what is wrong, and a JSON pointer
    into the published record (e.g. ``/LearningDelivery/0/AppFinRecord``)."""

    rule: str
    message: str
    path: str


class IlrValidation(Payload):
    """The ESFA rule check of a record (docs/ilr-validation-rules.md): ``valid`` when no error
    is found; warnings do not make a record invalid."""

    valid: bool
    errors: list[ValidationFinding] = Field(default_factory=list)
    warnings: list[ValidationFinding] = Field(default_factory=list)


class IlrUpdated(Payload):
    """What the ILR service did with a change. ``version`` is the ILR version after it (unchanged
    unless ``outcome`` is applied); ``patch`` (RFC 6902) turns the previous ``ilr-state`` record
    into the new one; ``validation`` is the ESFA rule check of the record after it (None only
    while the learner has no ILR)."""

    learner_id: str
    tenant: str | None = Field(default=None, description="Also in ce_tenant; here for readers.")
    tracker_id: str | None = None
    cause: Literal["enrolment", "tracker", "qa_verification"]
    version: int
    outcome: IlrOutcomeStatus
    reason: str
    patch: list[PatchOperation] = Field(default_factory=list)
    validation: IlrValidation | None = Field(
        default=None, description="The ESFA rule check of the record after this outcome."
    )


class IlrState(Payload):
    """The whole current ILR learner record; the compacted ``ilr-state`` topic keeps the latest."""

    learner_id: str
    tenant: str | None = Field(default=None, description="Also in ce_tenant; here for readers.")
    version: int
    qa_verified: bool
    learner: dict[str, Any]
    tracker_id: str | None = Field(
        default=None,
        description="The tracker whose processing made this state; None for an enrolment or a "
        "QA verification.",
    )


class OtjMinimum(Payload):
    std_code: int = Field(ge=1, le=99999, description="LARS StdCode of the standard.")
    minimum_otj_hours: int = Field(ge=0, le=9999, description="The published minimum, in hours.")


class OtjMinimumsLoaded(Payload):
    """The whole 2025/26 minimum off-the-job table (the DfE's published hours per standard), as an
    operator loaded it: platform-wide reference data. The compacted ``reference-data`` topic keeps
    the latest table (key ``_platform:otj-minimums``); a reader replaces its copy with it."""

    source: str = Field(min_length=1, max_length=200, description="What the table was loaded from.")
    loaded_at: datetime
    loaded_by: str
    minimums: list[OtjMinimum] = Field(min_length=1)

    @field_validator("minimums")
    @classmethod
    def _one_row_per_standard(cls, minimums: list[OtjMinimum]) -> list[OtjMinimum]:
        seen: set[int] = set()
        for row in minimums:
            if row.std_code in seen:
                raise ValueError(f"standard {row.std_code} appears more than once")
            seen.add(row.std_code)
        return minimums

    def by_standard(self) -> dict[int, int]:
        return {row.std_code: row.minimum_otj_hours for row in self.minimums}


# --- audit service ---------------------------------------------------------------------------


class AuditAccessed(Payload):
    """Someone read or exported audit data; the audit log records its own readers."""

    action: Literal["search", "get", "timeline", "export_csv", "export_xlsx", "verify"]
    accessed_by: str
    accessed_by_roles: list[str]
    learner_id: str | None = Field(
        default=None, description="The learner whose history was read, when the query named one."
    )
    filters: dict[str, str] = Field(
        default_factory=dict, description="The query as given (cursor and page size left out)."
    )
    entry_id: str | None = None
    results: int = Field(description="How many audit entries were returned or exported.")


class AuditCheckpointSigned(Payload):
    """The audit service signed a hash chain's head (Ed25519); the compacted
    ``audit-checkpoints`` topic keeps each chain's latest, outside the audit database. Check the
    signature with the key of ``GET /v1/audit/checkpoints/public-key`` (its ``key_id``)."""

    topic: str = Field(description="The audited topic (as stored, with its prefix and lane).")
    partition: int
    offset: int = Field(description="The offset of the chain's head entry when signed.")
    head_hash: str = Field(description="That entry's chain hash (SHA-256, hex).")
    signed_at: datetime
    key_id: str = Field(description="First 16 hex digits of SHA-256 of the raw public key.")
    signature: str = Field(description="Base64 Ed25519 signature; what is signed: README.")


# --- API clients (learner service) ------------------------------------------------------------


class ApiClientChanged(Payload):
    """A tenant admin or an operator created an API client, rotated its secret or revoked it."""

    client_id: str
    name: str
    scopes: list[str]
    change: Literal["created", "rotated", "revoked"]


class ApiClientTokenIssued(Payload):
    """An API client proved its secret and got an access token (client credentials)."""

    client_id: str
    scopes: list[str] = Field(description="The scopes the token carries.")
    expires_at: datetime


class ApiClientTokenRefused(Payload):
    """Someone asked for an API client's token and was refused: wrong secret, client revoked,
    or a scope the client was not granted."""

    client_id: str
    reason: Literal["bad_secret", "revoked", "scope_not_granted"]


# --- the catalogue ---------------------------------------------------------------------------

PayloadT = TypeVar("PayloadT", bound=Payload)


class EventType:
    TRACKER_RAISED = "ilrflow.tracker.raised.v1"
    TRACKER_ALLOCATED = "ilrflow.tracker.allocated.v1"
    TRACKER_PROCESSED = "ilrflow.tracker.processed.v1"
    TRACKER_REJECTED = "ilrflow.tracker.rejected.v1"
    TRACKER_CANCELLED = "ilrflow.tracker.cancelled.v1"
    LEARNER_UPDATED = "ilrflow.learner.updated.v1"
    STAFF_UPDATED = "ilrflow.staff.updated.v1"
    DOCUMENT_ISSUED = "ilrflow.learner.document_issued.v1"
    DOCUMENT_ACKNOWLEDGED = "ilrflow.learner.document_acknowledged.v1"
    ILR_UPDATED = "ilrflow.ilr.updated.v1"
    ILR_STATE = "ilrflow.ilr.state.v1"
    OTJ_MINIMUMS_LOADED = "ilrflow.ilr.otj_minimums_loaded.v1"
    AUDIT_ACCESSED = "ilrflow.audit.accessed.v1"
    AUDIT_CHECKPOINT_SIGNED = "ilrflow.audit.checkpoint_signed.v1"
    API_CLIENT_CHANGED = "ilrflow.client.changed.v1"
    API_CLIENT_TOKEN_ISSUED = "ilrflow.client.token_issued.v1"
    API_CLIENT_TOKEN_REFUSED = "ilrflow.client.token_refused.v1"
    TRACKER_SETTINGS_CHANGED = "ilrflow.tracker.settings_changed.v1"
    ILR_SETTINGS_CHANGED = "ilrflow.ilr.settings_changed.v1"


class CatalogueEntry(BaseModel):
    event_type: str
    topic: str
    payload: type[Payload]
    source: str
    summary: str
    subject: str = Field(
        default="learner id",
        description="What ce_subject (and so the key, <tenant>:<subject>) names for this type.",
    )


CATALOGUE: dict[str, CatalogueEntry] = {
    entry.event_type: entry
    for entry in [
        CatalogueEntry(
            event_type=EventType.TRACKER_RAISED,
            topic=Topics.TRACKER_RAISED,
            payload=TrackerRaised,
            source="tracker",
            summary="A tracker was raised, validated and allocated (or left for the pool).",
        ),
        CatalogueEntry(
            event_type=EventType.TRACKER_ALLOCATED,
            topic=Topics.TRACKER_ALLOCATED,
            payload=TrackerAllocated,
            source="tracker",
            summary="A tracker was (re-)allocated to an admin.",
        ),
        CatalogueEntry(
            event_type=EventType.TRACKER_PROCESSED,
            topic=Topics.TRACKER_PROCESSED,
            payload=TrackerProcessed,
            source="tracker",
            summary="An admin approved a tracker; the learner record and the ILR follow.",
        ),
        CatalogueEntry(
            event_type=EventType.TRACKER_REJECTED,
            topic=Topics.TRACKER_REJECTED,
            payload=TrackerRejected,
            source="tracker",
            summary="An admin rejected a tracker, with a reason.",
        ),
        CatalogueEntry(
            event_type=EventType.TRACKER_CANCELLED,
            topic=Topics.TRACKER_CANCELLED,
            payload=TrackerCancelled,
            source="tracker",
            summary="Whoever raised a tracker (or an admin) withdrew it before a decision.",
        ),
        CatalogueEntry(
            event_type=EventType.LEARNER_UPDATED,
            topic=Topics.LEARNER_UPDATED,
            payload=LearnerUpdated,
            source="learner",
            summary="A learner was created, changed or enrolled; carries the whole record.",
        ),
        CatalogueEntry(
            event_type=EventType.STAFF_UPDATED,
            topic=Topics.LEARNER_UPDATED,
            payload=StaffUpdated,
            source="learner",
            summary="A staff member was registered or changed (roles, groups, email).",
            subject="staff id",
        ),
        CatalogueEntry(
            event_type=EventType.DOCUMENT_ISSUED,
            topic=Topics.LEARNER_DOCUMENTS,
            payload=DocumentIssued,
            source="learner",
            summary="A new version of the learner's training plan awaits signature.",
        ),
        CatalogueEntry(
            event_type=EventType.DOCUMENT_ACKNOWLEDGED,
            topic=Topics.LEARNER_DOCUMENTS,
            payload=DocumentAcknowledged,
            source="learner",
            summary="The learner or the employer acknowledged a version of the training plan.",
        ),
        CatalogueEntry(
            event_type=EventType.ILR_UPDATED,
            topic=Topics.ILR_UPDATED,
            payload=IlrUpdated,
            source="ilr",
            summary="The ILR service applied (or declined) a change: outcome, reason and patch.",
        ),
        CatalogueEntry(
            event_type=EventType.ILR_STATE,
            topic=Topics.ILR_STATE,
            payload=IlrState,
            source="ilr",
            summary="The learner's whole current ILR record (compacted topic, key = learner).",
        ),
        CatalogueEntry(
            event_type=EventType.OTJ_MINIMUMS_LOADED,
            topic=Topics.REFERENCE_DATA,
            payload=OtjMinimumsLoaded,
            source="ilr",
            summary="An operator loaded the 2025/26 minimum OTJ hours per standard (compacted topic).",
            subject="otj-minimums, the table's name (ce_tenant is _platform: platform-wide data)",
        ),
        CatalogueEntry(
            event_type=EventType.AUDIT_ACCESSED,
            topic=Topics.AUDIT_ACCESS,
            payload=AuditAccessed,
            source="audit",
            summary="Support, admin or operator staff read or exported audit data.",
            subject="learner id when the query named one, else the reader's token subject",
        ),
        CatalogueEntry(
            event_type=EventType.AUDIT_CHECKPOINT_SIGNED,
            topic=Topics.AUDIT_CHECKPOINTS,
            payload=AuditCheckpointSigned,
            source="audit",
            summary="A signed head of an audit hash chain (compacted topic, key = chain).",
            subject="<topic>:<partition> of the chain (ce_tenant is _platform)",
        ),
        CatalogueEntry(
            event_type=EventType.API_CLIENT_CHANGED,
            topic=Topics.API_CLIENTS,
            payload=ApiClientChanged,
            source="learner",
            summary="An API client was created, had its secret rotated, or was revoked.",
            subject="client id",
        ),
        CatalogueEntry(
            event_type=EventType.API_CLIENT_TOKEN_ISSUED,
            topic=Topics.API_CLIENTS,
            payload=ApiClientTokenIssued,
            source="learner",
            summary="An API client got an access token by client credentials (actor: the client).",
            subject="client id",
        ),
        CatalogueEntry(
            event_type=EventType.API_CLIENT_TOKEN_REFUSED,
            topic=Topics.API_CLIENTS,
            payload=ApiClientTokenRefused,
            source="learner",
            summary="A token request for an API client was refused (bad secret, revoked, scope).",
            subject="client id",
        ),
        CatalogueEntry(
            event_type=EventType.TRACKER_SETTINGS_CHANGED,
            topic=Topics.TENANT_SETTINGS,
            payload=TrackerSettingsChanged,
            source="tracker",
            summary="A tenant's tracker settings changed: each setting before and after.",
            subject=f"{TRACKER_SETTINGS_SUBJECT} (one key per tenant)",
        ),
        CatalogueEntry(
            event_type=EventType.ILR_SETTINGS_CHANGED,
            topic=Topics.TENANT_SETTINGS,
            payload=IlrSettingsChanged,
            source="ilr",
            summary="A tenant's ILR settings changed: each setting before and after.",
            subject=f"{ILR_SETTINGS_SUBJECT} (one key per tenant)",
        ),
    ]
}

PAYLOAD_TYPES: dict[type[Payload], str] = {entry.payload: t for t, entry in CATALOGUE.items()}


def types_on_topic(topic: str) -> list[str]:
    return [t for t, entry in CATALOGUE.items() if entry.topic == topic]


class Envelope(BaseModel, Generic[PayloadT]):
    """A CloudEvents 1.0 event with ilrflow's extensions (tenant, actor, correlation, causation)."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    source: str
    time: datetime
    subject: str
    tenant: str
    actor: str
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = Field(
        default=None, description="W3C trace context of the span that wrote the event."
    )
    data: PayloadT

    @property
    def topic(self) -> str:
        return CATALOGUE[self.type].topic

    @property
    def key(self) -> str:
        return partition_key(self.tenant, self.subject)


# A tenant id is the first half of every record key (``<tenant>:<learner>``) and of many
# document ids, so it may not hold a ``:``; lower case only, so ``Acme`` and ``acme`` are not
# two tenants. Every place a tenant id enters the system checks it against this one pattern.
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
TENANT_ID_RULE = "1-63 of a-z, 0-9, '-' and '_', starting with a letter or digit"
_TENANT_ID = re.compile(TENANT_ID_PATTERN)

TenantId = Annotated[str, StringConstraints(pattern=TENANT_ID_PATTERN)]
"""A tenant id in a pydantic model: refused unless it matches ``TENANT_ID_PATTERN``."""


def is_tenant_id(text: str) -> bool:
    return _TENANT_ID.fullmatch(text) is not None


def check_tenant_id(text: str) -> str:
    """``text`` if it is a valid tenant id; ``ValueError`` saying the rule otherwise."""
    if not is_tenant_id(text):
        raise ValueError(f"bad tenant id {text!r}: use {TENANT_ID_RULE}")
    return text


def partition_key(tenant: str, learner_id: str) -> str:
    return f"{tenant}:{learner_id}"


def new_event_id() -> str:
    return str(uuid.uuid4())


def new_event(
    data: PayloadT,
    *,
    tenant: str,
    subject: str,
    actor: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> Envelope[PayloadT]:
    """Wrap a payload in an envelope; its type and source come from the catalogue."""
    event_type = PAYLOAD_TYPES[type(data)]
    return Envelope[PayloadT](
        id=new_event_id(),
        type=event_type,
        source=f"ilrflow/{CATALOGUE[event_type].source}",
        time=datetime.now(UTC),
        subject=subject,
        tenant=tenant,
        actor=actor,
        correlation_id=correlation_id or new_event_id(),
        causation_id=causation_id,
        data=data,
    )


# --- the wire format (CloudEvents Kafka binding, binary mode) ----------------------------------

_HEADER_OF = {
    "id": "ce_id",
    "type": "ce_type",
    "source": "ce_source",
    "time": "ce_time",
    "subject": "ce_subject",
    "tenant": "ce_tenant",
    "actor": "ce_actor",
    "correlation_id": "ce_correlationid",
    "causation_id": "ce_causationid",
    # The W3C header OpenTelemetry's Kafka instrumentations read, not a ce_ attribute.
    "traceparent": "traceparent",
}
REQUIRED_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_time", "ce_subject", "ce_tenant")


def to_wire(event: Envelope[Any]) -> tuple[bytes, dict[str, str], bytes]:
    """Return (key, headers, value) for a Kafka record."""
    headers = {"ce_specversion": SPEC_VERSION, "content-type": CONTENT_TYPE}
    for attribute, header in _HEADER_OF.items():
        value = getattr(event, attribute)
        if value is None:
            continue
        headers[header] = value.isoformat() if isinstance(value, datetime) else str(value)
    return event.key.encode(), headers, event.data.model_dump_json().encode()


def event_to_document(event: Envelope[Any]) -> dict[str, Any]:
    """The form an event takes inside an aggregate's outbox array."""
    document = event.model_dump(mode="json")
    document["topic"] = event.topic
    return document


def event_from_document(document: dict[str, Any]) -> Envelope[Any]:
    fields = {k: v for k, v in document.items() if k != "topic"}
    return envelope_of(CATALOGUE[fields["type"]].payload).model_validate(fields)


@cache
def envelope_of(payload: type[Payload]) -> type[Envelope[Any]]:
    """``Envelope[payload]``, built once per payload type: pydantic's lookup of a parametrised
    generic (``Envelope[X]`` at each call) cost about 0.3 ms, most of ``from_wire``'s time."""
    return Envelope[payload]  # type: ignore[valid-type]


def header_text(headers: dict[str, Any], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def from_wire(headers: dict[str, Any], value: bytes | None) -> Envelope[Any]:
    """Parse a Kafka record into an envelope; raise PermanentError with the reason if it is bad."""
    missing = [h for h in REQUIRED_HEADERS if not header_text(headers, h)]
    if missing:
        raise PermanentError(f"not a CloudEvent: missing headers {', '.join(missing)}")
    event_type = header_text(headers, "ce_type") or ""
    entry = CATALOGUE.get(event_type)
    if entry is None:
        raise PermanentError(f"unknown event type {event_type!r}")
    if value is None:
        raise PermanentError("record has no value")
    try:
        data: Payload = entry.payload.model_validate_json(value)
    except ValueError as error:
        raise PermanentError(f"payload does not match {event_type}: {error}") from error
    attributes: dict[str, Any] = {
        attribute: header_text(headers, header) for attribute, header in _HEADER_OF.items()
    }
    attributes["actor"] = attributes["actor"] or "unknown"
    attributes["correlation_id"] = attributes["correlation_id"] or attributes["id"]
    try:
        return envelope_of(entry.payload).model_validate({**attributes, "data": data})
    except ValueError as error:
        raise PermanentError(f"bad CloudEvents attributes: {error}") from error
