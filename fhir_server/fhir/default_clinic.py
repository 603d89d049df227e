"""The default clinic: where a write goes when nothing in it tells which clinic it belongs to.

A write belongs to the clinic its references name, else to the caller's (the token's clinic). Without either (no
authorization, the command line), it goes to the default clinic: the one ``FHIR_SERVER_DEFAULT_CLINIC`` names (its
id, FHIR id, NPI or exact name), else the database's only clinic. With several clinics and no setting, or none at
all, the write answers 422 saying how to choose. Clinics themselves are made by an operator (``fhir-server clinics
create``), never by a FHIR write.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.db import Organization
from fhir_server.db.clinic import live_clinics, organization_lookup
from fhir_server.db.write_session import WriteSession, state_of
from fhir_server.errors import unprocessable


def default_clinic(session: Session, resource_type: str) -> uuid.UUID:
    """The default clinic (known for the rest of the transaction once found); 422 naming ``resource_type`` when
    there is none to choose or several."""
    state = state_of(session)
    if state.default_clinic is None:
        state.default_clinic = _find(session, resource_type)
    return state.default_clinic


def _find(session: Session, resource_type: str) -> uuid.UUID:
    configured = session.default_clinic if isinstance(session, WriteSession) else None
    if configured:
        query = select(Organization.id).where(organization_lookup(configured), Organization.deleted_at.is_(None))
        found = session.scalars(query).first()
        if found is None:
            raise unprocessable(f"FHIR_SERVER_DEFAULT_CLINIC={configured!r} names no clinic of this server")
        return found
    clinics = live_clinics(session, limit=2)
    if len(clinics) == 1:
        return clinics[0]
    unknown = f"cannot tell which clinic this {resource_type} belongs to"
    if not clinics:
        raise unprocessable(
            f"{unknown}: this server has no clinic yet (an operator creates one with `fhir-server clinics create`)"
        )
    raise unprocessable(
        f"{unknown}: this server has several clinics; set FHIR_SERVER_DEFAULT_CLINIC to choose one, or reference the "
        "clinic's Organization (e.g. Patient.managingOrganization)"
    )
