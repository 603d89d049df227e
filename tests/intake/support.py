"""A small clinic made through the FHIR API for the intake tests: a patient, a doctor, a visit, the intake form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from fhir_server.demo.intake import intake_questionnaire
from mappings.questionnaire_response import APPOINTMENT_EXTENSION
from tests.clinics import make_clinic

QUESTIONNAIRE_URL = "http://clinic.example.org/fhir/Questionnaire/clinic-intake"
SNOMED = "http://snomed.info/sct"
NEVER_SMOKED = {"system": SNOMED, "code": "266919005", "display": "Never smoked tobacco"}


def created(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class Clinic:
    """FHIR ids of what the tests need."""

    patient: str
    practitioner: str
    appointment: str
    questionnaire: str

    @classmethod
    def make(cls, client: TestClient, patient: dict[str, Any] | None = None) -> Clinic:
        make_clinic(client, "Riverside Family Clinic")
        patient_id = created(client, patient or {"resourceType": "Patient", "name": [{"family": "Rivera"}]})["id"]
        doctor = created(client, {"resourceType": "Practitioner", "name": [{"family": "Hart", "given": ["Amelia"]}]})
        questionnaire = {k: v for k, v in intake_questionnaire().items() if k != "id"}
        return cls(
            patient_id,
            doctor["id"],
            cls.visit(client, patient_id, doctor["id"]),
            created(client, questionnaire)["id"],
        )

    @staticmethod
    def visit(client: TestClient, patient: str, practitioner: str, day: int = 1) -> str:
        appointment = {
            "resourceType": "Appointment",
            "status": "booked",
            "start": f"2026-12-{day:02d}T09:00:00Z",
            "end": f"2026-12-{day:02d}T09:30:00Z",
            "participant": [
                {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
                {"actor": {"reference": f"Practitioner/{practitioner}"}, "status": "accepted"},
            ],
        }
        return str(created(client, appointment)["id"])


def item(link_id: str, *answers: dict[str, Any], **more: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"linkId": link_id, **more}
    if answers:
        found["answer"] = list(answers)
    return found


def complete_items(reason: str = "Persistent cough") -> list[dict[str, Any]]:
    """The items of a completed demo intake form."""
    return [
        item("reason-for-visit", {"valueString": reason}),
        item("symptoms", item=[item("has-symptoms", {"valueBoolean": False})]),
        item(
            "medications",
            item=[
                item("takes-medications", {"valueBoolean": True}),
                item("current-medications", {"valueString": "lisinopril 10 mg daily"}),
            ],
        ),
        item("allergies", item=[item("has-allergies", {"valueBoolean": False})]),
        item("lifestyle", item=[item("tobacco", {"valueCoding": NEVER_SMOKED})]),
    ]


def response(
    clinic: Clinic,
    status: str = "completed",
    items: list[dict[str, Any]] | None = None,
    appointment: str | None = None,
    questionnaire: str = QUESTIONNAIRE_URL,
) -> dict[str, Any]:
    """An intake QuestionnaireResponse of the clinic's patient (no ``item`` when ``items`` is empty: R4 allows no
    empty array)."""
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": questionnaire,
        "status": status,
        "subject": {"reference": f"Patient/{clinic.patient}"},
        "authored": "2026-11-30T18:00:00Z",
    }
    if items is None or items:
        resource["item"] = complete_items() if items is None else items
    if appointment is not None:
        extension = {"url": APPOINTMENT_EXTENSION, "valueReference": {"reference": f"Appointment/{appointment}"}}
        resource["extension"] = [extension]
    return resource


def issue(response: Any, status: int = 422) -> dict[str, Any]:
    """The first issue of an OperationOutcome answered with ``status``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    found: dict[str, Any] = body["issue"][0]
    return found
