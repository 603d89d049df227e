"""U+0000 wherever a client's text reaches the database (issue 15, item 3): no FHIR string or id holds it and
PostgreSQL's text cannot, so it answered 500 there. Now every search parameter of every type (its name or value,
chains, ``_has``, result parameters), through every way a search reaches the server (GET and POST ``_search``,
compartments, conditional criteria, ``If-None-Exist``, Bundle entries, the AuditEvent search), and every id in a
path, answer 400 with an OperationOutcome naming the parameter, on SQLite and PostgreSQL. So does a ``_search`` form
body that is not UTF-8 (a 500 before)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient

NUL = "\x00"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}

SEARCHES: dict[str, tuple[str, str, str]] = {
    "string": ("Patient", "name", f"Do{NUL}e"),
    "string:exact": ("Patient", "family:exact", f"Do{NUL}e"),
    "token": ("Patient", "identifier", f"urn:x|{NUL}"),
    "token code": ("Patient", "gender", f"fe{NUL}male"),
    "_id": ("Patient", "_id", f"a{NUL}"),
    "date": ("Patient", "birthdate", f"19{NUL}90"),
    "quantity": ("Observation", "value-quantity", f"5|http://unitsofmeasure.org|m{NUL}g"),
    "reference": ("Observation", "subject", f"Patient/a{NUL}"),
    "uri": ("ValueSet", "url", f"http://example.org/{NUL}"),
    "composite": ("Observation", "code-value-quantity", f"a{NUL}$5"),
    "_tag": ("Patient", "_tag", f"x|{NUL}"),
    "chain": ("Observation", "subject:Patient.name", f"a{NUL}"),
    "_has": ("Patient", "_has:Observation:subject:code", f"a{NUL}"),
    "_sort": ("Patient", "_sort", f"name{NUL}"),
    "_include": ("Patient", "_include", f"Patient:organization{NUL}"),
    "a name": ("Patient", f"na{NUL}me", "x"),
}


def _refused(response: Any, expression: str) -> None:
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome", outcome
    issue = outcome["issue"][0]
    assert "U+0000" in issue["diagnostics"], outcome
    assert issue["expression"] == [expression.replace(NUL, "\\u0000")], outcome


@pytest.mark.parametrize(("resource_type", "name", "value"), SEARCHES.values(), ids=SEARCHES.keys())
def test_a_search_holding_nul_is_400_naming_the_parameter(
    module_client: TestClient, resource_type: str, name: str, value: str
) -> None:
    query = urlencode([(name, value)])
    _refused(module_client.get(f"/fhir/{resource_type}?{query}"), name)
    _refused(module_client.post(f"/fhir/{resource_type}/_search", content=query, headers=FORM), name)
    if resource_type == "Observation":  # a type of the Patient compartment
        _refused(module_client.get(f"/fhir/Patient/any-patient/{resource_type}?{query}"), name)


def test_conditional_criteria_holding_nul_are_400(module_client: TestClient) -> None:
    criteria = urlencode([("code", f"weight{NUL}")])
    _refused(module_client.post("/fhir/Observation", json=OBSERVATION, headers={"If-None-Exist": criteria}), "code")
    _refused(module_client.put(f"/fhir/Observation?{criteria}", json=OBSERVATION), "code")
    _refused(module_client.delete(f"/fhir/Observation?{criteria}"), "code")


def test_a_transaction_entry_holding_nul_is_400_and_writes_nothing(module_client: TestClient) -> None:
    criteria = urlencode([("code", f"weight{NUL}")])
    before = module_client.get("/fhir/Observation?code=weight").json()["total"]
    request = {"method": "POST", "url": "Observation", "ifNoneExist": criteria}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": OBSERVATION, "request": request}]}
    response = module_client.post("/fhir", json=bundle)
    assert response.status_code == 400, response.text
    assert "U+0000" in response.json()["issue"][0]["diagnostics"]
    assert module_client.get("/fhir/Observation?code=weight").json()["total"] == before


def test_a_batch_search_holding_nul_is_refused_never_a_500(module_client: TestClient) -> None:
    entry = {"request": {"method": "GET", "url": f"Patient?{urlencode([('name', NUL)])}"}}
    response = module_client.post("/fhir", json={"resourceType": "Bundle", "type": "batch", "entry": [entry]})
    body = response.json()
    if response.status_code == 200:  # a batch whose entries answer on their own (issue 15, item 1)
        body = body["entry"][0]["response"]["outcome"]
    else:
        assert response.status_code == 400, body
    assert "U+0000" in body["issue"][0]["diagnostics"], body


PATHS = {
    "read": ("GET", "/fhir/Patient/{}"),
    "vread": ("GET", "/fhir/Patient/{}/_history/1"),
    "history": ("GET", "/fhir/Patient/{}/_history"),
    "delete": ("DELETE", "/fhir/Observation/{}"),
    "patch": ("PATCH", "/fhir/Observation/{}"),
    "update": ("PUT", "/fhir/Observation/{}"),
    "$everything": ("GET", "/fhir/Patient/{}/$everything"),
    "compartment": ("GET", "/fhir/Patient/{}/Observation"),
}


@pytest.mark.parametrize(("method", "path"), PATHS.values(), ids=PATHS.keys())
def test_an_id_holding_nul_in_a_path_is_400(module_client: TestClient, method: str, path: str) -> None:
    headers = {"Content-Type": "application/json-patch+json"} if method == "PATCH" else {}
    body = [] if method == "PATCH" else OBSERVATION
    response = module_client.request(method, path.format(quote(f"a{NUL}b")), json=body, headers=headers)
    _refused(response, "id")


@pytest.mark.auth_off_only(reason="a clinic's backend service with system/*.cruds may not search AuditEvent")
@pytest.mark.parametrize("name", ["entity", "patient", "type", "date"])
def test_an_audit_event_search_holding_nul_is_400_naming_the_parameter(module_client: TestClient, name: str) -> None:
    _refused(module_client.get(f"/fhir/AuditEvent?{urlencode([(name, f'Patient/a{NUL}')])}"), name)


def test_a_search_form_that_is_not_utf8_is_400(module_client: TestClient) -> None:
    response = module_client.post("/fhir/Patient/_search", content=b"name=\xff\xfe", headers=FORM)
    assert response.status_code == 400, response.text
    assert "not UTF-8" in response.json()["issue"][0]["diagnostics"]
