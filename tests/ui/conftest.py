"""Fixtures of the browser UI's tests: the SMART tests' clinic (a physician, a portal patient pat-1 and a second
patient pat-2) with clinical data for both patients, a second clinic with its own patient and data, and a client
that logs in at the authorization pages as a browser does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.access.context import AccessContext
from fhir_server.app import create_app
from fhir_server.clinics import create_clinic
from fhir_server.db import User
from fhir_server.db.engine import Database
from fhir_server.fhir import repository
from fhir_server.settings import load_settings
from tests.auth.conftest import BASE, PASSWORD, Clinic, _row, clinic, password_hash  # noqa: F401 (fixture)

ORTHANC = "http://orthanc.example.org:8042"
STUDY_UID = "1.2.840.113619.2.55.3.2831164355.1"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """An app with authorization enabled (the default) and Orthanc configured (its viewer linked, never called)."""
    settings = load_settings(
        database_url=database_url, base_url=BASE, auth="enabled", orthanc_url=ORTHANC, imaging_watch=False
    )
    with TestClient(create_app(settings), base_url="https://fhir.example.org") as client:
        yield client


def log_in(client: TestClient, email: str, after: str = "/") -> Any:
    """Sign in at the login page as a browser does; the answer (a redirect to ``after`` when it is a UI page)."""
    data = {"email": email, "password": PASSWORD, "next": after}
    return client.post(f"{BASE}/auth/login", data=data, follow_redirects=False)


def _write(database: Database, clinic_id: uuid.UUID, resource: dict[str, Any]) -> dict[str, Any]:
    with database.write() as session:
        access = AccessContext(open=True, organization_id=clinic_id)
        return repository.create(session, access, resource, base_url=BASE).resource


def observation(patient: str, text: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": text},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
    }


@dataclass
class Records:
    """The ids of the tests' clinical data."""

    own: str  # pat-1's older Observation, updated once (two versions)
    own_newer: str  # pat-1's newer Observation
    other: str  # pat-2's Observation (same clinic)
    study: str  # pat-1's ImagingStudy
    elsewhere_patient: str  # the other clinic's patient
    elsewhere: str  # the other clinic's Observation


@pytest.fixture
def records(database: Database, clinic: Clinic) -> Records:  # noqa: F811
    org = clinic.organization_id
    own = _write(database, org, observation("pat-1", "Blood pressure <script>alert(1)</script>", "2024-01-05"))
    newer = _write(database, org, observation("pat-1", "Heart rate", "2025-03-01T10:00:00Z"))
    other = _write(database, org, observation("pat-2", "Other patient's glucose", "2024-06-01"))
    study = _write(database, org, _study())
    with database.write() as session:
        changed = {**own, "status": "amended"}
        repository.update(session, AccessContext(open=True, organization_id=org), changed, own["id"], base_url=BASE)
    with database.write() as session:
        second = create_clinic(session, "Elsewhere Clinic").id
    patient = _write(database, second, {"resourceType": "Patient", "name": [{"family": "Faraway"}]})
    far = _write(database, second, observation(patient["id"], "Elsewhere weight", "2024-02-02"))
    return Records(own["id"], newer["id"], other["id"], study["id"], patient["id"], far["id"])


def _study() -> dict[str, Any]:
    return {
        "resourceType": "ImagingStudy",
        "status": "available",
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{STUDY_UID}"}],
        "subject": {"reference": "Patient/pat-1"},
        "started": "2023-11-20T09:30:00Z",
    }


@pytest.fixture
def front_desk(database: Database, clinic: Clinic) -> str:  # noqa: F811
    """A front-desk login of the clinic (patients and scheduling only: no clinical type)."""
    with database.write() as session:
        _row(
            session,
            User,
            organization_id=clinic.organization_id,
            email="desk@example.org",
            password_hash=password_hash(),
            role="front_desk",
        )
    return "desk@example.org"
