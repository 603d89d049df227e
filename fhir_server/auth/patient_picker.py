"""The patient picker's search: by name, MRN and birth date, over the patients a user may pick.

Used by the authorization flow's picker and the EHR launcher. Whom a user may pick is what it was before the search
existed: the live patients of the user's clinic (a portal login never sees a picker: its own record is its context).
Names are matched through the search index the FHIR API uses (``Patient?name=``: each typed word starts one part of a
name, case and accents ignored, on the current version); the MRN matches exactly (the clinic's unique MRN index); the
birth date matches the day. At most ``PICKER_LIMIT`` patients are listed; more matches ask the user to refine.
Nobody is preselected: the user chooses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, select, tuple_
from sqlalchemy.orm import Session

from fhir_server.db import Patient, User
from fhir_server.db.fhir import SearchString
from fhir_server.fhir.search.sql import like_escape
from fhir_server.fhir.search.text import normalize

PICKER_LIMIT = 50
"""Most patients one picker page lists."""
MAX_TEXT = 100
"""Longest name or MRN a search takes (longer input is cut)."""
MAX_WORDS = 5
"""Most name words a search matches (each is one index lookup); further words are ignored."""


@dataclass(frozen=True)
class PatientSearch:
    """What the user typed in the picker's search form (trimmed and cut to ``MAX_TEXT``)."""

    name: str = ""
    mrn: str = ""
    birthdate: str = ""

    @classmethod
    def of(cls, params: Mapping[str, str]) -> PatientSearch:
        """The search of a query string (``name``, ``mrn``, ``birthdate``; anything else is ignored)."""
        return cls(*(str(params.get(key, "")).strip()[:MAX_TEXT] for key in ("name", "mrn", "birthdate")))

    def birth_date(self) -> date | None:
        """The birth date asked for; None when none was given. Raises ValueError for one not YYYY-MM-DD."""
        return date.fromisoformat(self.birthdate) if self.birthdate else None

    def words(self) -> list[str]:
        """The name's words as the index stores them (lower case, no accents), at most ``MAX_WORDS``."""
        return normalize(self.name).split()[:MAX_WORDS]


def picker_values(session: Session, user: User, search: PatientSearch) -> dict[str, Any]:
    """The template values of a picker: ``patients`` (id, name, birth_date or "", mrn), ``more`` (more matches than
    listed: refine), ``search`` (the form's values) and ``search_error`` (a birth date that is no date)."""
    values: dict[str, Any] = {"search": asdict(search), "more": False, "patients": [], "search_error": None}
    try:
        born = search.birth_date()
    except ValueError:
        values["search_error"] = "Write the birth date as YYYY-MM-DD."
        return values
    rows = session.scalars(_query(user, search, born).limit(PICKER_LIMIT + 1)).all()
    values["more"] = len(rows) > PICKER_LIMIT
    values["patients"] = [_listed(p) for p in rows[:PICKER_LIMIT]]
    return values


def _query(user: User, search: PatientSearch, born: date | None) -> Select[Patient]:
    query = select(Patient).where(Patient.organization_id == user.organization_id, Patient.deleted_at.is_(None))
    query = query.where(*(_name_starts(word) for word in search.words()))
    if search.mrn:
        query = query.where(Patient.mrn == search.mrn)
    if born is not None:
        query = query.where(Patient.birth_date == born)
    return query.order_by(Patient.family_name, Patient.given_name, Patient.mrn)


def _name_starts(word: str) -> ColumnElement[bool]:
    """A part of the patient's current name starts with ``word`` (the ``name`` index of ``Patient?name=``)."""
    matching = select(SearchString.resource_id, SearchString.version_id).where(
        SearchString.resource_type == "Patient",
        SearchString.param == "name",
        SearchString.normalized.like(f"{like_escape(word)}%", escape="\\"),
    )
    return tuple_(Patient.fhir_id, Patient.version_id).in_(matching)


def patient_name(patient: Patient, family_first: bool = False) -> str:
    """How the pages name a patient: "Ada Okafor" (or "Okafor, Ada"); by MRN when the clinic holds no name."""
    given, family = patient.given_name or "", patient.family_name or ""
    if not given and not family:
        return f"MRN {patient.mrn}"
    return f"{family}, {given}".strip(", ") if family_first else f"{given} {family}".strip()


def _listed(patient: Patient) -> dict[str, str]:
    return {
        "id": patient.fhir_id,
        "name": patient_name(patient, family_first=True),
        "birth_date": patient.birth_date.isoformat() if patient.birth_date else "",
        "mrn": patient.mrn,
    }
