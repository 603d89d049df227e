"""patch with a JSON Merge Patch (RFC 7386): ``application/merge-patch+json``, and the partial resource fhirpy's
``patch()`` sends as ``application/json``; through the same pipeline and bounds as JSON Patch
(http://hl7.org/fhir/R4/http.html#patch)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of, fhir_client
from tests.fhir.interactions.conftest import MakePatient
from tests.fhir.interactions.test_patch_limits import _issue

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def _merge(
    client: TestClient, patient: dict[str, Any], document: Any, content_type: str = MERGE_PATCH["Content-Type"]
) -> Any:
    url = f"/fhir/Patient/{patient['id']}"
    return client.patch(url, content=orjson.dumps(document), headers={"Content-Type": content_type})


def _unchanged(client: TestClient, patient: dict[str, Any]) -> None:
    current = client.get(f"/fhir/Patient/{patient['id']}").json()
    assert current["meta"]["versionId"] == patient["meta"]["versionId"]
    assert {k: v for k, v in current.items() if k != "meta"} == {k: v for k, v in patient.items() if k != "meta"}


def test_a_merge_patch_sets_removes_and_merges_and_makes_a_new_version(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient(
        gender="female", maritalStatus={"text": "married"}, telecom=[{"system": "phone", "value": "1"}]
    )
    document: dict[str, Any] = {
        "birthDate": "1990-04-01",
        "gender": None,
        "maritalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]
        },
        "telecom": [{"system": "email", "value": "a@example.org"}],
    }
    response = _merge(client, patient, document)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["birthDate"] == "1990-04-01" and "gender" not in body
    assert body["maritalStatus"] == {"text": "married", **document["maritalStatus"]}  # objects merge
    assert body["telecom"] == document["telecom"]  # arrays are replaced whole
    assert body["name"] == patient["name"]
    assert body["meta"]["versionId"] == "2" and response.headers["etag"] == 'W/"2"'
    assert client.get(f"/fhir/Patient/{patient['id']}").json() == body


def test_fhirpys_partial_resource_as_plain_json_is_a_merge_patch(client: TestClient, make_patient: MakePatient) -> None:
    """fhirpy's ``patient.patch(active=True)`` and ``client.patch("Patient", id, ...)`` send the changed elements as
    ``application/json`` (with requests' default Content-Type), with no resourceType."""
    patient = make_patient()
    response = _merge(client, patient, {"active": True, "name": [{"text": "Jane Doe"}]}, "application/json")
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True and response.json()["name"] == [{"text": "Jane Doe"}]


def test_plain_json_keeps_json_patch_and_fhirpath_patch(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = _merge(client, patient, [{"op": "add", "path": "/active", "value": False}], "application/json")
    assert response.status_code == 200 and response.json()["active"] is False, response.text
    issue = _issue(_merge(client, response.json(), {"resourceType": "Patient"}, "application/json"), 400)
    assert issue["expression"] == ["resourceType"]  # a resource that is no Parameters: not a FHIRPath Patch


@pytest.mark.parametrize("document", [[{"op": "add", "path": "/active", "value": True}], "text", 3])
def test_a_merge_patch_that_is_not_an_object_is_400(
    client: TestClient, make_patient: MakePatient, document: Any
) -> None:
    patient = make_patient()
    assert _issue(_merge(client, patient, document), 400)["code"] == "structure"
    _unchanged(client, patient)


def test_a_merge_patch_whose_result_is_invalid_is_422_naming_the_element(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()
    issue = _issue(_merge(client, patient, {"gender": "robot", "birthDate": "1990-04-01"}), 422)
    assert issue["expression"] == ["Patient.gender"]
    _unchanged(client, patient)


@pytest.mark.parametrize("document", [{"id": "someone-else"}, {"resourceType": "Observation"}, {"id": None}])
def test_a_merge_patch_may_not_change_identity(client: TestClient, make_patient: MakePatient, document: Any) -> None:
    patient = make_patient()
    assert _issue(_merge(client, patient, document), 422)["code"] == "not-supported"
    _unchanged(client, patient)


def test_if_match_guards_a_merge_patch(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    url = f"/fhir/Patient/{patient['id']}"
    stale = client.patch(url, content=b'{"active": true}', headers={**MERGE_PATCH, "If-Match": 'W/"9"'})
    assert _issue(stale, 412)["code"] == "conflict"
    fresh = client.patch(url, content=b'{"active": true}', headers={**MERGE_PATCH, "If-Match": 'W/"1"'})
    assert fresh.status_code == 200, fresh.text


@pytest.fixture
def limited(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    """A server whose patches may hold 3 operations and grow a resource to 4 KB, with a clinic."""
    with fhir_client(database_url, auth_mode, patch_max_operations=3, patch_max_resource_bytes=4096) as client:
        clinic_of(client)
        yield client


def test_a_merge_patch_obeys_the_patch_limits(limited: TestClient) -> None:
    created = limited.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Doe"}]})
    patient = created.json()
    nested = {"active": True, "maritalStatus": {"text": "x", "coding": [{"code": "M"}]}}  # 4 members at any depth
    issue = _issue(_merge(limited, patient, nested), 413)
    assert issue["code"] == "too-costly" and "at most 3" in issue["diagnostics"]
    grow = {"extension": [{"url": "urn:x", "valueString": "x" * 5000}]}
    issue = _issue(_merge(limited, patient, grow), 422)
    assert issue["code"] == "too-costly" and "4096 bytes" in issue["diagnostics"]
    assert issue["expression"] == ["/extension"]
    _unchanged(limited, patient)
    assert _merge(limited, patient, {"extension": [{"url": "urn:x", "valueString": "x" * 100}]}).status_code == 200


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_a_bundle_entry_carries_a_merge_patch_as_a_binary(
    client: TestClient, make_patient: MakePatient, kind: str
) -> None:
    patient = make_patient()
    data = base64.b64encode(orjson.dumps({"birthDate": "2001-02-03"})).decode()
    entry = {
        "resource": {"resourceType": "Binary", "contentType": "application/merge-patch+json", "data": data},
        "request": {"method": "PATCH", "url": f"Patient/{patient['id']}"},
    }
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": kind, "entry": [entry]})
    assert response.status_code == 200, response.text
    assert response.json()["entry"][0]["response"]["status"].startswith("200")
    assert client.get(f"/fhir/Patient/{patient['id']}").json()["birthDate"] == "2001-02-03"
