"""Who may introspect a token (RFC 7662 section 2.1): its own client, or a resource server named in the settings.

Everyone else is told ``{"active": false}`` and learns nothing of the token's user, scopes or patient.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.settings import load_settings
from tests.auth.conftest import BASE, Browser, Clinic, exchange

SCOPE = "launch/patient openid fhirUser patient/*.rs"


def _token(client: TestClient, browser: Browser, clinic: Clinic, client_id: str, **auth: Any) -> str:
    code, verifier, _ = browser.code_for(client_id, SCOPE, clinic.physician_email, patient="pat-1")
    response = exchange(client, code, verifier, client_id, **auth)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _introspect(client: TestClient, token: str, bearer: str | None = None, **auth: Any) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = client.post(f"{BASE}/auth/introspect", data={"token": token}, headers=headers, **auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_client_cannot_introspect_another_clients_token(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    secret = (clinic.confidential_client, clinic.confidential_secret)
    public_token = _token(client, browser, clinic, clinic.public_client)
    confidential_token = _token(client, browser, clinic, clinic.confidential_client, auth=secret)
    assert _introspect(client, public_token, auth=secret) == {"active": False}
    assert _introspect(client, public_token, bearer=confidential_token) == {"active": False}
    assert _introspect(client, confidential_token, bearer=public_token) == {"active": False}


def test_a_client_introspects_its_own_tokens(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    secret = (clinic.confidential_client, clinic.confidential_secret)
    confidential_token = _token(client, browser, clinic, clinic.confidential_client, auth=secret)
    public_token = _token(client, browser, clinic, clinic.public_client)
    own = _introspect(client, confidential_token, auth=secret)
    assert own["active"] is True and own["client_id"] == clinic.confidential_client and own["patient"] == "pat-1"
    assert _introspect(client, public_token, bearer=public_token)["client_id"] == clinic.public_client


def test_a_designated_resource_server_introspects_any_token(
    client: TestClient, browser: Browser, clinic: Clinic, database_url: str
) -> None:
    public_token = _token(client, browser, clinic, clinic.public_client)
    settings = load_settings(
        database_url=database_url, base_url=BASE, auth="enabled", introspection_clients=clinic.confidential_client
    )
    with TestClient(create_app(settings), base_url="https://fhir.example.org") as resource_server_side:
        body = _introspect(
            resource_server_side, public_token, auth=(clinic.confidential_client, clinic.confidential_secret)
        )
    assert body["active"] is True and body["client_id"] == clinic.public_client and body["scope"]
