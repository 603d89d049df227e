"""The authorization request, from its arrival to the code (RFC 6749 section 4.1, SMART App Launch
https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code).

On arrival the request is validated (client, exact redirect URI, response type, scope, ``aud`` = this FHIR base,
PKCE S256, ``launch``) and stored server-side under a random handle bound to the browser by a cookie, so a cross-site
form POST survives the login redirect without any CSRF token. Errors about the client or redirect URI are shown as a
page; later errors go back to the app as ``error=`` redirects with ``state``. Then, step by step: login, patient
picker (when a patient must be in context and the launch gave none), consent (the user may untick scopes), code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import OAuth2Error
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fhir_server.access.digests import digest
from fhir_server.access.patient_context import context_allowed, is_portal, may_have_in_context, own_patient
from fhir_server.access.scopes import parse_scopes
from fhir_server.access.user_scopes import grantable
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.branding import clinic_name
from fhir_server.auth.grants import new_secret
from fhir_server.auth.launch import launch_context
from fhir_server.auth.oauth_server import FormRequest, SmartServer
from fhir_server.auth.patient_picker import PatientSearch, patient_name, picker_values
from fhir_server.auth.token import build_server
from fhir_server.db import AuthorizationCode, AuthorizationRequest, LaunchContext, OAuthClient, Patient, User
from fhir_server.db.types import utcnow
from fhir_server.settings import Settings

REQUEST_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class Redirect:
    """Send the browser to ``location`` (the app's redirect URI with a code or an error)."""

    location: str


@dataclass(frozen=True)
class ErrorPage:
    """Show an error page (the app cannot be told: bad client or redirect URI, or a stale request)."""

    message: str
    status: int = 400


@dataclass(frozen=True)
class Page:
    """Show one of the flow's pages (``login``, ``pick_patient``, ``consent``) with ``values``."""

    template: str
    values: dict[str, Any] = field(default_factory=dict)
    status: int = 200


Step = Redirect | ErrorPage | Page


def validated(server: SmartServer, pairs: list[tuple[str, str]]) -> tuple[Any, FormRequest]:
    """Authlib's validation of an authorization request (raises OAuth2Error)."""
    request = FormRequest("GET", server.endpoints.authorize, {}, pairs)
    grant = server.get_consent_grant(request)
    return grant, request


def _error_step(error: OAuth2Error) -> Step:
    if error.redirect_uri:
        _status, _body, headers = error()
        return Redirect(dict(headers)["Location"])
    return ErrorPage(error.description or error.error or "invalid authorization request")


def start(session: Session, settings: Settings, pairs: list[tuple[str, str]], origin: Origin, binding: str) -> Step:
    """Validate and store a new authorization request; its first step is the flow page of its handle."""
    server = build_server(session, settings, origin)
    try:
        grant, request = validated(server, pairs)
    except OAuth2Error as error:
        return _error_step(error)
    _forget_expired(session)
    handle = new_secret()
    launch: LaunchContext | None = request.smart.get("launch")
    row = AuthorizationRequest(
        handle_hash=digest(handle),
        client_id=request.payload.client_id,
        parameters={"pairs": pairs, "scope": request.scope, "redirect_uri": grant.redirect_uri},
        session_hash=digest(binding),
        launch_hash=launch.launch_hash if launch else None,
        expires_at=utcnow() + REQUEST_LIFETIME,
    )
    session.add(row)
    return Redirect(f"{settings.base_url}/auth/flow?{urlencode({'request': handle})}")


def _forget_expired(session: Session) -> None:
    """Drop authorization requests and codes past their lifetime (a day late for codes: replays stay refused)."""
    now = utcnow()
    session.execute(delete(AuthorizationRequest).where(AuthorizationRequest.expires_at < now))
    session.execute(delete(AuthorizationCode).where(AuthorizationCode.expires_at < now - timedelta(days=1)))


def load(session: Session, handle: str | None, binding: str | None) -> AuthorizationRequest | None:
    """The pending request of ``handle``, when this browser (its binding cookie) started it."""
    if not handle or not binding or len(handle) > 200:
        return None
    row = session.get(AuthorizationRequest, digest(handle))
    if row is None or row.completed_at is not None or row.expires_at <= utcnow():
        return None
    return row if row.session_hash == digest(binding) else None


STALE = ErrorPage(
    "This authorization request is unknown, expired or was started in another browser. Start again from the app."
)


def next_step(
    session: Session,
    settings: Settings,
    row: AuthorizationRequest,
    user: User | None,
    handle: str,
    search: PatientSearch | None = None,
) -> Step:
    """What the browser sees next: login, patient picker (listing the patients ``search`` finds) or consent (or a
    refusal: a user of another clinic than the app's, a launch of another user, a portal login without a patient
    record of its own). Every page names the app's clinic."""
    client = session.get(OAuthClient, row.client_id)
    if client is None:
        return STALE
    clinic = clinic_name(session, client.organization_id)
    if row.user_id is None:
        if user is None:
            return Page("login", {"handle": handle, "app": client.name, "clinic": clinic})
        row.user_id = user.id
    user = session.get(User, row.user_id)
    if user is None:
        return STALE
    if user.organization_id != client.organization_id:
        return refuse(row, "The user is not of the clinic this app is registered with.")
    launch = session.get(LaunchContext, row.launch_hash) if row.launch_hash else None
    if launch is not None and launch.user_id is not None and launch.user_id != user.id:
        return ErrorPage("This launch was started by another user.", 403)
    if is_portal(user):
        own = own_patient(session, user)
        if own is None:
            return ErrorPage("This login has no patient record of its own.", 403)
        row.patient_id = own.fhir_id
    if needs_patient(offered(row, user), launch) and row.patient_id is None:
        values = picker_values(session, user, search or PatientSearch())
        return Page("pick_patient", {"handle": handle, "app": client.name, "clinic": clinic, **values})
    return Page("consent", {**_consent_values(session, row, client, user, launch, handle), "clinic": clinic})


def choose_patient(
    session: Session, settings: Settings, row: AuthorizationRequest, user: User, patient_id: str, handle: str
) -> Step:
    """The patient chosen on the picker: one ``user`` may have in context (a portal login: only themselves). No
    choice at all shows the picker again (400): nobody is chosen for the user."""
    if not patient_id:
        step = next_step(session, settings, row, user, handle)
        if isinstance(step, Page) and step.template == "pick_patient":
            return Page(step.template, {**step.values, "message": "Choose a patient first."}, 400)
        return step
    patient = session.scalars(select(Patient).where(Patient.fhir_id == patient_id)).first()
    if patient is None or not may_have_in_context(session, user, patient):
        return ErrorPage("You may not choose that patient.", 403)
    row.patient_id = patient.fhir_id
    return next_step(session, settings, row, user, handle)


def needs_patient(offered_scopes: list[str], launch: LaunchContext | None) -> bool:
    """True when a scope the user may be granted wants a patient in context and the launch brings none."""
    scopes = parse_scopes(offered_scopes)
    launch_patient = launch is not None and "launch" in scopes and launch.patient_id
    wants = "launch/patient" in scopes or any(s.context == "patient" for s in scopes.resource)
    return wants and not launch_patient


def _consent_values(
    session: Session,
    row: AuthorizationRequest,
    client: OAuthClient,
    user: User,
    launch: LaunchContext | None,
    handle: str,
) -> dict[str, Any]:
    scopes = offered(row, user)
    patient_id = row.patient_id or (launch.patient_id if launch else None)
    patient = session.scalars(select(Patient).where(Patient.fhir_id == patient_id)).first() if patient_id else None
    return {
        "handle": handle,
        "app": client.name,
        "user": user.full_name,
        "scopes": [{"value": s, "label": describe_scope(s)} for s in scopes],
        "offline": "offline_access" in scopes,
        "patient": patient_name(patient) if patient else None,
    }


_LETTERS = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
_OTHER = {
    "openid": "Know who you are (OpenID Connect)",
    "fhirUser": "Know which FHIR record you are (your Practitioner or Patient record)",
    "profile": "Know which FHIR record you are (legacy profile scope)",
    "launch": "Receive the context of the launch (the patient open in the EHR)",
    "launch/patient": "Know which patient you choose",
    "launch/encounter": "Know which encounter you choose",
    "offline_access": "Keep access after you close the app, until you revoke it (offline access)",
    "online_access": "Keep access while you are logged in",
}


def describe_scope(scope: str) -> str:
    """A sentence a user understands, for the consent page."""
    if scope in _OTHER:
        return _OTHER[scope]
    parsed = parse_scopes(scope).resource
    if not parsed:
        return scope
    s = parsed[0]
    what = "all record types" if s.resource_type == "*" else f"{s.resource_type} records"
    verbs = ", ".join(_LETTERS[c] for c in "cruds" if c in s.permissions)
    whose = {"patient": "of the patient", "user": "you can access", "system": "of the clinic"}[s.context]
    only = f" (only where {'&'.join(f'{k}={v}' for k, v in s.restrictions)})" if s.restrictions else ""
    return f"{verbs.capitalize()} {what} {whose}{only}"


def deny(session: Session, row: AuthorizationRequest) -> Redirect:
    """The user said no: back to the app with ``error=access_denied``."""
    return refuse(row, "The user denied the request.")


def refuse(row: AuthorizationRequest, description: str) -> Redirect:
    """End the request: back to the app with ``error=access_denied`` (RFC 6749 section 4.1.2.1) and ``state``."""
    row.completed_at = utcnow()
    params = {"error": "access_denied", "error_description": description}
    state = dict(row.parameters["pairs"]).get("state")
    if state:
        params["state"] = state
    uri = row.parameters["redirect_uri"]
    return Redirect(f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}")


def offered(row: AuthorizationRequest, user: User) -> list[str]:
    """The scopes the consent page offers: those requested (and registered for the client) that ``user`` may be
    granted (:func:`fhir_server.access.user_scopes.grantable`)."""
    return grantable(row.parameters["scope"].split(), user.role)


def approve(session: Session, settings: Settings, row: AuthorizationRequest, ticked: list[str], origin: Origin) -> Step:
    """Issue the code for the scopes the user left ticked (of those offered) and send the browser to the app.

    Checked again here, whatever the pages before allowed: the user is of the app's clinic, and a portal login's
    context is their own record."""
    user = session.get(User, row.user_id)
    client = session.get(OAuthClient, row.client_id)
    if user is None or client is None:
        return STALE
    if user.organization_id != client.organization_id:
        return refuse(row, "The user is not of the clinic this app is registered with.")
    granted = [s for s in offered(row, user) if s in set(ticked)]
    if not granted:
        return deny(session, row)
    server = build_server(session, settings, origin)
    try:
        grant, request = validated(server, row.parameters["pairs"])
    except OAuth2Error as error:
        return _error_step(error)
    launch = session.get(LaunchContext, row.launch_hash) if row.launch_hash else None
    context = code_context(session, settings, row.patient_id, launch, granted)
    if not context_allowed(session, user, context):
        return refuse(row, "A patient's own login can only act for that patient.")
    request.scope = " ".join(granted)
    request.smart["context"] = context
    _status, _body, headers = grant.create_authorization_response(grant.redirect_uri, user)
    row.completed_at = utcnow()
    return Redirect(dict(headers)["Location"])


def code_context(
    session: Session, settings: Settings, patient_id: str | None, launch: LaunchContext | None, granted: list[str]
) -> dict[str, Any]:
    """The launch context a code carries: banner and style, the launch's context (when ``launch`` is granted), else
    the patient ``patient_id`` (a FHIR id) chosen for the request."""
    context: dict[str, Any] = {
        "need_patient_banner": True,
        "smart_style_url": f"{settings.base_url}/auth/smart-style.json",
    }
    if launch is not None and "launch" in granted:
        context.update(launch_context(launch))
    if patient_id and "patient" not in context:
        patient = session.scalars(select(Patient).where(Patient.fhir_id == patient_id)).first()
        if patient is not None:
            context["patient"] = patient.fhir_id
            context["patient_uuid"] = str(patient.id)
    return context
