"""Who is looking: the logged-in user of the browser session, and the access context the API derives for that user.

The UI is read-only, so a user's rights here are those of a token granted ``user/*.rs`` to that user: the role caps
it at every request (:meth:`fhir_server.access.context.AccessContext.scopes_allowing`), the clinic bounds every row,
and a portal (patient-role) login is confined to their own compartment, exactly as
:func:`fhir_server.access.bearer.grant_of` and :func:`fhir_server.access.context.context_from` do for a token.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.access.patient_context import is_portal, own_patient
from fhir_server.access.scopes import parse_scopes
from fhir_server.auth.login import session_user
from fhir_server.db import Organization, User

UI_SCOPE = "user/*.rs"
"""The scope a UI page reads with: read and search, never a write."""


@dataclass(frozen=True)
class Viewer:
    """The logged-in user as the pages need them: a name to greet, their clinic and their access context."""

    name: str
    clinic: str
    access: AccessContext

    @property
    def patient_id(self) -> str | None:
        """The FHIR id of the portal user's own Patient (None for the clinic's staff)."""
        return self.access.patient_id


def user_access(session: Session, user: User) -> AccessContext:
    """The access context of ``user``'s read-only UI session (see the module)."""
    own = own_patient(session, user) if is_portal(user) else None
    return AccessContext(
        user_id=user.id,
        scopes=frozenset(parse_scopes(UI_SCOPE).resource),
        patient_id=own.fhir_id if own is not None else None,
        organization_id=user.organization_id,
        role=user.role,
        scope_text=UI_SCOPE,
    )


def viewer_of(session: Session, cookie: str | None) -> Viewer | None:
    """The viewer of a live login session ``cookie``; None when there is none (the page then asks to log in)."""
    user = session_user(session, cookie)
    if user is None:
        return None
    clinic = session.get(Organization, user.organization_id) if user.organization_id else None
    return Viewer(user.full_name, clinic.name if clinic is not None else "", user_access(session, user))
