"""A server for the round-trip tests: the app on one database, with a clinic in it.

The clinic holds one resource of every served type, so that generated references have real targets. Property
tests share the module's server (hypothesis runs many examples per test; a fresh database per example would
cost more than the examples), so every example writes under a new id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from fhir_server.app import create_app
from fhir_server.settings import load_settings
from tests.clinics import make_clinic
from tests.roundtrip.generator import Clinic

BASE_URL = "https://fhir.example.org/r4"
PERIOD = {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T09:30:00Z"}


def _clinic_resources(organization_id: str) -> list[dict[str, Any]]:
    """One resource of each served type besides the clinic itself, under fixed ids."""
    patient = {"reference": "Patient/rt-patient-1"}
    return [
        {"resourceType": "Practitioner", "id": "rt-practitioner-1", "name": [{"family": "Hart", "given": ["Amelia"]}]},
        {"resourceType": "Patient", "id": "rt-patient-1", "name": [{"family": "Okafor", "given": ["Ada"]}]},
        {"resourceType": "Patient", "id": "rt-patient-2", "name": [{"family": "Silva", "given": ["Rui"]}]},
        {
            "resourceType": "Endpoint",
            "id": "rt-endpoint-1",
            "status": "active",
            "connectionType": {
                "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                "code": "dicom-wado-rs",
            },
            "payloadType": [{"text": "DICOM"}],
            "address": "https://pacs.example.org/dicomweb",
            "managingOrganization": {"reference": f"Organization/{organization_id}"},
        },
        {
            "resourceType": "Appointment",
            "id": "rt-appointment-1",
            "status": "booked",
            **PERIOD,
            "participant": [
                {"actor": patient, "status": "accepted"},
                {"actor": {"reference": "Practitioner/rt-practitioner-1"}, "status": "accepted"},
            ],
        },
        {
            "resourceType": "Questionnaire",
            "id": "rt-questionnaire-1",
            "status": "active",
            "url": "https://forms.example.org/pool/intake",
        },
        {
            "resourceType": "QuestionnaireResponse",
            "id": "rt-response-1",
            "questionnaire": "https://forms.example.org/Questionnaire/pool",
            "status": "completed",
            "subject": patient,
        },
        {
            "resourceType": "ImagingStudy",
            "id": "rt-study-1",
            "status": "available",
            "subject": patient,
            "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:2.25.1234"}],
        },
    ]


@dataclass(frozen=True)
class Server:
    """A running app on one database, its clinic's Organization id and the clinic's resources by type."""

    client: TestClient
    database_url: str
    clinic_id: str
    resources: dict[str, list[str]]

    @property
    def backend(self) -> str:
        return "sqlite" if make_url(self.database_url).get_backend_name() == "sqlite" else "postgresql"

    def references_for(self, resource_type: str) -> Clinic:
        """What a generated ``resource_type`` may reference.

        A Questionnaire written without a clinic is shared by all, so it may reference shared resources only; any
        other resource (a new Organization too: data of the clinic) may reference the clinic's.
        """
        if resource_type == "Questionnaire":
            return Clinic.of({resource_type: self.resources[resource_type]}, BASE_URL)
        return Clinic.of(self.resources, BASE_URL)


@contextmanager
def serving(database_url: str, **more: Any) -> Iterator[Server]:
    """The app on ``database_url`` (migrated, empty; with ``more`` settings) with the clinic and its resources,
    reached with ``Prefer: handling=lenient`` (the generated QuestionnaireResponses answer Questionnaires the server
    does not hold: tests/roundtrip/server_rules.py)."""
    values = {"base_url": BASE_URL, "auth": "disabled", "log_level": "warning", **more}
    settings = load_settings(database_url=database_url, **values)
    with TestClient(create_app(settings)) as client:
        client.headers["Prefer"] = "handling=lenient"  # responses to unheld Questionnaires are stored unchecked
        clinic_id = make_clinic(client, "Round Trip Clinic")["id"]
        resources: dict[str, list[str]] = {"Organization": [clinic_id]}
        for resource in _clinic_resources(clinic_id):
            response = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
            assert response.status_code == 201, response.text
            resources.setdefault(resource["resourceType"], []).append(resource["id"])
        yield Server(client, database_url, clinic_id, resources)
