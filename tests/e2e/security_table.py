"""The security matrix: every endpoint of every service, for every role, against the caller's own
tenant, another tenant and another group, with the status the caller gets.

One table serves the end-to-end test (tests/e2e/test_security_matrix.py) and the document
(docs/security-matrix.md, written by ``uv run python -m tests.e2e.security_table``).

Scopes, for the object or listing the request names (a learner of tenant A in group cohort-a):
- ``own``: a caller of tenant A in cohort-a (a learner: the learner themselves);
- ``other_tenant``: the same caller with a token of tenant B;
- ``other_group``: a caller of tenant A in cohort-b only (a learner: another learner).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PEOPLE = ("learner", "tutor", "admin", "ilr_qa", "support", "operator")
# An API client's token (tests/e2e/test_security_matrix.py gets real ones by client credentials)
# holding every scope: ilr:read, audit:read and webhooks:manage. Its "other group" is its own
# tenant again (a client has no groups: it reads the whole tenant where a scope lets it in).
INTEGRATOR = "integrator"
ROLES = (*PEOPLE, INTEGRATOR)
SCOPES = ("own", "other_tenant", "other_group")
SERVICES = ("learner", "tracker", "ilr", "notify", "audit")
Kind = Literal["object", "list", "tenant", "platform", "public"]
DOC = Path(__file__).resolve().parents[2] / "docs" / "security-matrix.md"


@dataclass(frozen=True)
class Row:
    """``expected`` maps a role to "own other_tenant other_group" statuses, e.g. "200 404 404"."""

    service: str
    method: str
    path: str
    kind: Kind
    expected: dict[str, str]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.service, self.method, self.path)

    def status(self, role: str, scope: str) -> int:
        return int(self.expected[role].split()[SCOPES.index(scope)])


def _row(service: str, method: str, path: str, kind: Kind, *cells: str) -> Row:
    assert len(cells) == len(ROLES), (method, path)
    return Row(service, method, path, kind, dict(zip(ROLES, cells, strict=True)))


def _public(service: str) -> list[Row]:
    return [
        _row(service, "GET", path, "public", *(["200 200 200"] * len(ROLES)))
        for path in ("/healthz", "/readyz", "/metrics")
    ]


TABLE: list[Row] = [
    _row(
        "learner",
        "POST",
        "/v1/staff",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "201 201 201",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "201 201 201",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "GET",
        "/v1/staff",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "GET",
        "/v1/staff/{staff_id}",
        "object",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 404 200",  # admin
        "403 403 403",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "POST",
        "/v1/learners",
        "tenant",
        "403 403 403",  # learner
        "201 201 403",  # tutor
        "201 201 201",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "GET",
        "/v1/learners",
        "list",
        "200 200 200",  # learner
        "200 200 200",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "GET",
        "/v1/learners/{learner_id}",
        "object",
        "200 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "200 404 200",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "POST",
        "/v1/learners/{learner_id}/enrolments",
        "object",
        "403 403 403",  # learner
        "201 404 404",  # tutor
        "201 404 201",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "GET",
        "/v1/learners/{learner_id}/documents",
        "object",
        "200 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "200 404 200",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "GET",
        "/v1/learners/{learner_id}/documents/{document_id}.pdf",
        "object",
        "200 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "200 404 200",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "403 403 403",  # integrator
    ),
    # Recording the employer's acknowledgement: staff who act for the learner (a learner
    # acknowledges only as the learner, which the table's request does not ask).
    _row(
        "learner",
        "POST",
        "/v1/learners/{learner_id}/documents/{document_id}/acknowledge",
        "object",
        "403 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "403 404 403",  # ilr_qa
        "403 404 403",  # support
        "403 404 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "GET",
        "/v1/groups",
        "list",
        "403 403 403",  # learner
        "200 200 200",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "GET",
        "/v1/me",
        "tenant",
        "200 404 200",  # learner
        "200 200 200",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "POST",
        "/v1/clients",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "201 201 201",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "201 201 201",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "GET",
        "/v1/clients",
        "list",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "POST",
        "/v1/clients/{client_id}/rotate",
        "object",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 404 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "200 404 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "learner",
        "POST",
        "/v1/clients/{client_id}/revoke",
        "object",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 404 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "200 404 200",  # operator
        "403 403 403",  # integrator
    ),
    # Client credentials, not a bearer token: a wrong secret is refused whoever calls.
    _row("learner", "POST", "/v1/oauth/token", "public", *(["401 401 401"] * len(ROLES))),
    *[
        _row("learner", "GET", path, "public", *(["200 200 200"] * len(ROLES)))
        for path in ("/.well-known/openid-configuration", "/.well-known/jwks.json")
    ],
    *_public("learner"),
    _row(
        "tracker",
        "GET",
        "/v1/tracker-types",
        "tenant",
        "200 200 200",  # learner
        "200 200 200",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "PUT",
        "/v1/tracker-types/custom:{name}",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "PUT",
        "/v1/tracker-types/{tracker_type}",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "GET",
        "/v1/tracker-settings",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "PUT",
        "/v1/tracker-settings",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "POST",
        "/v1/trackers",
        "object",
        "201 404 404",  # learner
        "201 404 404",  # tutor
        "201 404 201",  # admin
        "403 404 403",  # ilr_qa
        "403 404 403",  # support
        "403 404 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "GET",
        "/v1/trackers",
        "list",
        "200 200 200",  # learner
        "200 200 200",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "GET",
        "/v1/trackers/export.xlsx",
        "tenant",
        "403 403 403",  # learner
        "200 200 200",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "GET",
        "/v1/trackers/{tracker_id}",
        "object",
        "200 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "200 404 200",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "GET",
        "/v1/trackers/{tracker_id}/actions",
        "object",
        "200 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "200 404 200",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "PATCH",
        "/v1/trackers/{tracker_id}",
        "object",
        "403 404 404",  # learner
        "403 404 404",  # tutor
        "200 404 200",  # admin
        "403 404 403",  # ilr_qa
        "403 404 403",  # support
        "403 404 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "POST",
        "/v1/trackers/{tracker_id}/allocate",
        "object",
        "403 404 404",  # learner
        "403 404 404",  # tutor
        "200 404 200",  # admin
        "403 404 403",  # ilr_qa
        "403 404 403",  # support
        "403 404 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "POST",
        "/v1/trackers/{tracker_id}/process",
        "object",
        "403 404 404",  # learner
        "403 404 404",  # tutor
        "200 404 200",  # admin
        "403 404 403",  # ilr_qa
        "403 404 403",  # support
        "403 404 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "POST",
        "/v1/trackers/{tracker_id}/reject",
        "object",
        "403 404 404",  # learner
        "403 404 404",  # tutor
        "200 404 200",  # admin
        "403 404 403",  # ilr_qa
        "403 404 403",  # support
        "403 404 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "POST",
        "/v1/trackers/{tracker_id}/cancel",
        "object",
        "403 404 404",  # learner
        "403 404 404",  # tutor
        "200 404 200",  # admin
        "403 404 403",  # ilr_qa
        "403 404 403",  # support
        "403 404 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "POST",
        "/v1/trackers/bulk",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "202 403 202",  # admin (tenant B has not turned the type on)
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "POST",
        "/v1/trackers/bulk-process",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "202 202 202",  # admin (a tracker it may not process is refused in the job)
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "tracker",
        "GET",
        "/v1/trackers/bulk-jobs/{job_id}",
        "object",
        "404 404 404",  # learner
        "404 404 404",  # tutor
        "200 404 200",  # admin (the requester: admin-1 in both of tenant A's scopes)
        "404 404 404",  # ilr_qa
        "404 404 404",  # support
        "404 404 404",  # operator
        "403 403 403",  # integrator
    ),
    *_public("tracker"),
    _row(
        "ilr",
        "GET",
        "/v1/learners/{learner_id}/ilr",
        "object",
        "200 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "200 404 200",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "200 404 200",  # integrator
    ),
    _row(
        "ilr",
        "GET",
        "/v1/learners/{learner_id}/ilr/history",
        "object",
        "200 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "200 404 200",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "200 404 200",  # integrator
    ),
    _row(
        "ilr",
        "GET",
        "/v1/learners/{learner_id}/ilr/validation",
        "object",
        "200 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "200 404 200",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "200 404 200",  # integrator
    ),
    _row(
        "ilr",
        "POST",
        "/v1/learners/{learner_id}/ilr/qa-verify",
        "object",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "403 403 403",  # admin
        "200 404 200",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "ilr",
        "GET",
        "/v1/ilr/export.xml",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 422 200",  # admin
        "200 422 200",  # ilr_qa
        "403 403 403",  # support
        "200 422 200",  # operator
        "200 422 200",  # integrator
    ),
    _row(
        "ilr",
        "GET",
        "/v1/ilr/export/validation",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin: another tenant's check lists none of tenant A's learners
        "200 200 200",  # ilr_qa
        "403 403 403",  # support
        "200 200 200",  # operator
        "200 200 200",  # integrator
    ),
    _row(
        "ilr",
        "GET",
        "/v1/ilr/settings",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "403 403 403",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "ilr",
        "PUT",
        "/v1/ilr/settings",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    # Platform-wide reference data: the same table whatever the caller's tenant or groups.
    # The PUT row comes first, so the table exists when the GET row reads it.
    _row(
        "ilr",
        "PUT",
        "/v1/ilr/reference/otj-minimums",
        "platform",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "403 403 403",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "ilr",
        "GET",
        "/v1/ilr/reference/otj-minimums",
        "platform",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "403 403 403",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    *_public("ilr"),
    _row(
        "notify",
        "GET",
        "/v1/notifications",
        "list",
        "200 200 200",  # learner
        "200 200 200",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "notify",
        "GET",
        "/v1/notifications/unread-count",
        "tenant",
        "200 200 200",  # learner
        "200 200 200",  # tutor
        "200 200 200",  # admin
        "200 200 200",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "notify",
        "POST",
        "/v1/notifications/{notification_id}/read",
        "object",
        "404 404 404",  # learner
        "404 404 404",  # tutor
        "200 404 200",  # admin
        "404 404 404",  # ilr_qa
        "404 404 404",  # support
        "404 404 404",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "notify",
        "GET",
        "/v1/learners/{learner_id}/notifications",
        "object",
        "200 404 404",  # learner
        "200 404 404",  # tutor
        "200 404 200",  # admin
        "200 404 200",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "notify",
        "GET",
        "/v1/notifications/deliveries",
        "list",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "notify",
        "PUT",
        "/v1/notify-settings",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "notify",
        "POST",
        "/v1/webhooks",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "201 201 201",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "201 201 201",  # integrator
    ),
    _row(
        "notify",
        "GET",
        "/v1/webhooks",
        "list",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "200 200 200",  # integrator
    ),
    _row(
        "notify",
        "DELETE",
        "/v1/webhooks/{webhook_id}",
        "object",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "204 404 204",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "204 404 204",  # integrator
    ),
    _row(
        "notify",
        "POST",
        "/v1/webhooks/{webhook_id}/rotate-secret",
        "object",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 404 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "200 404 200",  # integrator
    ),
    _row(
        "notify",
        "GET",
        "/v1/webhooks/{webhook_id}/deliveries",
        "object",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 404 200",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "200 404 200",  # integrator
    ),
    _row(
        "notify",
        "POST",
        "/v1/webhooks/deliveries/{delivery_id}/replay",
        "object",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "202 404 202",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "403 403 403",  # operator
        "202 404 202",  # integrator
    ),
    *_public("notify"),
    _row(
        "audit",
        "GET",
        "/v1/audit/events",
        "list",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "200 200 200",  # integrator
    ),
    _row(
        "audit",
        "GET",
        "/v1/audit/events/{entry_id}",
        "object",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 404 200",  # admin
        "403 403 403",  # ilr_qa
        "200 404 200",  # support
        "200 404 200",  # operator
        "200 404 200",  # integrator
    ),
    _row(
        "audit",
        "GET",
        "/v1/audit/learners/{learner_id}/timeline",
        "list",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "200 200 200",  # integrator
    ),
    _row(
        "audit",
        "GET",
        "/v1/audit/export.csv",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "200 200 200",  # integrator
    ),
    _row(
        "audit",
        "GET",
        "/v1/audit/export.xlsx",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "200 200 200",  # admin
        "403 403 403",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "200 200 200",  # integrator
    ),
    _row(
        "audit",
        "GET",
        "/v1/audit/verify",
        "tenant",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "403 403 403",  # admin
        "403 403 403",  # ilr_qa
        "200 200 200",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    _row(
        "audit",
        "GET",
        "/v1/audit/checkpoints/public-key",
        "platform",
        *(["200 200 200"] * len(PEOPLE)),
        "403 403 403",  # integrator
    ),
    _row(
        "audit",
        "POST",
        "/v1/audit/checkpoints",
        "platform",
        "403 403 403",  # learner
        "403 403 403",  # tutor
        "403 403 403",  # admin
        "403 403 403",  # ilr_qa
        "403 403 403",  # support
        "200 200 200",  # operator
        "403 403 403",  # integrator
    ),
    *_public("audit"),
]


def render() -> str:
    """docs/security-matrix.md, from TABLE."""
    lines = [
        "# Security matrix",
        "",
        "<!-- Generated by `uv run python -m tests.e2e.security_table` from",
        "tests/e2e/security_table.py; tests/e2e/test_security_matrix.py checks both. -->",
        "",
        "What every endpoint answers to every role. Each cell is",
        "**own tenant · other tenant · other group**: a caller of the object's tenant and group",
        "(a learner: the learner themselves), the same caller with another tenant's token, and",
        "a caller of the same tenant in another group only (a learner: another learner).",
        "The targets are real: a learner, their ILR, a tracker raised for them (a fresh one",
        "for every state-changing request), the allocated admin's notification, an audit entry.",
        "",
        "- Another tenant's object is always **404**, exactly as for an id that does not exist;",
        "  a 403 there is the role's refusal, given before anything is looked up.",
        "- No answer to another tenant (lists, exports, settings) carries the object tenant's",
        "  name, the learner's id or the tracker's id.",
        "- Kind `platform`: data that is the same for every tenant (the 2025/26 minimum OTJ",
        "  table, the audit checkpoints' key), so every tenant's caller gets the same answer.",
        "- Subjects: learner = the learner's id, tutor-1, admin-1, ilr-qa-1, support-1,",
        "  operator-1 (the tutor and the admin are registered staff; the others are not).",
        "- integrator: an API client's token, got by client credentials, holding every scope",
        "  (ilr:read, audit:read, webhooks:manage); its other group is its own tenant again (a",
        "  client has no groups). Every route that names no scope refuses it (403).",
        "",
    ]
    header = "| endpoint | kind | " + " | ".join(ROLES) + " |"
    rule = "|---|---|" + "---|" * len(ROLES)
    for service in SERVICES:
        lines += [f"## {service}", "", header, rule]
        for row in (r for r in TABLE if r.service == service):
            cells = " | ".join(" · ".join(row.expected[role].split()) for role in ROLES)
            lines.append(f"| `{row.method} {row.path}` | {row.kind} | {cells} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    DOC.write_text(render())
    print(f"wrote {DOC}")
