"""The clinics (the tenants): created and listed by an operator (``fhir-server clinics``), never through FHIR.

A clinic is its own Organization row (fhir_server.db.clinic); creating one in a write transaction of the
application's Database goes through the write pipeline like any internal change (``Database.write`` ends with
:func:`fhir_server.fhir.pipeline.finish`), so the clinic's Organization is at once versioned, indexed and readable
through FHIR.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fhir_server.db import Organization, Patient, Practitioner, User
from fhir_server.db.clinic import new_clinic
from fhir_server.fhir.primitives import is_id
from mappings import columns


class ClinicError(ValueError):
    """A clinic cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class ClinicSummary:
    """One clinic as ``clinics list`` shows it: its row ids, name, NPI and what it holds (live rows)."""

    id: uuid.UUID
    fhir_id: str
    name: str
    npi: str | None
    timezone: str
    patients: int
    practitioners: int
    users: int


def create_clinic(
    session: Session, name: str, npi: str | None = None, timezone: str = "UTC", fhir_id: str | None = None
) -> Organization:
    """Add a clinic and its Organization (under ``fhir_id``: the id it had on another server, whose export is to be
    imported; None: a new one) to ``session``; ClinicError for an empty or over-long name, an NPI that is not 10
    digits or another clinic's, an unknown IANA time zone, or a FHIR id that is not one or is taken."""
    name = name.strip()
    problem = _name_problem(name) or _npi_problem(session, npi) or _timezone_problem(timezone)
    problem = problem or _fhir_id_problem(session, fhir_id)
    if problem is not None:
        raise ClinicError(problem)
    clinic = new_clinic(name, npi, timezone, fhir_id)
    session.add(clinic)
    return clinic


def _name_problem(name: str) -> str | None:
    if not name or columns.too_long(Organization, "name", name):
        return "the name must have 1 to 200 characters"
    return None


def _fhir_id_problem(session: Session, fhir_id: str | None) -> str | None:
    if fhir_id is None:
        return None
    if not is_id(fhir_id):
        return f"{fhir_id!r} is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)"
    taken = select(Organization.id).where(Organization.fhir_id == fhir_id)
    return f"Organization/{fhir_id} already exists" if session.scalars(taken).first() is not None else None


def _npi_problem(session: Session, npi: str | None) -> str | None:
    if npi is None:
        return None
    if not (len(npi) == 10 and npi.isdigit()):
        return f"an NPI has 10 digits (got {npi!r})"
    taken = select(Organization.id).where(Organization.is_clinic, Organization.npi == npi)
    return f"another clinic has the NPI {npi}" if session.scalars(taken).first() is not None else None


def _timezone_problem(timezone: str) -> str | None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {timezone!r} (an IANA name such as America/New_York)"
    return None


def list_clinics(session: Session) -> list[ClinicSummary]:
    """Every clinic not deleted, by name, with the number of its live patients and practitioners and its users."""
    patients = _counts(session, Patient.organization_id, Patient.deleted_at.is_(None))
    practitioners = _counts(session, Practitioner.organization_id, Practitioner.deleted_at.is_(None))
    users = _counts(session, User.organization_id)
    clinics = session.scalars(select(Organization).where(Organization.is_clinic, Organization.deleted_at.is_(None)))
    return [
        ClinicSummary(
            c.id,
            c.fhir_id,
            c.name,
            c.npi,
            c.timezone,
            patients.get(c.id, 0),
            practitioners.get(c.id, 0),
            users.get(c.id, 0),
        )
        for c in sorted(clinics, key=lambda c: (c.name, c.fhir_id))
    ]


def _counts(session: Session, clinic: Any, *where: Any) -> dict[uuid.UUID, int]:
    """Rows per clinic (one grouped query)."""
    rows: Sequence[Any] = session.execute(select(clinic, func.count()).where(*where).group_by(clinic)).all()
    return {row[0]: row[1] for row in rows}
