"""The two authorization modes of the FHIR tests (tests/authorized_client.py) are what they claim: ``on`` really
runs with authorization and a live token bound to the test's clinic, ``off`` really runs open."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.authorized_client import CLINIC, clinic_of, fhir_client
from tests.clinics import add_clinic_at


def _patients(client: TestClient, **headers: str) -> int:
    return client.get("/fhir/Patient", headers=headers).status_code


def test_on_mode_sends_a_live_token_without_which_the_server_answers_401(database_url: str) -> None:
    with fhir_client(database_url, "on") as client:
        assert client.headers["authorization"].startswith("Bearer ")
        assert _patients(client) == 200
        assert _patients(client, Authorization="") == 401
        assert _patients(client, Authorization="Bearer not-a-token") == 401


def test_on_mode_confines_the_client_to_its_clinic(database_url: str) -> None:
    with fhir_client(database_url, "on") as client:
        clinic = clinic_of(client)
        assert clinic["name"] == CLINIC["name"]
        add_clinic_at(database_url, "Elsewhere")  # another clinic: out of the token's sight
        lab = client.post("/fhir/Organization", json={"resourceType": "Organization", "name": "Elsewhere Lab"})
        assert lab.status_code == 201, lab.text  # an Organization the clinic works with: data of the clinic
        found = client.get("/fhir/Organization").json()
        assert {e["resource"]["name"] for e in found["entry"]} == {clinic["name"], "Elsewhere Lab"}


def test_off_mode_needs_no_token(database_url: str) -> None:
    with fhir_client(database_url, "off") as client:
        assert "authorization" not in client.headers
        assert _patients(client) == 200
        clinic = clinic_of(client)
        assert clinic["name"] == CLINIC["name"]
