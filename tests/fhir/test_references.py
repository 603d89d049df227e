"""Reference integrity on every write (http://hl7.org/fhir/R4/references.html#literal)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.errors import Issue
from fhir_server.fhir.references import Target, classify
from fhir_server.settings import load_settings
from tests.clinics import make_clinic

BASE_URL = "https://fhir.example.org/r4"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url, base_url=BASE_URL))) as client:
        yield client


def _created(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def clinics(client: TestClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two clinics: A and B."""
    return (
        make_clinic(client, "Clinic A"),
        make_clinic(client, "Clinic B"),
    )


def _patient(clinic: dict[str, Any], **elements: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": "Doe"}],
        "managingOrganization": {"reference": f"Organization/{clinic['id']}"},
        **elements,
    }


def _refusal(response: Any) -> list[tuple[str, list[str]]]:
    assert response.status_code == 422, response.text
    return [(issue["code"], issue["expression"]) for issue in response.json()["issue"]]


def _versions(client: TestClient, resource_type: str) -> int:
    return len(client.get(f"/fhir/{resource_type}/_history").json()["entry"])


# --- what a reference names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Patient/123", Target("X.r", "Patient", "123", None)),
        ("Patient/123/_history/2", Target("X.r", "Patient", "123", "2")),
        ("#c1", None),
        ("#", None),
        ("Location/1", Target("X.r", "Location", "1", None)),
        ("Parameters/1", None),
        ("http://elsewhere.org/fhir/Patient/1", None),
        (f"{BASE_URL}/Patient/1", Target("X.r", "Patient", "1", None)),
        ("urn:oid:1.2.3", None),
    ],
)
def test_classify_reads_literal_references(reference: str, expected: Target | None) -> None:
    assert classify("X.r", reference, frozenset({"c1"}), BASE_URL) == expected


def test_without_a_base_url_every_absolute_reference_is_another_servers() -> None:
    assert classify("X.r", f"{BASE_URL}/Patient/1", frozenset(), None) is None


@pytest.mark.parametrize(
    "reference", ["#nope", "urn:uuid:7f1a3c1e-9b9e-4f8e-8f52-1d1e4a5b6c7d", "Patient?identifier=x|1", "Patient/a b"]
)
def test_classify_refuses_what_cannot_resolve_outside_a_transaction(reference: str) -> None:
    found = classify("X.r", reference, frozenset(), BASE_URL)
    assert isinstance(found, Issue)
    assert found.expression == ("X.r",)


# --- over HTTP ----------------------------------------------------------------------------------------------


def test_a_reference_to_a_missing_resource_is_refused_and_nothing_is_written(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    patient = _patient(clinics[0], generalPractitioner=[{"reference": "Practitioner/nobody"}])
    assert _refusal(client.post("/fhir/Patient", json=patient)) == [("not-found", ["Patient.generalPractitioner[0]"])]
    assert _versions(client, "Patient") == 0


def test_a_reference_to_another_clinics_resource_is_refused_like_a_missing_one(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    clinic_a, clinic_b = clinics
    theirs = _created(client, _patient(clinic_b))
    ours = _created(client, _patient(clinic_a))
    link = {"link": [{"other": {"reference": f"Patient/{theirs['id']}"}, "type": "seealso"}]}
    response = client.post("/fhir/Patient", json=_patient(clinic_a, **link))
    assert _refusal(response) == [("not-found", ["Patient.link[0].other"])]
    assert "does not exist in this clinic" in response.json()["issue"][0]["diagnostics"]
    own_link = {"link": [{"other": {"reference": f"Patient/{ours['id']}"}, "type": "seealso"}]}
    assert client.post("/fhir/Patient", json=_patient(clinic_a, **own_link)).status_code == 201


def test_a_reference_to_a_deleted_resource_is_refused(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    gone = _created(client, _patient(clinics[0]))
    assert client.delete(f"/fhir/Patient/{gone['id']}").status_code == 204
    link = {"link": [{"other": {"reference": f"Patient/{gone['id']}"}, "type": "replaces"}]}
    assert _refusal(client.post("/fhir/Patient", json=_patient(clinics[0], **link))) == [
        ("not-found", ["Patient.link[0].other"])
    ]


def test_an_update_is_checked_too_and_leaves_the_resource_as_it_was(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    patient = _created(client, _patient(clinics[0]))
    changed = {**patient, "contact": [{"organization": {"reference": "Organization/unknown"}}]}
    assert _refusal(client.put(f"/fhir/Patient/{patient['id']}", json=changed)) == [
        ("not-found", ["Patient.contact[0].organization"])
    ]
    assert client.get(f"/fhir/Patient/{patient['id']}").json()["meta"]["versionId"] == "1"


def test_every_unresolvable_reference_is_listed_at_once(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    patient = _patient(
        clinics[0],
        generalPractitioner=[{"reference": "Practitioner/x"}, {"reference": "Organization/y"}],
        contact=[{"organization": {"reference": "#missing"}}],
    )
    assert sorted(
        e for _, expressions in _refusal(client.post("/fhir/Patient", json=patient)) for e in expressions
    ) == [
        "Patient.contact[0].organization",
        "Patient.generalPractitioner[0]",
        "Patient.generalPractitioner[1]",
    ]


def test_contained_references_must_name_a_contained_resource(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    contained = [{"resourceType": "Organization", "id": "employer", "name": "ACME"}]
    good = _patient(clinics[0], contained=contained, contact=[{"organization": {"reference": "#employer"}}])
    assert client.post("/fhir/Patient", json=good).status_code == 201
    contacts = [{"organization": {"reference": "#employr"}}, {"organization": {"reference": "#employer"}}]
    bad = _patient(clinics[0], contained=contained, contact=contacts)  # employer is referenced (dom-3 holds)
    assert _refusal(client.post("/fhir/Patient", json=bad)) == [("not-found", ["Patient.contact[0].organization"])]


def test_a_urn_uuid_reference_outside_a_transaction_is_refused(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    contact = [{"organization": {"reference": "urn:uuid:7f1a3c1e-9b9e-4f8e-8f52-1d1e4a5b6c7d"}}]
    assert _refusal(client.post("/fhir/Patient", json=_patient(clinics[0], contact=contact))) == [
        ("invalid", ["Patient.contact[0].organization"])
    ]


def test_absolute_references_on_the_servers_base_url_are_checked_and_others_left_alone(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    clinic_a = clinics[0]
    missing = [{"organization": {"reference": f"{BASE_URL}/Organization/unknown"}}]
    assert _refusal(client.post("/fhir/Patient", json=_patient(clinic_a, contact=missing))) == [
        ("not-found", ["Patient.contact[0].organization"])
    ]
    ours = [{"organization": {"reference": f"{BASE_URL}/Organization/{clinic_a['id']}"}}]
    assert client.post("/fhir/Patient", json=_patient(clinic_a, contact=ours)).status_code == 201
    elsewhere = [{"organization": {"reference": "https://other.example.com/fhir/Organization/unknown"}}]
    assert client.post("/fhir/Patient", json=_patient(clinic_a, contact=elsewhere)).status_code == 201


def test_references_to_the_resource_stores_types_must_resolve_too(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    patient = _patient(clinics[0], generalPractitioner=[{"reference": "PractitionerRole/1"}])
    assert _refusal(client.post("/fhir/Patient", json=patient)) == [("not-found", ["Patient.generalPractitioner[0]"])]
    clinic = {"reference": f"Organization/{clinics[0]['id']}"}
    role = _created(client, {"resourceType": "PractitionerRole", "active": True, "organization": clinic})
    patient = _patient(clinics[0], generalPractitioner=[{"reference": f"PractitionerRole/{role['id']}"}])
    assert client.post("/fhir/Patient", json=patient).status_code == 201


def test_a_versioned_reference_must_name_a_stored_version(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    other = _created(client, _patient(clinics[0]))
    for version, status in (("1", 201), ("7", 422)):
        link = {"link": [{"other": {"reference": f"Patient/{other['id']}/_history/{version}"}, "type": "seealso"}]}
        assert client.post("/fhir/Patient", json=_patient(clinics[0], **link)).status_code == status


def test_a_conditional_reference_outside_a_transaction_is_refused(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    contact = [{"organization": {"reference": "Organization?name=Clinic%20A"}}]
    assert _refusal(client.post("/fhir/Patient", json=_patient(clinics[0], contact=contact))) == [
        ("invalid", ["Patient.contact[0].organization"])
    ]


def test_references_inside_contained_resources_are_checked(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    contained = [
        {
            "resourceType": "Practitioner",
            "id": "p",
            "name": [{"family": "X"}],
            "identifier": [{"assigner": {"reference": "Organization/unknown"}}],
        }
    ]
    patient = _patient(clinics[0], contained=contained, generalPractitioner=[{"reference": "#p"}])
    assert _refusal(client.post("/fhir/Patient", json=patient)) == [
        ("not-found", ["Patient.contained[0].identifier[0].assigner"])
    ]


def test_a_clinic_may_name_neither_another_clinics_organization_nor_its_endpoint(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """Issue 14: clinics are tenants, so a clinic's Organization is of its clinic like any row (before, every
    Organization was a clinic of its own and could name any other)."""
    clinic_a, clinic_b = clinics
    part_of = {**clinic_a, "partOf": {"reference": f"Organization/{clinic_b['id']}"}}
    assert _refusal(client.put(f"/fhir/Organization/{clinic_a['id']}", json=part_of)) == [
        ("not-found", ["Organization.partOf"])
    ]
    endpoint = _created(
        client,
        {
            "resourceType": "Endpoint",
            "status": "active",
            "connectionType": {
                "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                "code": "hl7-fhir-rest",
            },
            "payloadType": [{"text": "anything"}],
            "address": "https://b.example.com/fhir",
            "managingOrganization": {"reference": f"Organization/{clinic_b['id']}"},
        },
    )
    with_endpoint = {**clinic_a, "endpoint": [{"reference": f"Endpoint/{endpoint['id']}"}]}
    assert _refusal(client.put(f"/fhir/Organization/{clinic_a['id']}", json=with_endpoint)) == [
        ("not-found", ["Organization.endpoint[0]"])
    ]
    own = {**clinic_b, "endpoint": [{"reference": f"Endpoint/{endpoint['id']}"}]}
    assert client.put(f"/fhir/Organization/{clinic_b['id']}", json=own).status_code == 200


def test_a_shared_questionnaire_may_be_referenced_from_any_clinic(
    client: TestClient, clinics: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    questionnaire = _created(client, {"resourceType": "Questionnaire", "status": "active", "title": "Intake"})
    extension = [
        {
            "url": "http://example.org/intake-form",
            "valueReference": {"reference": f"Questionnaire/{questionnaire['id']}"},
        }
    ]
    for clinic in clinics:
        assert client.post("/fhir/Patient", json=_patient(clinic, extension=extension)).status_code == 201


def test_a_mapped_reference_to_another_server_is_refused(database_url: str) -> None:
    from fastapi.testclient import TestClient

    from fhir_server.app import create_app
    from fhir_server.settings import load_settings

    with TestClient(create_app(load_settings(database_url=database_url, log_level="warning"))) as client:
        headers = {"Content-Type": "application/fhir+json"}
        make_clinic(client, "C")
        doctor = client.post(
            "/fhir/Practitioner",
            json={"resourceType": "Practitioner", "name": [{"family": "X", "given": ["Y"]}]},
            headers=headers,
        ).json()
        assert "id" in doctor, doctor
        patient = {
            "resourceType": "Patient",
            "name": [{"family": "Y"}],
            "generalPractitioner": [{"reference": f"https://elsewhere.example.org/fhir/Practitioner/{doctor['id']}"}],
        }
        response = client.post("/fhir/Patient", json=patient, headers=headers)
        assert response.status_code == 422
        assert response.json()["issue"][0]["expression"] == ["Patient.generalPractitioner"]
