"""Refresh tokens, introspection and revocation over HTTP; the Bearer token at the FHIR API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.db import AuditEvent
from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, Browser, Clinic, exchange

SCOPE = "launch/patient openid fhirUser offline_access patient/*.rs"


def _tokens(client: TestClient, browser: Browser, clinic: Clinic, scope: str = SCOPE) -> dict[str, Any]:
    code, verifier, _ = browser.code_for(clinic.public_client, scope, clinic.physician_email, patient="pat-1")
    response = exchange(client, code, verifier, clinic.public_client)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refresh(client: TestClient, clinic: Clinic, refresh_token: str, **extra: str) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": clinic.public_client, **extra}
    return client.post(f"{BASE}/auth/token", data=data)


def test_refresh_works_without_and_with_the_granted_scope(
    client: TestClient, browser: Browser, clinic: Clinic, database: Database
) -> None:
    first = _tokens(client, browser, clinic)
    plain = _refresh(client, clinic, first["refresh_token"])
    assert plain.status_code == 200, plain.text
    assert plain.headers["cache-control"] == "no-store" and plain.headers["pragma"] == "no-cache"
    body = plain.json()
    assert body["scope"] == SCOPE and isinstance(body["expires_in"], int) and body["token_type"] == "Bearer"
    assert body["patient"] == "pat-1" and body["access_token"] != first["access_token"]
    again = _refresh(client, clinic, first["refresh_token"], scope=body["scope"])  # the old one still works
    assert again.status_code == 200, again.text
    assert again.json()["scope"] == SCOPE
    with database.read() as session:
        refreshed = session.scalars(select(AuditEvent).where(AuditEvent.action == "token-refreshed")).all()
    assert len(refreshed) == 2 and all(e.client_id == clinic.public_client for e in refreshed)


def test_refresh_may_narrow_but_never_widen(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    first = _tokens(client, browser, clinic)
    narrower = _refresh(client, clinic, first["refresh_token"], scope="patient/Patient.r")
    assert narrower.status_code == 200 and narrower.json()["scope"] == "patient/Patient.r"
    wider = _refresh(client, clinic, first["refresh_token"], scope="patient/*.cruds")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


def test_an_unknown_refresh_token_is_refused(client: TestClient, clinic: Clinic) -> None:
    response = _refresh(client, clinic, "no-such-token")
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_grant"


def test_no_refresh_token_without_offline_or_online_access(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    assert "refresh_token" not in _tokens(client, browser, clinic, "launch/patient patient/*.rs")


def _introspect(client: TestClient, token: str, bearer: str | None = None, **auth: Any) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return client.post(f"{BASE}/auth/introspect", data={"token": token}, headers=headers, **auth)


def test_introspection_of_a_live_token_with_a_bearer_caller(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    tokens = _tokens(client, browser, clinic)
    response = _introspect(client, tokens["access_token"], bearer=tokens["access_token"])
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True
    assert set(body["scope"].split()) == set(tokens["scope"].split())
    assert body["client_id"] == clinic.public_client and body["patient"] == "pat-1"
    assert isinstance(body["exp"], int)
    assert body["fhirUser"] == f"{BASE}/Practitioner/{clinic.practitioner_id}"
    assert body["iss"] == BASE and body["sub"]


def test_introspection_of_an_unknown_token_says_only_inactive(client: TestClient, clinic: Clinic) -> None:
    response = _introspect(client, "nope", auth=(clinic.confidential_client, clinic.confidential_secret))
    assert response.status_code == 200
    assert response.json() == {"active": False}


def test_introspection_needs_an_authenticated_caller(client: TestClient, clinic: Clinic) -> None:
    assert _introspect(client, "nope").status_code in (400, 401)
    assert _introspect(client, "nope", bearer="not-a-token").status_code == 401


def test_revoking_the_refresh_token_ends_the_whole_grant(
    client: TestClient, browser: Browser, clinic: Clinic, database: Database
) -> None:
    tokens = _tokens(client, browser, clinic)
    read = client.get(f"{BASE}/Patient/pat-1", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert read.status_code == 200
    data = {"token": tokens["refresh_token"], "client_id": clinic.public_client}
    assert client.post(f"{BASE}/auth/revoke", data=data).status_code == 200
    after = client.get(f"{BASE}/Patient/pat-1", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["www-authenticate"]
    assert after.json()["resourceType"] == "OperationOutcome"
    assert _refresh(client, clinic, tokens["refresh_token"]).status_code in (400, 401)
    assert _introspect(
        client, tokens["access_token"], auth=(clinic.confidential_client, clinic.confidential_secret)
    ).json() == {"active": False}
    with database.read() as session:
        revoked = session.scalars(select(AuditEvent).where(AuditEvent.action == "token-revoked")).all()
    assert len(revoked) == 1 and revoked[0].client_id == clinic.public_client


def test_revoking_an_unknown_token_answers_200(client: TestClient, clinic: Clinic) -> None:
    response = client.post(f"{BASE}/auth/revoke", data={"token": "nope", "client_id": clinic.public_client})
    assert response.status_code == 200


def test_a_user_revokes_an_app_on_the_account_page(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    tokens = _tokens(client, browser, clinic)
    page = client.get(f"{BASE}/auth/manage")
    assert page.status_code == 200 and "Public App" in page.text
    grant = page.text.split('name="grant" value="')[1].split('"')[0]
    assert client.post(f"{BASE}/auth/manage", data={"grant": grant}, follow_redirects=False).status_code == 303
    assert _refresh(client, clinic, tokens["refresh_token"]).status_code in (400, 401)


def test_the_fhir_api_wants_a_bearer_token(client: TestClient) -> None:
    response = client.get(f"{BASE}/Patient/pat-1")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="')
    issue = response.json()["issue"][0]
    assert issue["code"] == "login" and issue["expression"] == ["Authorization"]


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer ", "Basic abc"])
def test_an_invalid_token_is_401_invalid_token(client: TestClient, header: str) -> None:
    response = client.get(f"{BASE}/Patient", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_metadata_and_discovery_need_no_token(client: TestClient) -> None:
    assert client.get(f"{BASE}/metadata").status_code == 200
    assert client.get(f"{BASE}/.well-known/smart-configuration").status_code == 200
