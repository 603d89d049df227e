"""The stored types are validated by the R4 StructureDefinitions, not by fhir.resources' R4B models: an R4-only
structure is taken, and every rule answers as it does for a mapped type (400 structure, 422 content rules)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fhir.store.test_store_interactions import MakePatient, observation


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def test_an_r4_only_type_is_taken_and_read_back(client: TestClient, clinic: dict[str, Any]) -> None:
    """MedicinalProduct is R4 (R4B replaced it with MedicinalProductDefinition)."""
    product = {
        "resourceType": "MedicinalProduct",
        "name": [
            {
                "productName": "Amoxicillin 500 mg capsules",
                "countryLanguage": [{"country": {"text": "FR"}, "language": {"text": "fr"}}],
            }
        ],
    }
    created = client.post("/fhir/MedicinalProduct", json=product)
    assert created.status_code == 201, created.text
    read = client.get(f"/fhir/MedicinalProduct/{created.json()['id']}").json()
    assert read["name"] == product["name"]


def test_a_stored_type_with_a_number_as_text_is_a_400_naming_it(client: TestClient, make_patient: MakePatient) -> None:
    sent = observation(make_patient()["id"])
    sent["valueQuantity"] = {**sent["valueQuantity"], "value": "72"}
    issue = _issue(client.post("/fhir/Observation", json=sent), 400)
    assert (issue["code"], issue["expression"]) == ("value", ["Observation.valueQuantity.value"])


def test_a_stored_type_referring_to_a_type_its_element_does_not_allow_is_a_422(
    client: TestClient, make_patient: MakePatient
) -> None:
    sent = {**observation(make_patient()["id"]), "performer": [{"reference": "Medication/m1"}]}
    issue = _issue(client.post("/fhir/Observation", json=sent), 422)
    assert (issue["code"], issue["expression"]) == ("invalid", ["Observation.performer[0]"])


def test_a_stored_type_breaking_an_invariant_is_a_422_naming_it(client: TestClient, make_patient: MakePatient) -> None:
    sent = {**observation(make_patient()["id"]), "dataAbsentReason": {"text": "not measured"}}
    issue = _issue(client.post("/fhir/Observation", json=sent), 422)
    assert (issue["code"], issue["expression"]) == ("invariant", ["Observation"])
    assert "obs-6" in issue["diagnostics"]


def test_validate_lists_the_issues_of_a_stored_type(client: TestClient, clinic: dict[str, Any]) -> None:
    condition = {"resourceType": "Condition", "code": {"text": "x"}, "onsetAge": {"value": "52"}}
    response = client.post("/fhir/Condition/$validate", json=condition)
    assert response.status_code == 200, response.text
    found = sorted((i["code"], i["expression"][0]) for i in response.json()["issue"])
    assert found == [("required", "Condition.subject"), ("value", "Condition.onsetAge.value")]
