"""Pages for a logged-in user: the EHR launcher and the list of apps with access.

``GET|POST {base}/auth/launch`` is the minimal EHR: a clinician picks an app (one with a launch URL, of the clinic)
and a patient, and the browser goes to ``{launch_uri}?iss=...&launch=...``
(https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch).
``GET|POST {base}/auth/manage`` lists the user's live grants and revokes one at the user's request (its refresh
token and every access token end at once): the SMART ``management_endpoint``.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from fhir_server.access.patient_context import is_portal
from fhir_server.auth import audit_events
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.authorize import _form, in_transaction
from fhir_server.auth.branding import clinic_name
from fhir_server.auth.grants import revoke_grant
from fhir_server.auth.launch import LaunchError, create_launch
from fhir_server.auth.login import session_user
from fhir_server.auth.pages import error_page, redirect, render, session_cookie, settings_of
from fhir_server.auth.patient_picker import PatientSearch, picker_values
from fhir_server.db import Grant, OAuthClient, Patient, User

router = APIRouter(include_in_schema=False)


def _login_page(request: Request, after: str) -> Response:
    return render(request, "login", {"next": after}, 401)


class PortalRefused(str):
    """The launcher's answer to a patient's own login (a 403 page)."""


PORTAL_REFUSED = PortalRefused("The EHR launcher is for the clinic's staff; a patient's own login cannot use it.")


def _launcher_values(
    session: Session, user: User, selected: str | None, search: PatientSearch | None = None
) -> dict[str, Any]:
    clients = session.scalars(
        select(OAuthClient)
        .where(
            OAuthClient.organization_id == user.organization_id,
            OAuthClient.revoked_at.is_(None),
            OAuthClient.launch_uri.is_not(None),
        )
        .order_by(OAuthClient.name)
    ).all()
    return {
        "user": user.full_name,
        "clients": [{"client_id": c.client_id, "name": c.name} for c in clients],
        "selected": selected,
        "clinic": clinic_name(session, user.organization_id),
        **picker_values(session, user, search or PatientSearch()),
    }


@router.get("/launch")
async def launcher(request: Request) -> Response:
    """The launcher page (login first), its patients searched by the query's ``name``, ``mrn`` and ``birthdate``."""
    selected, search = request.query_params.get("client_id"), PatientSearch.of(request.query_params)

    def page(session: Session) -> dict[str, Any] | PortalRefused | None:
        user = session_user(session, session_cookie(request))
        if user is not None and is_portal(user):
            return PORTAL_REFUSED
        return _launcher_values(session, user, selected, search) if user else None

    values = await in_transaction(request, page)
    if isinstance(values, PortalRefused):
        return error_page(request, values, 403)
    return _login_page(request, "launch") if values is None else render(request, "launch", values)


@router.post("/launch")
async def launch(request: Request) -> Response:
    """Create the launch handle and send the browser to the app's launch URL."""
    form = dict(await _form(request))
    settings, origin = settings_of(request), Origin.of(request)

    def start(session: Session) -> str | dict[str, Any] | None:
        """The app's launch URL, the launcher again with a message, the portal refusal, or None (log in first)."""
        user = session_user(session, session_cookie(request))
        if user is None:
            return None
        if is_portal(user):
            return PORTAL_REFUSED
        patient = session.scalars(select(Patient).where(Patient.fhir_id == form.get("patient", ""))).first()
        try:
            if patient is None:
                raise LaunchError("choose a patient")
            return create_launch(
                session,
                user=user,
                client_id=form.get("client_id", ""),
                patient=patient,
                base_url=settings.base_url,
                lifetime_seconds=settings.launch_lifetime,
                origin=origin,
            ).url
        except LaunchError as exc:
            return {**_launcher_values(session, user, form.get("client_id")), "message": str(exc)}

    outcome = await in_transaction(request, start)
    if outcome is None:
        return _login_page(request, "launch")
    if isinstance(outcome, PortalRefused):
        return error_page(request, outcome, 403)
    if isinstance(outcome, dict):
        return render(request, "launch", outcome, 400)
    return redirect(outcome)


def _grants(session: Session, user: User) -> list[dict[str, str]]:
    rows = session.execute(
        select(Grant, OAuthClient.name)
        .join(OAuthClient, OAuthClient.client_id == Grant.client_id)
        .where(Grant.user_id == user.id, Grant.revoked_at.is_(None), Grant.refresh_token_hash.is_not(None))
        .order_by(Grant.created_at.desc())
    ).all()
    return [
        {"id": str(g.id), "app": name, "created": g.created_at.strftime("%Y-%m-%d %H:%M"), "scope": g.scope}
        for g, name in rows
    ]


@router.get("/manage")
async def manage(request: Request) -> Response:
    """The apps that keep access (grants with a refresh token) of the logged-in user."""

    def page(session: Session) -> dict[str, Any] | None:
        user = session_user(session, session_cookie(request))
        if user is None:
            return None
        return {
            "user": user.full_name,
            "grants": _grants(session, user),
            "clinic": clinic_name(session, user.organization_id),
        }

    values = await in_transaction(request, page)
    return _login_page(request, "manage") if values is None else render(request, "manage", values)


@router.post("/manage")
async def revoke_from_page(request: Request) -> Response:
    """Revoke one of the user's grants."""
    form = dict(await _form(request))
    origin = Origin.of(request)

    def revoke(session: Session) -> bool:
        user = session_user(session, session_cookie(request))
        if user is None:
            return False
        try:
            grant = session.get(Grant, uuid.UUID(form.get("grant", "")))
        except ValueError:
            grant = None
        if grant is not None and grant.user_id == user.id and grant.revoked_at is None:
            revoke_grant(session, grant)
            audit_events.record(
                session,
                audit_events.TOKEN_REVOKED,
                origin,
                user_id=user.id,
                client_id=grant.client_id,
                organization_id=grant.organization_id,
                detail={"grant": str(grant.id), "revoked": "grant", "by": "user"},
            )
        return True

    done = await in_transaction(request, revoke)
    return redirect(f"{settings_of(request).base_url}/auth/manage") if done else _login_page(request, "manage")
