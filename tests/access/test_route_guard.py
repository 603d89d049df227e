"""A FHIR path no route serves answers as a protected one does: 401 with the same Bearer challenge, before routing
tells a caller without a live token which paths and methods exist; the public endpoints stay open."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, Clinic, token_for

UNROUTED = [
    ("GET", "/NoSuchType/1"),
    ("GET", "/whatever/x/y"),
    ("GET", "/Patient/pat-1/x/y/z"),
    ("GET", "/Patient/pat-1/_history/1/more"),
    ("DELETE", "/whatever/x/y"),
    ("PUT", "/NoSuchType/1/x"),
    ("POST", "/NoSuchType/1/$validate/extra"),
    ("PATCH", "/Patient"),  # a path served for other methods only
    ("PATCH", "/NoSuchType"),
    ("GET", ""),  # the base takes only POST (batch/transaction)
    ("PUT", ""),
    ("DELETE", "/Patient/$validate"),
    ("HEAD", "/whatever/x/y"),
    ("OPTIONS", "/NoSuchType/1"),
]
OPEN = ["/metadata", "/.well-known/smart-configuration", "/.well-known/openid-configuration", "/StructureDefinition"]


def _challenge_of_a_served_path(client: TestClient) -> str:
    response = client.get(f"{BASE}/Patient/pat-1")
    assert response.status_code == 401
    return response.headers["www-authenticate"]


@pytest.mark.parametrize(("method", "path"), UNROUTED)
def test_an_unrouted_fhir_path_without_a_token_answers_the_same_401_as_a_served_one(
    client: TestClient, clinic: Clinic, method: str, path: str
) -> None:
    response = client.request(method, f"{BASE}{path}")
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == _challenge_of_a_served_path(client)
    if method != "HEAD":
        assert response.json()["issue"][0]["code"] == "login"


@pytest.mark.parametrize(("method", "path"), UNROUTED[:4])
def test_an_unrouted_fhir_path_with_a_dead_token_answers_401_invalid_token(
    client: TestClient, clinic: Clinic, method: str, path: str
) -> None:
    response = client.request(method, f"{BASE}{path}", headers={"Authorization": "Bearer not-a-token-of-ours"})
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_live_token_learns_that_the_path_does_not_exist(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = {"Authorization": f"Bearer {token_for(database, clinic, 'user/*.rs')}"}
    assert client.get(f"{BASE}/whatever/x/y", headers=headers).status_code == 404
    assert client.patch(f"{BASE}/Patient", headers=headers).status_code == 405


@pytest.mark.parametrize("path", OPEN)
def test_the_public_endpoints_stay_open(client: TestClient, clinic: Clinic, path: str) -> None:
    assert client.get(f"{BASE}{path}").status_code == 200


def test_a_write_to_a_published_definition_still_says_it_is_read_only(client: TestClient, clinic: Clinic) -> None:
    response = client.post(f"{BASE}/StructureDefinition", json={"resourceType": "StructureDefinition"})
    assert response.status_code == 405


@pytest.mark.parametrize(("method", "path"), [("POST", "/StructureDefinition"), ("DELETE", "/metadata")])
def test_a_method_a_public_path_does_not_take_is_405_without_a_token(
    client: TestClient, clinic: Clinic, method: str, path: str
) -> None:
    response = client.request(method, f"{BASE}{path}")
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "GET, HEAD"


def test_a_write_to_the_audit_trail_without_a_token_is_401(client: TestClient, clinic: Clinic) -> None:
    assert client.post(f"{BASE}/AuditEvent", json={"resourceType": "AuditEvent"}).status_code == 401
