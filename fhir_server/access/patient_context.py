"""Which patient a login may have in context (SMART ``patient`` launch context,
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#launch-context-arrives-with-your-access_token).

A clinician may choose (on the picker or in the EHR launcher) any live patient of their own clinic. A user with
role ``patient`` (a portal login) is only ever in context as themselves, their ``User.patient_id``: they pick no
patient, never reach the launcher, cannot make a launch handle, and a code or token whose context names another
patient is refused. Proxies (a parent acting for a child) are not modelled: a portal login stands for one patient.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fhir_server.db import Patient, User

PORTAL_ROLE = "patient"


def is_portal(user: User) -> bool:
    """True when ``user`` is a patient's own (portal) login."""
    return user.role == PORTAL_ROLE


def own_patient(session: Session, user: User) -> Patient | None:
    """The live patient record of a portal login (None for other users, or when the record is gone)."""
    if not is_portal(user) or user.patient_id is None:
        return None
    patient = session.get(Patient, user.patient_id)
    return patient if patient is not None and patient.deleted_at is None else None


def may_have_in_context(session: Session, user: User, patient: Patient) -> bool:
    """True when ``user`` may have ``patient`` in context: a live patient of the user's clinic, and for a portal
    login only their own record."""
    if patient.deleted_at is not None or patient.organization_id != user.organization_id:
        return False
    return not is_portal(user) or patient.id == user.patient_id


def context_allowed(session: Session, user: User, context: dict[str, Any]) -> bool:
    """True when the launch context of a code or grant (its ``patient``, a FHIR id) may belong to ``user``'s token:
    a portal login's context names no patient but their own."""
    if not is_portal(user):
        return True
    own = own_patient(session, user)
    return context.get("patient") in (None, own.fhir_id if own else None)
