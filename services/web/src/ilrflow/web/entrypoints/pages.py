"""The console's pages: read the session, check the form's CSRF token, call one use case,
render its template. Every refusal of the APIs is rendered here, in one place."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ilrflow.contracts.identity import ROLES
from ilrflow.web.adapters.development_sign_in import DevelopmentSignIn
from ilrflow.web.adapters.oidc_sign_in import OidcSignIn, SignInFailedError
from ilrflow.web.adapters.session import COOKIE, MAX_AGE_SECONDS, SessionCodec
from ilrflow.web.domain.forms import AddressForm, ContactForm, NameForm
from ilrflow.web.domain.session import PendingSignIn, Session, SignedIn
from ilrflow.web.domain.settings import VERBS, RuleForm, TenantForm, TypeForm
from ilrflow.web.service.console import (
    AUDIT_EVENT_TYPES,
    TRACKER_STATUSES,
    AuditFilters,
    Console,
    RequestForm,
    SettingsPage,
    TrackerFilters,
    TrackerPage,
    type_inputs,
)
from ilrflow.web.service.ports import ApiRefusedError

router = APIRouter(include_in_schema=False)


class SignInNeededError(Exception):
    """No one is signed in, or their token is no longer accepted."""


class FormExpiredError(Exception):
    """A form came back without this session's CSRF token."""


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def session(request: Request) -> Session:
    codec: SessionCodec = request.app.state.session_codec
    loaded = codec.loads(request.cookies.get(COOKIE))
    request.state.session = loaded
    return loaded


def signed_in(current: Annotated[Session, Depends(session)]) -> SignedIn:
    if current.user is None:
        raise SignInNeededError()
    return current.user


async def checked_form(
    request: Request, current: Annotated[Session, Depends(session)]
) -> dict[str, Any]:
    """The posted form, once its CSRF token is this session's."""
    form = await request.form()
    if not current.csrf_matches(str(form.get("csrf", ""))):
        raise FormExpiredError()
    return {key: form.getlist(key) if key in LIST_FIELDS else form.get(key) for key in form}


# Inputs a form may post more than once: address lines, a type's role checkboxes, and an
# allocation rule's types.
LIST_FIELDS = frozenset({"line", "tracker_types", *(f"{verb}_roles" for verb in VERBS)})


UseCases = Annotated[Console, Depends(console)]
User = Annotated[SignedIn, Depends(signed_in)]
Form = Annotated[dict[str, Any], Depends(checked_form)]


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    current: Session = getattr(request.state, "session", None) or Session()
    response = templates.TemplateResponse(
        request,
        template,
        {"session": current, "user": current.user, "csrf": current.csrf, **context},
        status_code=status,
    )
    keep_session(request, response, current)
    return response


def redirect(request: Request, url: str, current: Session | None = None) -> Response:
    response = RedirectResponse(url, status_code=303)
    if current is not None:
        keep_session(request, response, current)
    return response


def keep_session(request: Request, response: Response, current: Session) -> None:
    codec: SessionCodec = request.app.state.session_codec
    response.set_cookie(
        COOKIE,
        codec.dumps(current),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def home_of(user: SignedIn) -> str:
    if user.has_role("learner"):
        return "/about-you"
    if user.has_role("admin", "tutor", "ilr_qa"):
        return "/trackers"
    return "/audit"


# --- sign in -------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, current: Annotated[Session, Depends(session)]) -> Response:
    return redirect(request, home_of(current.user) if current.user else "/sign-in")


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(
    request: Request, current: Annotated[Session, Depends(session)], tenant: str = ""
) -> Response:
    method: DevelopmentSignIn | None = request.app.state.sign_in
    tenant = tenant or request.app.state.default_tenant
    people = None
    if method is not None:
        try:
            people = await method.people(tenant)
        except (ApiRefusedError, ValueError):
            people = []
    return sign_in_form(request, people, tenant)


def sign_in_form(
    request: Request, people: Any, tenant: str, failure: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "sign_in.html",
        status,
        people=people,
        tenant=tenant,
        single_sign_on=request.app.state.single_sign_on is not None,
        failure=failure,
        title="Sign in",
    )


@router.post("/sign-in")
async def sign_in(request: Request, form: Form) -> Response:
    method: DevelopmentSignIn | None = request.app.state.sign_in
    if method is None:
        return redirect(request, "/sign-in")
    user = await method.sign_in(str(form.get("tenant", "")), str(form.get("person", "")))
    if user is None:
        return redirect(request, "/sign-in")
    fresh = Session(user=user)  # a new CSRF token with every sign-in
    return redirect(request, home_of(user), fresh)


def single_sign_on(request: Request) -> OidcSignIn:
    found: OidcSignIn | None = request.app.state.single_sign_on
    if found is None:
        raise ApiRefusedError(404, {"detail": "single sign-on is not configured"})
    return found


SingleSignOn = Annotated[OidcSignIn, Depends(single_sign_on)]


@router.get("/sign-in/oidc")
async def start_single_sign_on(
    request: Request, current: Annotated[Session, Depends(session)], provider: SingleSignOn
) -> Response:
    """Off to the identity provider, this sign-in's state, nonce and PKCE verifier kept in the
    signed session cookie until the provider sends the browser back."""
    pending = PendingSignIn()
    try:
        url = await provider.authorization_url(pending, callback_url(request))
    except SignInFailedError as error:
        return sign_in_form(request, None, "", str(error), 503)
    return redirect(request, url, Session(csrf=current.csrf, pending=pending))


@router.get("/sign-in/callback", name="sign_in_callback")
async def finish_single_sign_on(
    request: Request, current: Annotated[Session, Depends(session)], provider: SingleSignOn
) -> Response:
    answer = {key: str(value) for key, value in request.query_params.items()}
    try:
        user = await provider.finish(current.pending, answer, callback_url(request))
    except SignInFailedError as error:
        request.state.session = Session(csrf=current.csrf)  # the pending sign-in is spent
        return sign_in_form(request, None, "", f"Sign-in did not complete: {error}.", 400)
    return redirect(request, home_of(user), Session(user=user))


def callback_url(request: Request) -> str:
    return str(request.url_for("sign_in_callback"))


@router.post("/sign-out")
async def sign_out(
    request: Request, form: Form, current: Annotated[Session, Depends(session)]
) -> Response:
    provider: OidcSignIn | None = request.app.state.single_sign_on
    if provider is not None and current.user is not None and current.user.method == "oidc":
        # The provider's session ends too, or the next "Sign in" would be silent.
        ended = await provider.end_session_url(str(request.url_for("sign_in_page")))
        if ended is not None:
            return redirect(request, ended, Session())
    return redirect(request, "/sign-in", Session())


# --- learner: about you --------------------------------------------------------------------------


@router.get("/about-you", response_class=HTMLResponse)
async def about_you(
    request: Request, user: User, use_cases: UseCases, raised: str = ""
) -> Response:
    page = await use_cases.about_you(user)
    return render(request, "about_you.html", page=page, raised_id=raised, title="About you")


@router.post("/about-you/{kind}")
async def request_change(
    request: Request, kind: str, user: User, use_cases: UseCases, form: Form
) -> Response:
    typed = typed_form(kind, form)
    page = await use_cases.request_change(user, kind, typed)
    if page.raised is not None:
        return redirect(request, f"/about-you?raised={page.raised['id']}")
    return render(request, "about_you.html", 422, page=page, raised_id="", title="About you")


def typed_form(kind: str, form: dict[str, Any]) -> RequestForm:
    def text(key: str) -> str:
        return str(form.get(key) or "").strip()

    if kind == "address":
        return AddressForm.typed(form.get("line") or [], text("postcode"))
    if kind == "contact":
        return ContactForm(email=text("email"), phone=text("phone"))
    if kind == "name":
        return NameForm(given_names=text("given_names"), family_name=text("family_name"))
    raise ApiRefusedError(404, {"detail": "no such request"})


# --- trackers ----------------------------------------------------------------------------------


def tracker_filters(
    allocated: str = "",
    type: str = "",
    status: str = "",
    learner: str = "",
    raised_from: Annotated[str, Query(alias="from")] = "",
    raised_to: Annotated[str, Query(alias="to")] = "",
    cursor: str = "",
) -> TrackerFilters:
    """The list's GET parameters, kept across its pages and in its export link."""
    return TrackerFilters(
        allocated=allocated.strip(),
        type=type,
        status=status,
        learner=learner.strip(),
        raised_from=raised_from.strip(),
        raised_to=raised_to.strip(),
        cursor=cursor,
    )


Filters = Annotated[TrackerFilters, Depends(tracker_filters)]


@router.get("/trackers", response_class=HTMLResponse)
async def trackers(request: Request, user: User, use_cases: UseCases, filters: Filters) -> Response:
    page = await use_cases.trackers(user, filters)
    status = 422 if page.errors else 200
    return render(
        request, "trackers.html", status, page=page, statuses=TRACKER_STATUSES, title="Trackers"
    )


@router.get("/trackers/new", response_class=HTMLResponse)
async def raise_form(
    request: Request, user: User, use_cases: UseCases, type: str = "", learner_id: str = ""
) -> Response:
    page = await use_cases.raise_page(user, type, learner_id)
    return render(request, "raise.html", page=page, title="Raise a tracker")


@router.post("/trackers/new")
async def raise_tracker(
    request: Request, user: User, use_cases: UseCases, form: Form, type: str = ""
) -> Response:
    learner_id = str(form.get("learner_id") or "").strip()
    page = await use_cases.raise_tracker(user, type, learner_id, form)
    if page.raised is not None:
        return redirect(request, f"/trackers/{page.raised['id']}")
    return render(request, "raise.html", 422, page=page, title="Raise a tracker")


@router.get("/trackers/export.xlsx")
async def export_trackers(user: User, use_cases: UseCases, filters: Filters) -> Response:
    found = await use_cases.export_trackers(user, filters)
    return Response(
        found.content,
        media_type=found.media_type,
        headers={"content-disposition": found.disposition},
    )


@router.get("/trackers/{tracker_id}", response_class=HTMLResponse)
async def tracker(request: Request, tracker_id: str, user: User, use_cases: UseCases) -> Response:
    page = await use_cases.tracker(user, tracker_id)
    return render(request, "tracker.html", page=page, title=f"Tracker {tracker_id}")


@router.get("/trackers/{tracker_id}/outcome")
async def tracker_outcome(tracker_id: str, user: User, use_cases: UseCases) -> JSONResponse:
    """Polled by the tracker page's script while the ILR outcome of Process is on its way."""
    return JSONResponse({"arrived": await use_cases.outcome_arrived(user, tracker_id)})


@router.post("/trackers/{tracker_id}/allocate")
async def allocate(
    request: Request, tracker_id: str, user: User, use_cases: UseCases, form: Form
) -> Response:
    page = await use_cases.allocate(
        user,
        tracker_id,
        posted_version(form),
        str(form.get("allocated_to") or "").strip(),
        str(form.get("reason") or "").strip(),
    )
    return tracker_answer(request, tracker_id, page)


@router.post("/trackers/{tracker_id}/edit")
async def edit(
    request: Request, tracker_id: str, user: User, use_cases: UseCases, form: Form
) -> Response:
    page = await use_cases.edit(user, tracker_id, posted_version(form), form)
    return tracker_answer(request, tracker_id, page)


def posted_version(form: dict[str, Any]) -> int:
    """The tracker version the form was shown with (the API refuses a stale one)."""
    return int(str(form.get("version") or "0") or 0)


def tracker_answer(request: Request, tracker_id: str, page: TrackerPage) -> Response:
    """Back to the tracker once done; the tracker with the API's reason if it refused."""
    if page.refusal is None:
        return redirect(request, f"/trackers/{tracker_id}")
    status = 422 if page.errors else 409
    return render(request, "tracker.html", status, page=page, title=f"Tracker {tracker_id}")


@router.post("/trackers/{tracker_id}/{action}")
async def decide(
    request: Request, tracker_id: str, action: str, user: User, use_cases: UseCases, form: Form
) -> Response:
    if action not in ("process", "reject"):
        raise ApiRefusedError(404, {"detail": "no such action"})
    reason = str(form.get("reason") or "")
    page = await use_cases.decide(user, tracker_id, action, posted_version(form), reason)
    if page.refusal is None:
        return redirect(request, f"/trackers/{tracker_id}")
    return render(request, "tracker.html", 409, page=page, title=f"Tracker {tracker_id}")


# --- learner record and support ------------------------------------------------------------------


@router.get("/learners/{learner_id}", response_class=HTMLResponse)
async def learner_record(
    request: Request, learner_id: str, user: User, use_cases: UseCases
) -> Response:
    page = await use_cases.learner_record(user, learner_id)
    return render(request, "learner.html", page=page, title="Learner record")


def audit_filters(
    learner: str = "",
    tracker: str = "",
    actor: str = "",
    type: str = "",
    day_from: Annotated[str, Query(alias="from")] = "",
    day_to: Annotated[str, Query(alias="to")] = "",
    cursor: str = "",
) -> AuditFilters:
    """The audit search's GET parameters, kept across its pages and in its export links."""
    return AuditFilters(
        learner=learner.strip(),
        tracker=tracker.strip(),
        actor=actor.strip(),
        type=type,
        day_from=day_from.strip(),
        day_to=day_to.strip(),
        cursor=cursor,
    )


AuditSelection = Annotated[AuditFilters, Depends(audit_filters)]


@router.get("/audit", response_class=HTMLResponse)
async def audit_search(
    request: Request, user: User, use_cases: UseCases, filters: AuditSelection, verify: str = ""
) -> Response:
    page = await use_cases.audit_search(user, filters, verify=verify == "1")
    status = 422 if page.errors else 200
    return render(
        request, "audit.html", status, page=page, types=AUDIT_EVENT_TYPES, title="Audit search"
    )


@router.get("/audit/export.{fmt}")
async def export_audit(
    fmt: Literal["csv", "xlsx"], user: User, use_cases: UseCases, filters: AuditSelection
) -> Response:
    found = await use_cases.export_audit(user, filters, fmt)
    return Response(
        found.content,
        media_type=found.media_type,
        headers={"content-disposition": found.disposition},
    )


# --- notifications ---------------------------------------------------------------------------------


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(request: Request, user: User, use_cases: UseCases) -> Response:
    page = await use_cases.notifications(user)
    return render(request, "notifications.html", page=page, title="Notifications")


@router.get("/notifications/unread-count")
async def unread_count(user: User, use_cases: UseCases) -> JSONResponse:
    """Polled by every page's menu: the count beside *Notifications*. A decoration: when the
    notify service refuses or fails, the count is null and the session is left alone (a
    background poll must not sign the person out of the page they are using)."""
    try:
        return JSONResponse({"unread": await use_cases.unread_count(user)})
    except ApiRefusedError:
        return JSONResponse({"unread": None})


# --- tenant settings -----------------------------------------------------------------------------


@router.get("/settings", response_class=HTMLResponse)
async def tenant_settings(
    request: Request, user: User, use_cases: UseCases, saved: str = ""
) -> Response:
    page = await use_cases.tenant_settings(user)
    return settings_page(request, page, saved)


@router.post("/settings/types/{tracker_type}")
async def save_type(
    request: Request, tracker_type: str, user: User, use_cases: UseCases, form: Form
) -> Response:
    page = await use_cases.save_type(user, tracker_type, TypeForm.posted(form))
    if page.errors:
        return settings_page(request, page, status=422)
    return redirect(request, f"/settings?{urlencode({'saved': tracker_type})}")


@router.post("/settings/tenant")
async def save_tenant(request: Request, user: User, use_cases: UseCases, form: Form) -> Response:
    typed = TenantForm(
        two_person_control=form.get("two_person_control") == "on",
        reasons=str(form.get("withdrawal_reasons") or ""),
    )
    page = await use_cases.save_tenant(user, typed)
    if page.errors:
        return settings_page(request, page, status=422)
    return redirect(request, "/settings?saved=tenant")


@router.post("/settings/allocation-rules")
async def add_allocation_rule(
    request: Request, user: User, use_cases: UseCases, form: Form
) -> Response:
    page = await use_cases.add_allocation_rule(user, RuleForm.posted(form))
    if page.errors:
        return settings_page(request, page, status=422)
    return redirect(request, "/settings?saved=rules#allocation-rules")


@router.post("/settings/allocation-rules/remove")
async def remove_allocation_rule(
    request: Request, user: User, use_cases: UseCases, form: Form
) -> Response:
    page = await use_cases.remove_allocation_rule(user, RuleForm.posted(form))
    if page.errors:
        return settings_page(request, page, status=422)
    return redirect(request, "/settings?saved=rules#allocation-rules")


def settings_page(
    request: Request, page: SettingsPage, saved: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "settings.html",
        status,
        page=page,
        saved=saved,
        roles=ROLES,
        verbs=VERBS,
        type_inputs=type_inputs,
        title="Tenant settings",
    )


# --- what every page may end in ------------------------------------------------------------------


def install_page_errors(app: FastAPI) -> None:
    @app.exception_handler(SignInNeededError)
    async def to_sign_in(request: Request, error: SignInNeededError) -> Response:
        return redirect(request, "/sign-in")

    @app.exception_handler(FormExpiredError)
    async def form_expired(request: Request, error: FormExpiredError) -> Response:
        return render(request, "form_expired.html", 403, title="The form has expired")

    @app.exception_handler(ApiRefusedError)
    async def refused(request: Request, error: ApiRefusedError) -> Response:
        if error.status == 401:
            return redirect(request, "/sign-in", Session())
        if error.hides_the_page:
            return render(request, "not_found.html", 404, title="Page not found")
        return render(request, "unavailable.html", 502, detail=error.detail, title="Sorry")

    @app.exception_handler(404)
    async def no_route(request: Request, error: Exception) -> Response:
        session(request)
        return render(request, "not_found.html", 404, title="Page not found")
