"""The console's use cases: each page's data, read from the services' APIs as the signed-in
person (the APIs decide what they may see and do), shaped for the templates."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from ilrflow.contracts.events import CATALOGUE
from ilrflow.contracts.trackers.catalogue import CUSTOM_PREFIX
from ilrflow.web.domain.changes import FieldChange, VersionChange, field_changes, version_changes
from ilrflow.web.domain.forms import (
    CHANGE_REQUESTS,
    AddressForm,
    ContactForm,
    FieldError,
    FormField,
    NameForm,
    field_errors,
)
from ilrflow.web.domain.schema_form import (
    SchemaField,
    changes_from,
    custom_fields,
    form_values,
    schema_fields,
    schema_form,
)
from ilrflow.web.domain.session import SignedIn
from ilrflow.web.domain.settings import (
    RuleForm,
    TenantForm,
    TypeForm,
    rule_errors,
    settings_errors,
)
from ilrflow.web.service.lists import every_item
from ilrflow.web.service.ports import ApiRefusedError, Apis, Download

TRACKER_STATUSES = ("raised", "allocated", "processed", "rejected", "cancelled")
TRACKER_ACTIONS = ("allocate", "edit", "process", "reject")
PAGE_SIZE = 25
AUDIT_PAGE_SIZE = 50


class NotALearnerError(ApiRefusedError):
    """About you is the learner's own page: a staff member gets the not-found page."""

    def __init__(self) -> None:
        super().__init__(404, {"detail": "This page is for learners."})


class NoSuchTrackerTypeError(ApiRefusedError):
    """A tracker type the tenant has not, or the person may not raise: the not-found page."""

    def __init__(self) -> None:
        super().__init__(404, {"detail": "No such tracker type."})


class NoSuchSelectionError(ApiRefusedError):
    """An export link whose filters are not what a page of the console makes (a date that is
    not a date, a learner who is not one): nothing to export."""

    def __init__(self) -> None:
        super().__init__(404, {"detail": "No such selection."})


@dataclass
class AboutYou:
    learner: dict[str, Any]
    requests: list[dict[str, Any]]
    address: AddressForm = field(default_factory=AddressForm.blank)
    contact: ContactForm = field(default_factory=ContactForm)
    name: NameForm = field(default_factory=NameForm)
    errors: list[FieldError] = field(default_factory=list)
    raised: dict[str, Any] | None = None


RequestForm = AddressForm | ContactForm | NameForm


@dataclass(frozen=True)
class TrackerFilters:
    """The list's filters as the console's GET parameters: ``allocated`` is "me" or an admin's
    id, ``learner`` a learner's id, ``raised_from``/``raised_to`` ISO dates (``from``, ``to``)."""

    allocated: str = ""
    type: str = ""
    status: str = ""
    learner: str = ""
    raised_from: str = ""
    raised_to: str = ""
    cursor: str = ""

    def query(self) -> str:
        """The console's filters (not the cursor) as a query string, for links that keep them."""
        chosen = {
            "allocated": self.allocated,
            "type": self.type,
            "status": self.status,
            "learner": self.learner,
            "from": self.raised_from,
            "to": self.raised_to,
        }
        return _query_string(chosen)

    def next_page(self, cursor: str) -> str:
        """The query string of the page after this one, with the same filters."""
        return _with_cursor(self.query(), cursor)

    def params(self) -> dict[str, str]:
        """The tracker API's parameters for these filters."""
        return {
            "allocated_to": self.allocated,
            "type": self.type,
            "status": self.status,
            "learner_id": self.learner,
            "from": self.raised_from,
            "to": self.raised_to,
            "cursor": self.cursor,
        }

    def errors(self) -> list[FieldError]:
        """A raised date that is not a date (typed by hand, without the browser's date input)."""
        typed = [
            ("raised-from", "Raised from", self.raised_from),
            ("raised-to", "Raised to", self.raised_to),
        ]
        return [
            FieldError(field_id, f"{label} must be a date, like 2026-03-31")
            for field_id, label, value in typed
            if value and not _is_date(value)
        ]


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass
class TrackerList:
    filters: TrackerFilters
    items: list[dict[str, Any]]
    next_cursor: str | None
    types: list[dict[str, Any]]
    admins: list[dict[str, Any]] | None = None  # to filter by; None: the person may not list them
    errors: list[FieldError] = field(default_factory=list)


@dataclass(frozen=True)
class Action:
    """Whether the signed-in person may press one of a tracker's buttons now, and why not."""

    allowed: bool
    reason: str = ""


@dataclass
class EditForm:
    """A tracker's proposed values as its type's form (the type's schema, or a custom type's
    fields), filled with what the tracker proposes or with what was typed."""

    fields: list[SchemaField]
    values: dict[str, Any]


@dataclass
class TrackerPage:
    tracker: dict[str, Any]
    preview: list[FieldChange]
    applied_version: int | None = None  # the ILR version processing made, once it is known
    refusal: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    actions: dict[str, Action] = field(default_factory=dict)
    admins: list[dict[str, Any]] | None = None  # whom to allocate to; None: the id is typed
    edit: EditForm | None = None


@dataclass
class LearnerRecord:
    learner: dict[str, Any]
    ilr: dict[str, Any] | None
    versions: list[VersionChange]
    timeline: list[dict[str, Any]] | None
    unavailable: list[str]
    notifications: list[dict[str, Any]] | None = None  # the newest sent about the learner


AUDIT_EVENT_TYPES = tuple(sorted(CATALOGUE))


@dataclass(frozen=True)
class AuditFilters:
    """The audit search's GET parameters: a learner by name, ULN or id, a tracker id, an actor,
    an event type, and event dates from/to (both days included)."""

    learner: str = ""
    tracker: str = ""
    actor: str = ""
    type: str = ""
    day_from: str = ""
    day_to: str = ""
    cursor: str = ""

    def query(self) -> str:
        """The filters (not the cursor) as a query string, for the next page and the exports."""
        chosen = {
            "learner": self.learner,
            "tracker": self.tracker,
            "actor": self.actor,
            "type": self.type,
            "from": self.day_from,
            "to": self.day_to,
        }
        return _query_string(chosen)

    def next_page(self, cursor: str) -> str:
        return _with_cursor(self.query(), cursor)

    @property
    def chosen(self) -> bool:
        return bool(self.query())

    def params(self, learner_id: str | None) -> dict[str, str]:
        """The audit API's query: ``from`` inclusive and ``to`` exclusive, so the day after."""
        params = {
            "learner_id": learner_id or "",
            "tracker_id": self.tracker,
            "actor": self.actor,
            "type": self.type,
            "from": f"{self.day_from}T00:00:00Z" if self.day_from else "",
            "to": f"{date.fromisoformat(self.day_to) + timedelta(days=1)}T00:00:00Z"
            if self.day_to
            else "",
        }
        return {name: value for name, value in params.items() if value}

    def errors(self) -> list[FieldError]:
        errors = [
            FieldError(field_id, f"{label} must be a date, like 2026-03-31")
            for field_id, label, value in (
                ("audit-from", "From", self.day_from),
                ("audit-to", "To", self.day_to),
            )
            if value and not _is_date(value)
        ]
        if self.type and self.type not in AUDIT_EVENT_TYPES:
            errors.append(FieldError("audit-type", "Event type must be one of the list"))
        return errors


@dataclass
class AuditSearch:
    filters: AuditFilters
    learner: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)  # several learners match
    events: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    searched: bool = False
    verification: dict[str, Any] | None = None
    verification_refused: bool = False


@dataclass
class RaisePage:
    """Raise a tracker for a learner: the types the person may raise, and the chosen type's form."""

    types: list[dict[str, Any]]
    chosen: dict[str, Any] | None = None
    fields: list[SchemaField] = field(default_factory=list)
    learner_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    raised: dict[str, Any] | None = None


@dataclass
class SettingsPage:
    types: list[dict[str, Any]]
    tenant: TenantForm
    errors: list[FieldError] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)  # in order: the first match wins
    rule: RuleForm = field(default_factory=RuleForm)  # the add form, as typed
    admins: list[dict[str, Any]] | None = None  # None: the admin's id is typed
    groups: list[str] | None = None  # None: the group is typed


class Console:
    def __init__(self, apis: Apis) -> None:
        self._apis = apis

    async def _get(self, user: SignedIn, service: str, path: str, **params: Any) -> Any:
        return await self._apis.call(user.token, service, "GET", path, params=params)

    async def _post(self, user: SignedIn, service: str, path: str, body: Any) -> Any:
        return await self._apis.call(user.token, service, "POST", path, body=body)

    async def _put(self, user: SignedIn, service: str, path: str, body: Any) -> Any:
        return await self._apis.call(user.token, service, "PUT", path, body=body)

    # --- learner: about you ---------------------------------------------------------------

    async def about_you(self, user: SignedIn) -> AboutYou:
        me = await self._get(user, "learner", "/v1/me")
        if me.get("kind") != "learner":
            raise NotALearnerError()
        learner = me["learner"]
        requests = await self._get(
            user, "tracker", "/v1/trackers", learner_id=learner["id"], limit=PAGE_SIZE
        )
        return AboutYou(learner, requests["items"])

    async def request_change(self, user: SignedIn, kind: str, form: RequestForm) -> AboutYou:
        """Raise the learner's own change request of ``kind`` (``CHANGE_REQUESTS``): the page
        with the raised request in ``raised``, or with the form as typed and the API's refusal
        as errors on its fields."""
        request = CHANGE_REQUESTS[kind]
        page = await self.about_you(user)
        setattr(page, kind, form)
        body = {
            "type": request.tracker_type,
            "learner_id": page.learner["id"],
            "changes": form.changes(),
        }
        try:
            page.raised = await self._post(user, "tracker", "/v1/trackers", body)
        except ApiRefusedError as refusal:
            if refusal.hides_the_page:
                raise
            page.errors = field_errors(
                refusal.field_errors or [("changes", refusal.detail)],
                request.fields,
                request.first_field,
            )
        return page

    # --- trackers ---------------------------------------------------------------------------

    async def trackers(self, user: SignedIn, filters: TrackerFilters) -> TrackerList:
        """A page of the trackers the filters select, and what the filters offer (the types,
        the admins); filters that are not dates select nothing, and say so."""
        types, admins = await asyncio.gather(
            every_item(self._apis, user.token, "tracker", "/v1/tracker-types"),
            self._admins(user),
        )
        errors = filters.errors()
        if errors:
            return TrackerList(filters, [], None, types, admins, errors)
        page = await self._get(user, "tracker", "/v1/trackers", limit=PAGE_SIZE, **filters.params())
        return TrackerList(filters, page["items"], page["next_cursor"], types, admins)

    async def raise_page(self, user: SignedIn, tracker_type: str, learner_id: str) -> RaisePage:
        """The types ``user`` may raise (switched on, one of their roles may raise it) and, once
        one is chosen, its form built from the type's JSON Schema."""
        types = await every_item(self._apis, user.token, "tracker", "/v1/tracker-types")
        allowed = [t for t in types if t["enabled"] and user.has_role(*t["raise_roles"])]
        chosen = next((t for t in allowed if t["type"] == tracker_type), None)
        fields = []
        if chosen is not None:
            custom = chosen["custom"]
            fields = (
                custom_fields(chosen["fields"])
                if custom
                else schema_fields(chosen["changes_schema"])
            )
        return RaisePage(allowed, chosen, fields, learner_id)

    async def raise_tracker(
        self, user: SignedIn, tracker_type: str, learner_id: str, form: dict[str, Any]
    ) -> RaisePage:
        """Raise it: the page with the raised tracker in ``raised``, or with what was typed and
        the API's refusal on the fields it names."""
        page = await self.raise_page(user, tracker_type, learner_id)
        if page.chosen is None:
            raise NoSuchTrackerTypeError()
        page.values = form
        body = {
            "type": tracker_type,
            "learner_id": learner_id,
            "changes": changes_from(page.fields, form),
        }
        try:
            page.raised = await self._post(user, "tracker", "/v1/trackers", body)
        except ApiRefusedError as refusal:
            if refusal.status in (401, 403):
                raise
            inputs = {**schema_form(page.fields), "learner_id": FormField("learner-id", "Learner")}
            page.errors = field_errors(
                refusal.field_errors or [("learner_id", refusal.detail)], inputs, "learner-id"
            )
        return page

    async def export_trackers(self, user: SignedIn, filters: TrackerFilters) -> Download:
        """The list's selection (every page of it) as the tracker service's spreadsheet."""
        if filters.errors():
            raise NoSuchSelectionError()
        params = {k: v for k, v in filters.params().items() if k != "cursor"}
        return await self._apis.download(
            user.token, "tracker", "/v1/trackers/export.xlsx", params=params
        )

    async def tracker(self, user: SignedIn, tracker_id: str) -> TrackerPage:
        """The tracker, its ILR effect, and each of its buttons or the reason it is missing
        (the tracker service's own checks, asked before a press)."""
        tracker, actions = await asyncio.gather(
            self._get(user, "tracker", f"/v1/trackers/{tracker_id}"),
            self._get(user, "tracker", f"/v1/trackers/{tracker_id}/actions"),
        )
        page = await self._effect(user, tracker)
        page.actions = {
            name: Action(bool(actions[name]["allowed"]), str(actions[name]["reason"]))
            for name in TRACKER_ACTIONS
        }
        if page.actions["allocate"].allowed:
            page.admins = await self._admins(user)
        if page.actions["edit"].allowed:
            page.edit = await self._edit_form(user, tracker)
        return page

    async def _effect(self, user: SignedIn, tracker: dict[str, Any]) -> TrackerPage:
        if not tracker.get("ilr_outcome"):
            return TrackerPage(tracker, await self._preview(user, tracker))
        applied = await self._applied(user, tracker)
        if applied is None:
            return TrackerPage(tracker, [])
        return TrackerPage(tracker, applied.changes, applied_version=applied.version)

    async def _admins(self, user: SignedIn) -> list[dict[str, Any]] | None:
        """The tenant's admins to choose from; None when the learner service does not list
        them to this person (a tutor with the process role), who then types the admin's id.
        A help to filling a form, so any refusal only takes the list away (a learner service
        that does not accept the token must not sign the person out of the tracker pages)."""
        try:
            staff = await every_item(self._apis, user.token, "learner", "/v1/staff")
        except ApiRefusedError:
            return None
        return [person for person in staff if "admin" in person["roles"]]

    async def _edit_form(self, user: SignedIn, tracker: dict[str, Any]) -> EditForm:
        fields = await self._type_fields(user, tracker["tracker_type"])
        return EditForm(fields, form_values(fields, tracker["changes"]))

    async def _type_fields(self, user: SignedIn, tracker_type: str) -> list[SchemaField]:
        types = await every_item(self._apis, user.token, "tracker", "/v1/tracker-types")
        found = next((t for t in types if t["type"] == tracker_type), None)
        if found is None:
            raise NoSuchTrackerTypeError()
        if found["custom"]:
            return custom_fields(found["fields"])
        return schema_fields(found["changes_schema"])

    async def allocate(
        self, user: SignedIn, tracker_id: str, version: int, to: str, reason: str
    ) -> TrackerPage:
        """Allocate to an admin, with the reason kept in the tracker's history; the tracker
        page again, with the API's refusal on the admin it named if it refused."""
        body = {"allocated_to": to, "version": version, "reason": reason or None}
        path = f"/v1/trackers/{tracker_id}/allocate"
        return await self._command(user, tracker_id, "POST", path, body, ALLOCATE_FORM)

    async def edit(
        self, user: SignedIn, tracker_id: str, version: int, form: dict[str, Any]
    ) -> TrackerPage:
        """Replace the tracker's proposed values with the edit form's; on a refusal, the page
        with what was typed and the API's reasons beside the inputs they name."""
        tracker = await self._get(user, "tracker", f"/v1/trackers/{tracker_id}")
        fields = await self._type_fields(user, tracker["tracker_type"])
        body = {"version": version, "changes": changes_from(fields, form)}
        page = await self._command(
            user, tracker_id, "PATCH", f"/v1/trackers/{tracker_id}", body, schema_form(fields)
        )
        if page.refusal is not None:
            page.edit = EditForm(fields, form)
        return page

    async def _command(
        self,
        user: SignedIn,
        tracker_id: str,
        method: str,
        path: str,
        body: dict[str, Any],
        inputs: dict[str, FormField],
    ) -> TrackerPage:
        """Send a change of the tracker; the page again, with the API's reason when it refused
        and its field problems on the inputs they name (on the form's first, if unnamed)."""
        try:
            await self._apis.call(user.token, "tracker", method, path, body=body)
        except ApiRefusedError as refusal:
            if refusal.status == 404:
                raise
            page = await self.tracker(user, tracker_id)
            page.refusal = refusal.detail
            first = next((f.field_id for f in inputs.values()), "refusal")
            page.errors = field_errors(refusal.field_errors, inputs, first)
            return page
        return await self.tracker(user, tracker_id)

    async def outcome_arrived(self, user: SignedIn, tracker_id: str) -> bool:
        """Whether the ILR service's outcome of a processed tracker is on it yet (the poll)."""
        tracker = await self._get(user, "tracker", f"/v1/trackers/{tracker_id}")
        return bool(tracker.get("ilr_outcome"))

    async def _applied(self, user: SignedIn, tracker: dict[str, Any]) -> VersionChange | None:
        """The ILR version the processed tracker made (none when it changed nothing), compared
        with the version before it: the current ILR already holds the change, so the preview's
        values before would be wrong."""
        try:
            history = await every_item(
                self._apis, user.token, "ilr", f"/v1/learners/{tracker['learner_id']}/ilr/history"
            )
        except ApiRefusedError:
            return None
        made = [v for v in version_changes(history) if v.tracker_id == tracker["id"]]
        return made[-1] if made else None

    async def _preview(self, user: SignedIn, tracker: dict[str, Any]) -> list[FieldChange]:
        """The preview's patch as before → after, before read from the learner's current ILR
        (a caller who may not read the ILR sees the fields without their values before)."""
        patch = (tracker.get("preview") or {}).get("ilr_patch") or []
        if not patch:
            return []
        try:
            ilr = await self._get(user, "ilr", f"/v1/learners/{tracker['learner_id']}/ilr")
        except ApiRefusedError:
            ilr = {"learner": {}}
        return field_changes(ilr.get("learner") or {}, patch)

    async def decide(
        self, user: SignedIn, tracker_id: str, action: str, version: int, reason: str = ""
    ) -> TrackerPage:
        """Process or reject; the tracker page again, with the API's reason if it refused."""
        body: dict[str, Any] = {"version": version}
        if action == "reject":
            body["reason"] = reason
        try:
            await self._post(user, "tracker", f"/v1/trackers/{tracker_id}/{action}", body)
        except ApiRefusedError as refusal:
            if refusal.status == 404:
                raise
            page = await self.tracker(user, tracker_id)
            page.refusal = refusal.detail
            if action == "reject" and refusal.field_errors:
                page.errors = [
                    FieldError("reject-reason", f"Reason {reason_text}")
                    for _, reason_text in refusal.field_errors
                ]
            return page
        return await self.tracker(user, tracker_id)

    # --- learner record ---------------------------------------------------------------------

    async def learner_record(self, user: SignedIn, learner_id: str) -> LearnerRecord:
        learner = await self._get(user, "learner", f"/v1/learners/{learner_id}")
        unavailable: list[str] = []
        ilr, history, timeline, sent = await asyncio.gather(
            self._optional(
                self._get(user, "ilr", f"/v1/learners/{learner_id}/ilr"),
                f"/v1/learners/{learner_id}/ilr",
                unavailable,
            ),
            self._optional(
                every_item(self._apis, user.token, "ilr", f"/v1/learners/{learner_id}/ilr/history"),
                f"/v1/learners/{learner_id}/ilr/history",
                unavailable,
            ),
            self._optional(
                self._get(user, "audit", f"/v1/audit/learners/{learner_id}/timeline"),
                f"/v1/audit/learners/{learner_id}/timeline",
                unavailable,
            ),
            self._optional(
                self._get(
                    user, "notify", f"/v1/learners/{learner_id}/notifications", limit=PAGE_SIZE
                ),
                f"/v1/learners/{learner_id}/notifications",
                unavailable,
            ),
        )
        return LearnerRecord(
            learner=learner,
            ilr=ilr,
            versions=list(reversed(version_changes(history or []))),
            timeline=timeline["items"] if timeline else None,
            unavailable=unavailable,
            notifications=sent["items"] if sent else None,
        )

    @staticmethod
    async def _optional(read: Awaitable[Any], path: str, unavailable: list[str]) -> Any:
        """A part of a page the person may not see (or that does not exist yet) is left out
        and named, rather than hiding the whole page."""
        try:
            return await read
        except ApiRefusedError as refusal:
            if not refusal.hides_the_page:
                raise
            unavailable.append(path)
            return None

    # --- support: audit search ----------------------------------------------------------------

    async def audit_search(
        self, user: SignedIn, filters: AuditFilters, verify: bool = False
    ) -> AuditSearch:
        """A page of the audit log the filters select (none chosen: no search), the learner
        named by name, ULN or id first found in the learner service; with ``verify``, the
        audit service's check of the tenant's hash chains."""
        search = AuditSearch(filters, errors=filters.errors())
        if verify:
            await self._verify(user, search)
        if search.errors or not filters.chosen:
            return search
        search.searched = True
        if filters.learner:
            await self._find_learner(user, search)
            if search.learner is None:
                return search
        learner_id = search.learner["id"] if search.learner else None
        params = {**filters.params(learner_id), "cursor": filters.cursor}
        events = await self._get(user, "audit", "/v1/audit/events", limit=AUDIT_PAGE_SIZE, **params)
        search.events, search.next_cursor = events["items"], events["next_cursor"]
        return search

    async def _find_learner(self, user: SignedIn, search: AuditSearch) -> None:
        """The one learner the text names: an exact id or ULN, else the only match of the
        learner service's search; several matches are offered to choose from."""
        text = search.filters.learner
        found = (await self._get(user, "learner", "/v1/learners", q=text, limit=PAGE_SIZE))["items"]
        exact = [x for x in found if text in (x.get("id"), x.get("uln"))]
        if len(exact) == 1 or len(found) == 1:
            search.learner = (exact or found)[0]
        else:
            search.candidates = found

    async def _verify(self, user: SignedIn, search: AuditSearch) -> None:
        try:
            search.verification = await self._get(user, "audit", "/v1/audit/verify")
        except ApiRefusedError as refusal:
            if not refusal.hides_the_page:
                raise
            search.verification_refused = True

    async def export_audit(self, user: SignedIn, filters: AuditFilters, fmt: str) -> Download:
        """The search's selection (every page of it) as the audit service's CSV or XLSX."""
        if filters.errors() or not filters.chosen:
            raise NoSuchSelectionError()
        search = AuditSearch(filters)
        if filters.learner:
            await self._find_learner(user, search)
            if search.learner is None:
                raise NoSuchSelectionError()
        learner_id = search.learner["id"] if search.learner else None
        return await self._apis.download(
            user.token, "audit", f"/v1/audit/export.{fmt}", params=filters.params(learner_id)
        )

    # --- notifications -----------------------------------------------------------------------

    async def notifications(self, user: SignedIn) -> dict[str, Any]:
        """The person's newest in-app notifications (``items``) and how many are ``unread``."""
        return dict(await self._get(user, "notify", "/v1/notifications", limit=PAGE_SIZE))

    async def unread_count(self, user: SignedIn) -> int:
        answer = await self._get(user, "notify", "/v1/notifications/unread-count")
        return int(answer["unread"])

    # --- tenant settings (tenant admin, operator) ----------------------------------------------

    async def tenant_settings(self, user: SignedIn) -> SettingsPage:
        settings, types, admins, groups = await asyncio.gather(
            self._get(user, "tracker", "/v1/tracker-settings"),
            every_item(self._apis, user.token, "tracker", "/v1/tracker-types"),
            self._admins(user),
            self._groups(user),
        )
        page = SettingsPage(types, TenantForm.of(settings), admins=admins, groups=groups)
        page.rules = list(settings.get("allocation_rules") or [])
        return page

    async def _groups(self, user: SignedIn) -> list[str] | None:
        """The tenant's learner groups to choose from; None (typed) on any refusal, as
        :meth:`_admins`."""
        try:
            groups = await every_item(self._apis, user.token, "learner", "/v1/groups")
        except ApiRefusedError:
            return None
        return [str(group) for group in groups]

    async def add_allocation_rule(self, user: SignedIn, rule: RuleForm) -> SettingsPage:
        """Add a rule after the others (the first rule that matches a tracker wins): the page,
        with the typed rule and the API's refusal on its inputs if it refused."""
        page = await self.tenant_settings(user)
        page.rule = rule
        return await self._save_rules(user, page, [*page.rules, rule.body()])

    async def remove_allocation_rule(self, user: SignedIn, rule: RuleForm) -> SettingsPage:
        """Remove the first rule equal to ``rule`` (named by its content, not its place, so a
        rule added meanwhile by someone else is not the one removed); one already gone is no
        error."""
        page = await self.tenant_settings(user)
        place = next((i for i, r in enumerate(page.rules) if rule.matches(r)), None)
        if place is None:
            return page
        return await self._save_rules(user, page, page.rules[:place] + page.rules[place + 1 :])

    async def _save_rules(
        self, user: SignedIn, page: SettingsPage, rules: list[dict[str, Any]]
    ) -> SettingsPage:
        try:
            await self._put(user, "tracker", "/v1/tracker-settings", {"allocation_rules": rules})
        except ApiRefusedError as refusal:
            if refusal.hides_the_page:
                raise
            page.errors = rule_errors(refusal.field_errors or [("", refusal.detail)])
            return page
        return await self.tenant_settings(user)

    async def save_type(self, user: SignedIn, tracker_type: str, form: TypeForm) -> SettingsPage:
        """Switch a type on or off and set who may raise, edit and process it: the page, with
        the API's refusal on that type's form if it refused."""
        page = await self.tenant_settings(user)
        view = next((t for t in page.types if t["type"] == tracker_type), None)
        if view is None:
            raise NoSuchTrackerTypeError()
        body = form.body()
        if view["custom"]:  # a custom type is set with its definition, which stays as it is
            body |= {k: view[k] for k in ("title", "description", "fields")}
        try:
            await self._put(user, "tracker", f"/v1/tracker-types/{tracker_type}", body)
        except ApiRefusedError as refusal:
            if refusal.hides_the_page:
                raise
            reasons = [f"{name} {reason}" for name, reason in refusal.field_errors]
            page.errors = [
                FieldError(type_field(tracker_type), "; ".join(reasons) or refusal.detail)
            ]
            return page
        return await self.tenant_settings(user)

    async def save_tenant(self, user: SignedIn, form: TenantForm) -> SettingsPage:
        """Two-person control and the withdrawal-reason mapping: the page, with the typed form
        and the errors on its fields if the lines or the API refused."""
        reason_map = form.reason_map()
        page = await self.tenant_settings(user)
        page.tenant, page.errors = form, form.errors
        if form.errors:
            return page
        body = {"two_person_control": form.two_person_control, "withdrawal_reason_map": reason_map}
        try:
            await self._put(user, "tracker", "/v1/tracker-settings", body)
        except ApiRefusedError as refusal:
            if refusal.hides_the_page:
                raise
            page.errors = settings_errors(refusal.field_errors or [("", refusal.detail)])
            return page
        return await self.tenant_settings(user)


ALLOCATE_FORM = {
    "allocated_to": FormField("allocate-to", "Allocate to"),
    "reason": FormField("allocate-reason", "Reason"),
}


def type_inputs(tracker_type: str) -> str:
    """What the ids of a type's inputs on the settings page start with."""
    return "type-" + tracker_type.replace(CUSTOM_PREFIX, "custom-")


def type_field(tracker_type: str) -> str:
    """The id of a type's first input (its switch), which its errors link to."""
    return type_inputs(tracker_type) + "-enabled"


def _query_string(chosen: dict[str, str]) -> str:
    """A list's chosen filters (the empty ones left out) as a query string."""
    return urlencode({name: value for name, value in chosen.items() if value})


def _with_cursor(query: str, cursor: str) -> str:
    """``query`` with the cursor of the next page added."""
    return "&".join(part for part in (query, urlencode({"cursor": cursor})) if part)
