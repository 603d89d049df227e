"""The clinic the search semantics tests read: written once per test module and database kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of
from tests.fhir.search.search_support import Json, create, ids, search

PAGING_FAMILY = "Pagewalker"
PAGING_PATIENTS = 25


@dataclass
class Clinic:
    """What the module's clinic holds, by name."""

    org: Json = field(default_factory=dict)
    practitioners: dict[str, Json] = field(default_factory=dict)
    patients: dict[str, Json] = field(default_factory=dict)
    appointments: dict[str, Json] = field(default_factory=dict)
    responses: dict[str, Json] = field(default_factory=dict)
    questionnaire: Json = field(default_factory=dict)
    studies: dict[str, Json] = field(default_factory=dict)

    def id(self, kind: str, name: str) -> str:
        found: str = getattr(self, kind)[name]["id"]
        return found


def _ref(resource: Json) -> dict[str, str]:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def _patient(client: TestClient, org: Json, family: str, given: str, **elements: Any) -> Json:
    body = {
        "resourceType": "Patient",
        "name": [{"family": family, "given": [given]}],
        "managingOrganization": _ref(org),
    }
    return create(client, {**body, **elements})


def _appointment(client: TestClient, patient: Json, practitioner: Json, status: str, day: str) -> Json:
    return create(
        client,
        {
            "resourceType": "Appointment",
            "status": status,
            "start": f"{day}T10:00:00Z",
            "end": f"{day}T10:30:00Z",
            "participant": [
                {"actor": _ref(patient), "status": "accepted"},
                {"actor": _ref(practitioner), "status": "accepted"},
            ],
        },
    )


def build_clinic(client: TestClient) -> Clinic:
    """Practitioners Karev and Yang; patients anna (Smith, female, 1980, GP Yang), bob (Smithson, male, 1990),
    carl (Jones, male, 2000) and PAGING_PATIENTS of family PAGING_FAMILY; appointments a1 (anna with Karev, booked),
    a2 (bob with Yang, cancelled), a3 (carl with Karev, booked); the questionnaire http://x.org/q ("Intake form",
    version 2.0);
    QuestionnaireResponses to it of anna, of bob (authored by another server's Patient with anna's id) and of carl
    (to its version 2.0); an ImagingStudy of anna's read by Karev (a version-specific reference) and referred by
    another server's Practitioner."""
    clinic = Clinic()
    clinic.org = clinic_of(client)
    for family, given in (("Karev", "Alex"), ("Yang", "Cristina")):
        body = {"resourceType": "Practitioner", "name": [{"family": family, "given": [given]}]}
        clinic.practitioners[family] = create(client, body)
    karev, yang = clinic.practitioners["Karev"], clinic.practitioners["Yang"]
    clinic.patients["anna"] = _patient(
        client, clinic.org, "Smith", "Anna", gender="female", birthDate="1980-01-01", generalPractitioner=[_ref(yang)]
    )
    clinic.patients["bob"] = _patient(client, clinic.org, "Smithson", "Bob", gender="male", birthDate="1990-01-01")
    clinic.patients["carl"] = _patient(client, clinic.org, "Jones", "Carl", gender="male", birthDate="2000-01-01")
    for i in range(PAGING_PATIENTS):
        clinic.patients[f"page{i}"] = _patient(client, clinic.org, PAGING_FAMILY, f"P{i:02d}")
    anna, bob, carl = (clinic.patients[n] for n in ("anna", "bob", "carl"))
    clinic.appointments["a1"] = _appointment(client, anna, karev, "booked", "2026-03-01")
    clinic.appointments["a2"] = _appointment(client, bob, yang, "cancelled", "2026-03-02")
    clinic.appointments["a3"] = _appointment(client, carl, karev, "booked", "2026-03-03")
    clinic.questionnaire = create(
        client,
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "url": "http://x.org/q",
            "version": "2.0",
            "title": "Intake form",
        },
    )
    clinic.responses["anna"] = create(
        client,
        {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "questionnaire": "http://x.org/q",
            "subject": _ref(anna),
        },
    )
    clinic.responses["bob"] = create(  # authored by another server's patient that shares anna's id
        client,
        {
            "resourceType": "QuestionnaireResponse",
            "status": "in-progress",
            "questionnaire": "http://x.org/q",
            "subject": _ref(bob),
            "author": {"reference": f"https://elsewhere.example.org/fhir/Patient/{anna['id']}"},
        },
    )
    carls = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "http://x.org/q|2.0",  # a version the server does not hold: stored unchecked, if lenient
        "subject": _ref(carl),
    }
    carls_answer = client.post("/fhir/QuestionnaireResponse", json=carls, headers={"Prefer": "handling=lenient"})
    assert carls_answer.status_code == 201, carls_answer.text
    clinic.responses["carl"] = carls_answer.json()
    clinic.studies["versioned"] = create(
        client,
        {
            "resourceType": "ImagingStudy",
            "status": "available",
            "subject": _ref(anna),
            "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:2.25.901"}],
            "interpreter": [{"reference": f"Practitioner/{karev['id']}/_history/1"}],
            "referrer": {"reference": f"https://elsewhere.example.org/fhir/Practitioner/{yang['id']}"},
        },
    )
    return clinic


def found_ids(client: TestClient, resource_type: str, *params: tuple[str, str]) -> set[str]:
    return set(ids(search(client, resource_type, [*params, ("_count", "1000")])))


def names(clinic: Clinic, kind: str, *names: str) -> set[str]:
    return {clinic.id(kind, n) for n in names}


def outcome_issue(response: Any) -> Json:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    issue: Json = body["issue"][0]
    return issue
