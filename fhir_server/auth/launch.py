"""EHR launch handles (https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch).

The EHR sends the browser to ``{launch_uri}?iss={FHIR base}&launch={handle}``. The handle is opaque and short-lived;
the context it stands for (user, patient, encounter, clinic, client) is kept server-side, only its hash stored, and it
binds to the client it was made for. The app passes it back in the authorization request with the ``launch`` scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from fhir_server.access.patient_context import is_portal, may_have_in_context
from fhir_server.auth import audit_events
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.clients import digest, find_client
from fhir_server.auth.grants import new_secret
from fhir_server.db import LaunchContext, Patient, User
from fhir_server.db.types import utcnow


class LaunchError(ValueError):
    """A launch cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Launch:
    """A new launch: its handle and the URL that starts the app."""

    handle: str
    url: str


def create_launch(
    session: Session,
    *,
    user: User,
    client_id: str,
    patient: Patient,
    base_url: str,
    lifetime_seconds: int,
    origin: Origin,
    encounter_id: str | None = None,
) -> Launch:
    """A launch of ``client_id`` by ``user`` (a clinician: never a portal login) for ``patient`` (of the user's
    clinic)."""
    if is_portal(user):
        raise LaunchError("a patient's own login cannot launch apps for a patient")
    client = find_client(session, client_id)
    if client is None or not client.row.launch_uri:
        raise LaunchError("the app is unknown, revoked or has no launch URL")
    if client.organization_id != user.organization_id or not may_have_in_context(session, user, patient):
        raise LaunchError("the app and the patient must belong to the user's clinic")
    handle = new_secret()
    session.add(
        LaunchContext(
            launch_hash=digest(handle),
            client_id=client_id,
            user_id=user.id,
            organization_id=user.organization_id,
            patient_id=patient.fhir_id,
            encounter_id=encounter_id,
            context={"patient_uuid": str(patient.id), "need_patient_banner": True},
            expires_at=utcnow() + timedelta(seconds=lifetime_seconds),
        )
    )
    audit_events.record(
        session,
        audit_events.LAUNCH_CREATED,
        origin,
        user_id=user.id,
        client_id=client_id,
        organization_id=user.organization_id,
        patient_id=patient.id,
    )
    query = urlencode({"iss": base_url, "launch": handle})
    separator = "&" if "?" in client.row.launch_uri else "?"
    return Launch(handle, f"{client.row.launch_uri}{separator}{query}")


def resolve_launch(session: Session, handle: str | None, client_id: str) -> LaunchContext | None:
    """The live launch ``handle`` stands for, when it was made for ``client_id`` (or for any client)."""
    if not handle or len(handle) > 200:
        return None
    row = session.get(LaunchContext, digest(handle))
    if row is None or row.expires_at <= utcnow():
        return None
    if row.client_id is not None and row.client_id != client_id:
        return None
    return row


def launch_context(row: LaunchContext) -> dict[str, Any]:
    """The token-response context a launch contributes (patient as a bare id, encounter when known)."""
    context: dict[str, Any] = {"need_patient_banner": bool(row.context.get("need_patient_banner", True))}
    if row.patient_id:
        context["patient"] = row.patient_id
        context["patient_uuid"] = row.context.get("patient_uuid")
    if row.encounter_id:
        context["encounter"] = row.encounter_id
    return context
