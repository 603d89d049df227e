"""The US Core search parameters that R4 itself lacks (conformance/search-parameters-us-core.json) are indexed and
searched like the official ones (http://hl7.org/fhir/us/core/search-parameters.html): a patient is found by race
and ethnicity (the codes inside the US Core extensions: the parameters' expressions select the ``code`` alone, so a
search names no system), a care team by a participant's role."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fhir_server.fhir.search.registry import parameters_for
from tests.authorized_client import clinic_of
from tests.fhir.store.us_core_record import record_entries


def _ids(client: TestClient, resource_type: str, **params: str) -> list[str]:
    response = client.get(f"/fhir/{resource_type}", params=params)
    assert response.status_code == 200, response.text
    return [entry["resource"]["id"] for entry in response.json().get("entry", [])]


def _created(client: TestClient, resource: dict[str, Any]) -> str:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: str = response.json()["id"]
    return created


def test_the_us_core_parameters_apply_to_their_types() -> None:
    assert parameters_for("Patient")["race"].type == "token"
    assert parameters_for("Patient")["ethnicity"].url.startswith("http://hl7.org/fhir/us/core/SearchParameter/")
    assert parameters_for("CareTeam")["role"].expression == "CareTeam.participant.role"
    assert "race" not in parameters_for("Practitioner")


def test_a_patient_is_found_by_race_and_ethnicity(client: TestClient) -> None:
    clinic_of(client)
    patient = _created(client, record_entries()["patient"])  # White, not Hispanic or Latino
    other = _created(client, {"resourceType": "Patient", "name": [{"family": "Other"}]})
    assert _ids(client, "Patient", race="2106-3") == [patient]
    assert _ids(client, "Patient", race="2054-5") == []
    assert _ids(client, "Patient", ethnicity="2186-5") == [patient]
    assert set(_ids(client, "Patient", **{"race:not": "2106-3"})) >= {other}
    assert patient not in _ids(client, "Patient", **{"race:not": "2106-3"})


def test_a_care_team_is_found_by_a_participants_role(client: TestClient) -> None:
    clinic_of(client)
    patient = _created(client, {"resourceType": "Patient", "name": [{"family": "Team"}]})
    team = {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": {"reference": f"Patient/{patient}"},
        "participant": [
            {
                "role": [{"coding": [{"system": "http://snomed.info/sct", "code": "446050000"}]}],
                "member": {"reference": f"Patient/{patient}"},
            }
        ],
    }
    created = _created(client, team)
    assert _ids(client, "CareTeam", role="http://snomed.info/sct|446050000") == [created]
    assert _ids(client, "CareTeam", role="116154003") == []
