"""patch: PATCH /fhir/{type}/{id} with JSON Patch or FHIRPath Patch (http://hl7.org/fhir/R4/http.html#patch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

MakePatient = Callable[..., dict[str, Any]]
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def _json_patch(client: TestClient, patient: dict[str, Any], operations: Any, **headers: str) -> Any:
    return client.patch(
        f"/fhir/Patient/{patient['id']}", content=orjson.dumps(operations), headers={**JSON_PATCH, **headers}
    )


def _operation(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    part = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name in ("name",):
            part.append({"name": name, "valueString": value})
        elif name in ("index", "source", "destination"):
            part.append({"name": name, "valueInteger": value})
        else:
            value_type, content = value
            part.append({"name": "value", f"value{value_type}": content})
    return {"name": "operation", "part": part}


def _fhirpath_patch(client: TestClient, patient: dict[str, Any], *operations: dict[str, Any]) -> Any:
    body = {"resourceType": "Parameters", "parameter": list(operations)}
    return client.patch(f"/fhir/Patient/{patient['id']}", json=body)


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def _current(client: TestClient, patient: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/fhir/Patient/{patient['id']}").json()
    return body


# --- JSON Patch --------------------------------------------------------------------------------------------------


def test_json_patch_changes_the_resource_and_makes_a_new_version(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient(gender="female")
    response = _json_patch(
        client,
        patient,
        [
            {"op": "add", "path": "/birthDate", "value": "1990-04-01"},
            {"op": "replace", "path": "/name/0/given/0", "value": "Janet"},
            {"op": "remove", "path": "/gender"},
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["birthDate"] == "1990-04-01" and body["name"][0]["given"] == ["Janet"] and "gender" not in body
    assert body["meta"]["versionId"] == "2"
    assert response.headers["etag"] == 'W/"2"'
    assert _current(client, patient) == body


def test_a_failed_test_operation_is_422_naming_it_and_changes_nothing(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()
    operations = [
        {"op": "add", "path": "/birthDate", "value": "1990-04-01"},
        {"op": "test", "path": "/name/0/family", "value": "Somebody Else"},
    ]
    issue = _issue(_json_patch(client, patient, operations), 422)
    assert issue["expression"] == ["operation[1]"]
    assert _current(client, patient)["meta"]["versionId"] == "1"
    assert "birthDate" not in _current(client, patient)


def test_a_path_that_does_not_exist_is_422(client: TestClient, make_patient: MakePatient) -> None:
    issue = _issue(_json_patch(client, make_patient(), [{"op": "remove", "path": "/birthDate"}]), 422)
    assert issue["expression"] == ["operation[0]"]


def test_a_failed_patch_names_the_path_without_quoting_the_resource(
    client: TestClient, make_patient: MakePatient
) -> None:
    """jsonpatch's own messages quote the document (as a Python dict) or the value tested against."""
    patient = make_patient()
    family = patient["name"][0]["family"]
    missing = _issue(_json_patch(client, patient, [{"op": "replace", "path": "/birthDate/x", "value": 1}]), 422)
    tested = _issue(_json_patch(client, patient, [{"op": "test", "path": "/name/0", "value": {}}]), 422)
    for issue in (missing, tested):
        assert family not in issue["diagnostics"] and "{'" not in issue["diagnostics"], issue
    assert "/birthDate/x" in missing["diagnostics"] and "/name/0" in tested["diagnostics"]


@pytest.mark.parametrize(
    ("document", "expression"),
    [
        ({"op": "add"}, None),
        ([{"op": "frobnicate", "path": "/x"}], "operation[0]"),
        ([{"op": "add", "path": "/gender", "value": "male"}, {"op": "replace", "path": "/gender"}], "operation[1]"),
        ([{"op": "move", "path": "/gender"}], "operation[0]"),
        (["add"], "operation[0]"),
    ],
)
def test_a_malformed_json_patch_is_400(
    client: TestClient, make_patient: MakePatient, document: Any, expression: str | None
) -> None:
    issue = _issue(_json_patch(client, make_patient(), document), 400)
    assert issue.get("expression", [None]) == [expression]


def test_a_body_that_is_not_json_is_400(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.patch(f"/fhir/Patient/{patient['id']}", content=b"[{", headers=JSON_PATCH)
    assert _issue(response, 400)["code"] == "structure"


@pytest.mark.parametrize(
    ("operation", "expression"),
    [
        ({"op": "replace", "path": "/id", "value": "another"}, "Patient.id"),
        ({"op": "remove", "path": "/id"}, "Patient.id"),
        ({"op": "replace", "path": "/resourceType", "value": "Organization"}, "resourceType"),
    ],
)
def test_a_patch_may_not_change_identity(
    client: TestClient, make_patient: MakePatient, operation: dict[str, Any], expression: str
) -> None:
    issue = _issue(_json_patch(client, make_patient(), [operation]), 422)
    assert issue["expression"] == [expression]


def test_a_patch_whose_result_is_invalid_is_422_naming_the_element(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()
    issue = _issue(_json_patch(client, patient, [{"op": "add", "path": "/colour", "value": "blue"}]), 422)
    assert issue["expression"] == ["Patient.colour"]
    issue = _issue(_json_patch(client, patient, [{"op": "replace", "path": "/name", "value": "Jane"}]), 422)
    assert issue["expression"][0].startswith("Patient.name")
    assert _current(client, patient)["meta"]["versionId"] == "1"


def test_if_match_guards_the_patch(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    operations = [{"op": "add", "path": "/gender", "value": "other"}]
    assert _issue(_json_patch(client, patient, operations, **{"If-Match": 'W/"7"'}), 412)["code"] == "conflict"
    response = _json_patch(client, patient, operations, **{"If-Match": 'W/"1"'})
    assert response.status_code == 200
    assert response.json()["gender"] == "other"


def test_patching_an_unknown_resource_is_404_and_a_deleted_one_410(
    client: TestClient, make_patient: MakePatient
) -> None:
    operations = [{"op": "add", "path": "/gender", "value": "other"}]
    assert _issue(_json_patch(client, {"id": "nobody"}, operations), 404)["code"] == "not-found"
    patient = make_patient()
    assert client.delete(f"/fhir/Patient/{patient['id']}").status_code == 204
    assert _issue(_json_patch(client, patient, operations), 410)["code"] == "deleted"


def test_patching_an_unserved_type_is_404(client: TestClient) -> None:
    response = client.patch("/fhir/Spaceship/1", content=b"[]", headers=JSON_PATCH)
    assert _issue(response, 404)["code"] == "not-found"


@pytest.mark.parametrize("content_type", ["application/fhir+xml", "text/plain"])
def test_an_unsupported_patch_format_is_415(client: TestClient, make_patient: MakePatient, content_type: str) -> None:
    patient = make_patient()
    response = client.patch(f"/fhir/Patient/{patient['id']}", content=b"<x/>", headers={"Content-Type": content_type})
    assert _issue(response, 415)["code"] == "not-supported"


def test_prefer_minimal_answers_without_a_body(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    operations = [{"op": "add", "path": "/gender", "value": "other"}]
    response = _json_patch(client, patient, operations, Prefer="return=minimal")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["etag"] == 'W/"2"'


def test_the_patched_version_is_in_the_history(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    _json_patch(client, patient, [{"op": "add", "path": "/gender", "value": "other"}])
    history = client.get(f"/fhir/Patient/{patient['id']}/_history").json()
    assert history["entry"][0]["resource"]["gender"] == "other"
    assert history["entry"][0]["request"]["method"] == "PUT"


# --- FHIRPath Patch ----------------------------------------------------------------------------------------------


def test_fhirpath_patch_applies_every_kind_of_operation(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient(
        identifier=[{"system": "urn:a", "value": "1"}, {"system": "urn:b", "value": "2"}],
        telecom=[{"system": "email", "value": "jane@example.org"}],
    )
    response = _fhirpath_patch(
        client,
        patient,
        _operation("add", "Patient", name="birthDate", value=("Date", "1990-04-01")),
        _operation("replace", "Patient.name[0].family", value=("String", "Smith")),
        _operation("delete", "Patient.telecom.where(system='email')"),
        _operation("insert", "Patient.identifier", index=0, value=("Identifier", {"system": "urn:c", "value": "3"})),
        _operation("move", "Patient.identifier", source=0, destination=1),
        _operation("add", "Patient", name="deceased", value=("Boolean", False)),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["birthDate"] == "1990-04-01"
    assert body["name"][0]["family"] == "Smith"
    assert "telecom" not in body
    assert [i["system"] for i in body["identifier"] if i["system"].startswith("urn:")] == ["urn:a", "urn:c", "urn:b"]
    assert body["deceasedBoolean"] is False


def test_fhirpath_replace_of_a_missing_element_is_422_naming_the_operation(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()
    response = _fhirpath_patch(
        client,
        patient,
        _operation("add", "Patient", name="gender", value=("Code", "male")),
        _operation("replace", "Patient.birthDate", value=("Date", "1990-01-01")),
    )
    issue = _issue(response, 422)
    assert issue["expression"] == ["Parameters.parameter[1]"]
    assert _current(client, patient)["meta"]["versionId"] == "1"


def test_an_unsupported_fhirpath_form_is_422_not_supported(client: TestClient, make_patient: MakePatient) -> None:
    response = _fhirpath_patch(client, make_patient(), _operation("delete", "Patient.name.select(given)"))
    issue = _issue(response, 422)
    assert issue["code"] == "not-supported"
    assert issue["expression"] == ["Parameters.parameter[0]"]


@pytest.mark.parametrize(
    "parameter",
    [
        {"name": "operation", "part": [{"name": "path", "valueString": "Patient.gender"}]},
        {"name": "operation", "part": [{"name": "type", "valueCode": "explode"}, {"name": "path", "valueString": "x"}]},
        {"name": "op", "part": [{"name": "type", "valueCode": "delete"}, {"name": "path", "valueString": "x"}]},
        {"name": "operation", "part": [{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "x"}]},
    ],
)
def test_a_malformed_fhirpath_patch_is_400_naming_the_parameter(
    client: TestClient, make_patient: MakePatient, parameter: dict[str, Any]
) -> None:
    issue = _issue(_fhirpath_patch(client, make_patient(), parameter), 400)
    assert issue["expression"] == ["Parameters.parameter[0]"]


def test_a_fhir_json_patch_body_must_be_parameters(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.patch(f"/fhir/Patient/{patient['id']}", json={"resourceType": "Patient"})
    assert _issue(response, 400)["expression"] == ["resourceType"]
