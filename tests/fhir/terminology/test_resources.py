"""CodeSystem and ValueSet as resources: the server's published R4 definitions are readable, searchable and
read-only; the ones a clinic stores itself keep working as before, and both are found by search and the operations.
The CapabilityStatement declares them with their operations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.valueset import ValueSet

from tests.authorized_client import clinic_of, fhir_client

GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"
GENDER = "http://hl7.org/fhir/administrative-gender"
OWN_VS = "http://clinic.example.org/ValueSet/visit-genders"
FHIR_JSON = {"content-type": "application/fhir+json"}


@pytest.fixture
def client(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode, log_level="warning") as client:
        yield client


@pytest.fixture
def clinic(client: TestClient) -> dict[str, Any]:
    """The clinic the test's own ValueSets belong to."""
    return clinic_of(client)


def _own_value_set(client: TestClient, url: str = OWN_VS) -> dict[str, Any]:
    """A ValueSet the clinic stores itself, drawing two codes from the R4 administrative-gender CodeSystem."""
    resource = {
        "resourceType": "ValueSet",
        "url": url,
        "name": "VisitGenders",
        "status": "draft",
        "compose": {"include": [{"system": GENDER, "concept": [{"code": "female"}, {"code": "other"}]}]},
    }
    created = client.post("/fhir/ValueSet", json=resource)
    assert created.status_code == 201, created.text
    stored: dict[str, Any] = created.json()
    return stored


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def test_a_published_value_set_and_code_system_are_read_by_id(client: TestClient) -> None:
    response = client.get("/fhir/ValueSet/administrative-gender")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"1"'
    assert ValueSet.model_validate(response.json()).url == GENDER_VS
    code_system = client.get("/fhir/CodeSystem/administrative-gender").json()
    assert CodeSystem.model_validate(code_system).url == GENDER
    summary = client.get("/fhir/CodeSystem/administrative-gender", params={"_summary": "true"}).json()
    assert "concept" not in summary
    assert client.get("/fhir/CodeSystem/no-such-system").status_code == 404


@pytest.mark.parametrize(
    ("resource_type", "params", "expected"),
    [
        ("ValueSet", {"url": GENDER_VS}, ["administrative-gender"]),
        ("ValueSet", {"name": "AdministrativeGend"}, ["administrative-gender"]),
        ("ValueSet", {"title:exact": "AdministrativeGender"}, ["administrative-gender"]),
        ("ValueSet", {"reference": GENDER}, ["administrative-gender"]),
        ("ValueSet", {"_id": "administrative-gender,item-type"}, ["administrative-gender", "item-type"]),
        ("CodeSystem", {"code": "noshow"}, ["appointmentstatus"]),
        ("CodeSystem", {"system": GENDER, "status": "active", "version": "4.0.1"}, ["administrative-gender"]),
        ("CodeSystem", {"name:contains": "gender", "content-mode": "complete"}, ["administrative-gender"]),
        ("CodeSystem", {"url": "http://example.org/none"}, []),
    ],
)
def test_published_definitions_are_searched(
    client: TestClient, resource_type: str, params: dict[str, str], expected: list[str]
) -> None:
    bundle = client.get(f"/fhir/{resource_type}", params=params).json()
    assert _ids(bundle) == expected
    assert bundle["total"] == len(expected)


def test_a_bare_search_counts_every_published_definition(client: TestClient) -> None:
    counted = client.get("/fhir/ValueSet", params={"_summary": "count"}).json()
    assert counted["total"] >= 200 and "entry" not in counted


def test_a_parameter_not_matched_in_memory_leaves_the_published_out_and_says_so(client: TestClient) -> None:
    bundle = client.get("/fhir/ValueSet", params={"date": "ge2019"}).json()
    assert _ids(bundle) == [] and bundle["total"] == 0
    outcome = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome[0]["issue"][0]["severity"] == "warning"
    assert outcome[0]["issue"][0]["expression"] == ["date"]
    unknown = client.get("/fhir/ValueSet", params={"no-such-parameter": "x"})
    assert unknown.status_code == 400


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_published_definitions_are_read_only(client: TestClient, method: str) -> None:
    current = client.get("/fhir/ValueSet/administrative-gender").json()
    if method == "PATCH":
        body: Any = [{"op": "replace", "path": "/status", "value": "retired"}]
        headers = {"content-type": "application/json-patch+json"}
    else:
        body, headers = {**current, "status": "retired"}, FHIR_JSON
    response = client.request(method, "/fhir/ValueSet/administrative-gender", json=body, headers=headers)
    assert response.status_code == 405, response.text
    assert response.json()["issue"][0]["code"] == "not-supported"
    assert client.get("/fhir/ValueSet/administrative-gender").json()["status"] == "active"


def test_a_transaction_cannot_write_a_published_definition(client: TestClient) -> None:
    code_system = client.get("/fhir/CodeSystem/administrative-gender").json()
    entry = {"resource": code_system, "request": {"method": "PUT", "url": "CodeSystem/administrative-gender"}}
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
    assert response.status_code == 405, response.text
    assert client.get("/fhir/CodeSystem/administrative-gender").json()["meta"]["versionId"] == "1"


@pytest.mark.usefixtures("clinic")
def test_a_clinic_value_set_is_stored_searched_and_expanded(client: TestClient) -> None:
    own = _own_value_set(client)
    assert client.get(f"/fhir/ValueSet/{own['id']}").json()["url"] == OWN_VS
    found = client.get("/fhir/ValueSet", params={"url": OWN_VS}).json()
    assert _ids(found) == [own["id"]] and found["total"] == 1
    both = client.get("/fhir/ValueSet", params={"reference": GENDER}).json()
    assert _ids(both) == sorted(["administrative-gender", own["id"]]) and both["total"] == 2  # one order: the id
    expanded = client.get(f"/fhir/ValueSet/{own['id']}/$expand").json()
    assert expanded["expansion"]["contains"] == [
        {"system": GENDER, "code": "female", "display": "Female"},
        {"system": GENDER, "code": "other", "display": "Other"},
    ]
    checked = client.get(f"/fhir/ValueSet/{own['id']}/$validate-code", params={"system": GENDER, "code": "male"})
    assert checked.json()["parameter"][0] == {"name": "result", "valueBoolean": False}
    updated = client.put(f"/fhir/ValueSet/{own['id']}", json={**own, "status": "active"})
    assert updated.status_code == 200, updated.text


@pytest.mark.usefixtures("clinic")
def test_search_pages_continue_with_the_clinic_definitions(client: TestClient) -> None:
    own = [_own_value_set(client, f"{OWN_VS}-{n}")["id"] for n in (1, 2)]
    page = client.get(
        "/fhir/ValueSet", params={"reference": GENDER, "_count": 1, "_sort": "url", "_total": "accurate"}
    ).json()
    seen = []
    for _ in range(3):
        assert page["total"] == 3 and len(_ids(page)) == 1
        seen += _ids(page)
        following = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not following:
            break
        page = client.get("/fhir" + following[0].split("/fhir", 1)[1]).json()
    assert seen == [*own, "administrative-gender"]  # http://clinic.example.org/... sorts before http://hl7.org/...


def test_the_capability_statement_declares_the_types_and_operations(client: TestClient) -> None:
    resources = {r["type"]: r for r in client.get("/fhir/metadata").json()["rest"][0]["resource"]}
    wanted = {
        "CodeSystem": {"lookup": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"},
        "ValueSet": {
            "expand": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
            "validate-code": "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code",
        },
        "ConceptMap": {"translate": "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"},
    }
    for resource_type, operations in wanted.items():
        declared = {o["name"]: o["definition"] for o in resources[resource_type]["operation"]}
        assert operations.items() <= declared.items()
        assert {"read", "search-type"} <= {i["code"] for i in resources[resource_type]["interaction"]}


def test_search_by_post_finds_the_published_definitions(client: TestClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    found = client.post("/fhir/ValueSet/_search", content=f"url={GENDER_VS}", headers=form)
    assert found.status_code == 200, found.text
    assert _ids(found.json()) == ["administrative-gender"]
    assert client.post("/fhir/CodeSystem/_search", json={"url": GENDER}).status_code == 415
