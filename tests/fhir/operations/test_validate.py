"""$validate (http://hl7.org/fhir/R4/resource-operation-validate.html): every issue, nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of, fhir_client


@pytest.fixture
def client(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode) as client:
        yield client


@pytest.fixture
def clinic(client: TestClient) -> dict[str, Any]:
    return clinic_of(client)


def _patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": "Doe", "given": ["Jane"]}], **elements}


def _parameters(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parameters)}


def _issues(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issues: list[dict[str, Any]] = body["issue"]
    return issues


def _all_ok(response: Any) -> bool:
    return _issues(response) == [{"severity": "information", "code": "informational", "diagnostics": "All OK"}]


def _versions(client: TestClient, resource_type: str) -> int:
    return len(client.get(f"/fhir/{resource_type}/_history").json()["entry"])


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


# --- create (the default) -----------------------------------------------------------------------------------


def test_a_valid_resource_is_all_ok_and_not_stored(client: TestClient, clinic: dict[str, Any]) -> None:
    assert _all_ok(client.post("/fhir/Patient/$validate", json=_patient(gender="female")))
    assert _versions(client, "Patient") == 0


def test_a_bad_code_is_reported_with_its_path_and_nothing_is_stored(client: TestClient, clinic: dict[str, Any]) -> None:
    issues = _issues(client.post("/fhir/Patient/$validate", json=_patient(gender="dog")))
    assert [(i["severity"], i["code"], i["expression"]) for i in issues] == [
        ("error", "code-invalid", ["Patient.gender"])
    ]
    assert _versions(client, "Patient") == 0


def test_every_kind_of_issue_is_listed_together(client: TestClient, clinic: dict[str, Any]) -> None:
    patient = _patient(
        telecom=[{"system": "beeper", "value": "1"}],
        generalPractitioner=[{"reference": "Practitioner/nobody"}],
        contact=[{"organization": {"reference": "#nowhere"}}],
    )
    issues = _issues(client.post("/fhir/Patient/$validate", json=patient))
    assert sorted((i["code"], i["expression"][0]) for i in issues) == [
        ("code-invalid", "Patient.telecom[0].system"),
        ("not-found", "Patient.contact[0].organization"),
        ("not-found", "Patient.generalPractitioner[0]"),
    ]


def test_the_mappings_own_rules_are_reported(client: TestClient, clinic: dict[str, Any]) -> None:
    """An Appointment's end must come after its start on this server: the write path says so, $validate too."""
    practitioner = client.post(
        "/fhir/Practitioner", json={"resourceType": "Practitioner", "name": [{"family": "House", "given": ["Gregory"]}]}
    ).json()
    appointment = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2030-01-01T09:30:00Z",
        "end": "2030-01-01T09:00:00Z",
        "participant": [{"actor": {"reference": f"Practitioner/{practitioner['id']}"}, "status": "accepted"}],
    }
    issues = _issues(client.post("/fhir/Appointment/$validate", json=appointment))
    assert [i["severity"] for i in issues] == ["error"]
    assert "after Appointment.start" in issues[0]["diagnostics"]
    assert issues[0]["expression"] == ["Appointment.end"]
    assert client.post("/fhir/Appointment", json=appointment).status_code == 422
    assert _versions(client, "Appointment") == 0


def test_structure_errors_are_reported_as_issues(client: TestClient, clinic: dict[str, Any]) -> None:
    issues = _issues(client.post("/fhir/Patient/$validate", json=_patient(colour="blue")))
    assert [(i["code"], i["expression"]) for i in issues] == [("structure", ["Patient.colour"])]


def test_a_parameters_body_carries_the_resource_and_the_mode(client: TestClient, clinic: dict[str, Any]) -> None:
    body = _parameters({"name": "resource", "resource": _patient()}, {"name": "mode", "valueCode": "create"})
    assert _all_ok(client.post("/fhir/Patient/$validate", json=body))
    body = _parameters({"name": "resource", "resource": _patient(gender="x")})
    assert [i["expression"] for i in _issues(client.post("/fhir/Patient/$validate", json=body))] == [["Patient.gender"]]


def test_the_base_profile_is_accepted_and_any_other_is_not_supported(
    client: TestClient, clinic: dict[str, Any]
) -> None:
    base = {"name": "profile", "valueUri": "http://hl7.org/fhir/StructureDefinition/Patient"}
    assert _all_ok(
        client.post("/fhir/Patient/$validate", json=_parameters({"name": "resource", "resource": _patient()}, base))
    )
    us_core = {"name": "profile", "valueCanonical": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"}
    body = _parameters({"name": "resource", "resource": _patient()}, us_core)
    issue = _error(client.post("/fhir/Patient/$validate", json=body), 400)
    assert issue["code"] == "not-supported"


# --- update and delete --------------------------------------------------------------------------------------


def test_an_instance_update_is_validated_without_changing_the_resource(
    client: TestClient, clinic: dict[str, Any]
) -> None:
    patient = client.post("/fhir/Patient", json=_patient()).json()
    changed = {**patient, "gender": "male"}
    assert _all_ok(client.post(f"/fhir/Patient/{patient['id']}/$validate", json=changed))
    stored = client.get(f"/fhir/Patient/{patient['id']}").json()
    assert stored["meta"]["versionId"] == "1"
    assert "gender" not in stored


def test_an_update_whose_id_differs_from_the_urls_is_an_issue(client: TestClient, clinic: dict[str, Any]) -> None:
    patient = client.post("/fhir/Patient", json=_patient()).json()
    issues = _issues(client.post(f"/fhir/Patient/{patient['id']}/$validate", json={**patient, "id": "other"}))
    assert [(i["code"], i["expression"]) for i in issues] == [("invalid", ["Patient.id"])]


def test_mode_update_at_type_level_uses_the_resources_id(client: TestClient, clinic: dict[str, Any]) -> None:
    body = _parameters({"name": "resource", "resource": _patient()}, {"name": "mode", "valueCode": "update"})
    assert [i["expression"] for i in _issues(client.post("/fhir/Patient/$validate", json=body))] == [["Patient.id"]]


def test_mode_delete_checks_that_the_instance_exists(client: TestClient, clinic: dict[str, Any]) -> None:
    patient = client.post("/fhir/Patient", json=_patient()).json()
    delete = _parameters({"name": "mode", "valueCode": "delete"})
    assert _all_ok(client.post(f"/fhir/Patient/{patient['id']}/$validate", json=delete))
    assert client.get(f"/fhir/Patient/{patient['id']}").status_code == 200
    missing = _issues(client.post("/fhir/Patient/unknown/$validate", json=delete))
    assert [i["code"] for i in missing] == ["not-found"]


def test_mode_delete_may_come_in_the_url_without_a_body(client: TestClient, clinic: dict[str, Any]) -> None:
    patient = client.post("/fhir/Patient", json=_patient()).json()
    assert _all_ok(client.post(f"/fhir/Patient/{patient['id']}/$validate?mode=delete"))


def test_mode_delete_needs_an_instance(client: TestClient, clinic: dict[str, Any]) -> None:
    issue = _error(
        client.post("/fhir/Patient/$validate", json=_parameters({"name": "mode", "valueCode": "delete"})), 400
    )
    assert issue["expression"] == ["mode"]


# --- requests that are not validations ----------------------------------------------------------------------


def test_an_unknown_type_is_a_404(client: TestClient) -> None:
    assert (
        _error(client.post("/fhir/Spaceship/$validate", json={"resourceType": "Spaceship"}), 404)["code"] == "not-found"
    )


def test_a_body_that_is_not_json_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient/$validate", content=b"{oops", headers={"Content-Type": "application/fhir+json"}
    )
    assert _error(response, 400)["code"] == "structure"


def test_a_resource_of_another_type_is_a_400(client: TestClient) -> None:
    issue = _error(client.post("/fhir/Patient/$validate", json={"resourceType": "Organization", "name": "x"}), 400)
    assert issue["expression"] == ["resourceType"]


@pytest.mark.parametrize(
    ("parameters", "expression"),
    [
        ([{"name": "mode", "valueCode": "destroy"}, {"name": "resource", "resource": _patient()}], "mode"),
        ([{"name": "colour", "valueString": "blue"}], "Parameters.parameter[0]"),
        ([{"name": "mode", "valueCode": "create"}], "resource"),
    ],
    ids=["unknown mode", "unknown parameter", "no resource"],
)
def test_a_malformed_parameters_body_is_a_400(
    client: TestClient, parameters: list[dict[str, Any]], expression: str
) -> None:
    issue = _error(client.post("/fhir/Patient/$validate", json=_parameters(*parameters)), 400)
    assert issue["expression"] == [expression]
