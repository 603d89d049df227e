"""Validation on every write: JSON shape, R4 structure (400) and required bindings (422)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.errors import FhirError
from fhir_server.fhir.bindings import required_bindings
from fhir_server.fhir.validation import check_resource, content_issues, parse_resource
from fhir_server.settings import load_settings
from tests.clinics import make_clinic


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        yield client


@pytest.fixture
def clinic(client: TestClient) -> dict[str, Any]:
    return make_clinic(client)


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = body["issue"][0]
    return issue


def _refused(error: pytest.ExceptionInfo[FhirError]) -> tuple[int, list[str], list[tuple[str, ...]]]:
    exc = error.value
    return exc.status, [i.code for i in exc.issues], [i.expression for i in exc.issues]


# --- check_resource -----------------------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_a_400() -> None:
    with pytest.raises(FhirError) as error:
        parse_resource(b"{not json", "Patient")
    assert _refused(error)[:2] == (400, ["structure"])


def test_a_resource_of_another_type_than_the_urls_is_a_400_naming_resource_type() -> None:
    with pytest.raises(FhirError) as error:
        check_resource({"resourceType": "Organization", "name": "x"}, "Patient")
    assert _refused(error) == (400, ["invalid"], [("resourceType",)])


def test_an_unknown_element_is_a_400_naming_it() -> None:
    with pytest.raises(FhirError) as error:
        check_resource({"resourceType": "Patient", "colour": "blue"}, "Patient")
    assert _refused(error) == (400, ["structure"], [("Patient.colour",)])


def test_a_code_outside_its_required_value_set_is_a_422_code_invalid() -> None:
    with pytest.raises(FhirError) as error:
        check_resource({"resourceType": "Patient", "gender": "dog"}, "Patient")
    assert _refused(error) == (422, ["code-invalid"], [("Patient.gender",)])


def test_structure_is_reported_before_bindings() -> None:
    """A broken structure is a 400 alone: the codes of a resource that does not parse are not looked at."""
    resource = {"resourceType": "Patient", "gender": "dog", "colour": "blue"}
    with pytest.raises(FhirError) as error:
        check_resource(resource, "Patient")
    assert _refused(error)[0] == 400
    assert [i.code for i in content_issues(resource)] == ["structure"]


def test_a_valid_resource_passes() -> None:
    check_resource({"resourceType": "Patient", "gender": "other", "name": [{"use": "usual", "family": "Doe"}]})


# --- over HTTP ----------------------------------------------------------------------------------------------


def test_create_refuses_gender_dog_and_stores_nothing(client: TestClient, clinic: dict[str, Any]) -> None:
    patient = {"resourceType": "Patient", "name": [{"family": "Doe"}], "gender": "dog"}
    issue = _issue(client.post("/fhir/Patient", json=patient), 422)
    assert issue["code"] == "code-invalid"
    assert issue["expression"] == ["Patient.gender"]
    assert "'dog'" in issue["diagnostics"]
    assert "http://hl7.org/fhir/ValueSet/administrative-gender" in issue["diagnostics"]
    assert client.get("/fhir/Patient/_history").json()["entry"] == []  # not a single version was written


def test_update_refuses_a_nested_data_type_code(client: TestClient, clinic: dict[str, Any]) -> None:
    created = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Doe"}]}).json()
    changed = {**created, "telecom": [{"system": "beeper", "value": "555-0100"}]}
    issue = _issue(client.put(f"/fhir/Patient/{created['id']}", json=changed), 422)
    assert issue["code"] == "code-invalid"
    assert issue["expression"] == ["Patient.telecom[0].system"]
    assert client.get(f"/fhir/Patient/{created['id']}").json()["meta"]["versionId"] == "1"


def test_create_refuses_an_appointment_status_of_another_system(client: TestClient, clinic: dict[str, Any]) -> None:
    appointment = {
        "resourceType": "Appointment",
        "status": "confirmed",
        "start": "2030-01-01T09:00:00Z",
        "end": "2030-01-01T09:30:00Z",
        "participant": [{"status": "accepted"}],
    }
    issue = _issue(client.post("/fhir/Appointment", json=appointment), 422)
    assert (issue["code"], issue["expression"]) == ("code-invalid", ["Appointment.status"])
    assert "http://hl7.org/fhir/ValueSet/appointmentstatus" in issue["diagnostics"]


def test_create_lists_every_binding_violation(client: TestClient, clinic: dict[str, Any]) -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Doe", "use": "nick"}],
        "gender": "dog",
        "address": [{"use": "home", "type": "house"}],
    }
    response = client.post("/fhir/Patient", json=patient)
    assert response.status_code == 422
    expressions = sorted(e for issue in response.json()["issue"] for e in issue["expression"])
    assert expressions == ["Patient.address[0].type", "Patient.gender", "Patient.name[0].use"]


def test_create_accepts_valid_codes(client: TestClient, clinic: dict[str, Any]) -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Doe", "use": "official"}],
        "gender": "unknown",
        "telecom": [{"system": "pager", "value": "1234"}],
    }
    response = client.post("/fhir/Patient", json=patient)
    assert response.status_code == 201, response.text
    assert response.json()["gender"] == "unknown"


def test_the_binding_table_is_built_when_the_server_starts(database_url: str) -> None:
    """The first write pays nothing for loading the R4 definitions: start-up did it."""
    required_bindings.cache_clear()
    with TestClient(create_app(load_settings(database_url=database_url))):
        assert required_bindings.cache_info().currsize == 1


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"active": 1}, "Patient.active"),
        ({"active": "yes"}, "Patient.active"),
        ({"multipleBirthInteger": "2"}, "Patient.multipleBirthInteger"),
        ({"gender": None}, "Patient.gender"),
    ],
)
def test_create_refuses_wrong_json_types_and_null_with_a_400_naming_the_element(
    client: TestClient, clinic: dict[str, Any], elements: dict[str, Any], expression: str
) -> None:
    issue = _issue(client.post("/fhir/Patient", json={"resourceType": "Patient", **elements}), 400)
    assert issue["code"] in {"value", "structure"}
    assert issue["expression"] == [expression]
    assert client.get("/fhir/Patient/_history").json()["entry"] == []


def test_create_refuses_a_reference_to_a_type_the_element_does_not_allow(
    client: TestClient, clinic: dict[str, Any]
) -> None:
    other = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Doe"}]}).json()
    patient = {"resourceType": "Patient", "generalPractitioner": [{"reference": f"Patient/{other['id']}"}]}
    issue = _issue(client.post("/fhir/Patient", json=patient), 422)
    assert (issue["code"], issue["expression"]) == ("invalid", ["Patient.generalPractitioner[0]"])


def test_create_refuses_a_broken_invariant_on_a_code_carrying_extensions(
    client: TestClient, clinic: dict[str, Any]
) -> None:
    use = {"use": "home", "_use": {"extension": [{"url": "http://example.org/why", "valueString": "moved"}]}}
    organization = {"resourceType": "Organization", "name": "Lab", "address": [use]}
    issue = _issue(client.post("/fhir/Organization", json=organization), 422)
    assert (issue["code"], issue["expression"]) == ("invariant", ["Organization.address[0]"])
    assert "org-2" in issue["diagnostics"]


def test_create_refuses_a_broken_invariant_naming_its_key(client: TestClient, clinic: dict[str, Any]) -> None:
    patient = {"resourceType": "Patient", "contact": [{"gender": "male"}]}
    issue = _issue(client.post("/fhir/Patient", json=patient), 422)
    assert (issue["code"], issue["expression"]) == ("invariant", ["Patient.contact[0]"])
    assert "pat-1" in issue["diagnostics"]
