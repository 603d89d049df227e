"""The authorization code flow end to end over HTTP: login, picker, consent, code, token, refresh."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.auth.conftest import BASE, Browser, Clinic, exchange


def test_standalone_launch_issues_a_token_with_the_patient_in_context(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    scope = "launch/patient openid fhirUser offline_access patient/*.rs"
    code, verifier, _ = browser.code_for(clinic.public_client, scope, clinic.physician_email, patient="pat-2")
    response = exchange(client, code, verifier, clinic.public_client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["patient"] == "pat-2"
    assert body["scope"] == scope
    assert isinstance(body["expires_in"], int)
    assert body["need_patient_banner"] is True
    assert body["smart_style_url"] == f"{BASE}/auth/smart-style.json"
    assert "refresh_token" in body and "id_token" in body
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
