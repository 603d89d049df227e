"""Dynamic client registration (RFC 7591, issue 16 item 6): `POST /fhir/auth/register` with an initial access token
from `fhir-server clients registration-token`, advertised only when enabled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from fhir_server.access.digests import digest
from fhir_server.app import create_app
from fhir_server.db import AuditEvent, OAuthClient, RegistrationToken
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
from fhir_server.settings import load_settings
from tests.auth.conftest import BASE, REDIRECT, Browser, Clinic, exchange
from tests.backend_services import ES384, PUBLIC_JWKS, assertion, request_token

runner = CliRunner()
REGISTER = f"{BASE}/auth/register"
APP_SCOPE = "launch/patient openid fhirUser patient/*.rs"
PUBLIC_APP = {
    "client_name": "Self-registered app",
    "token_endpoint_auth_method": "none",
    "redirect_uris": [REDIRECT],
    "scope": APP_SCOPE,
}
BACKEND = {"client_name": "Self-registered backend", "token_endpoint_auth_method": "private_key_jwt"}


@pytest.fixture
def registering(database_url: str, clinic: Clinic) -> Iterator[TestClient]:
    """The server with dynamic registration enabled (the clinic's data written through the default one)."""
    settings = load_settings(database_url=database_url, base_url=BASE, auth="enabled", dynamic_registration=True)
    with TestClient(create_app(settings), base_url="https://fhir.example.org") as client:
        yield client


def issue(database_url: str, *args: str) -> str:
    from fhir_server.cli import app

    env = {"FHIR_SERVER_DATABASE_URL": database_url, "FHIR_SERVER_DYNAMIC_REGISTRATION": "true"}
    result = runner.invoke(app, ["clients", "registration-token", "--organization", "test-clinic", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def post(client: TestClient, body: Any, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(REGISTER, json=body, headers=headers)


def test_registration_is_off_and_not_advertised_by_default(client: TestClient, clinic: Clinic) -> None:
    response = client.post(REGISTER, json=PUBLIC_APP, headers={"Authorization": "Bearer x"})
    assert response.status_code == 404 and response.json()["error"] == "invalid_request"
    assert "registration_endpoint" not in client.get(f"{BASE}/.well-known/smart-configuration").json()
    security = client.get(f"{BASE}/metadata").json()["rest"][0]["security"]
    assert "register" not in {e["url"] for e in security["extension"][0]["extension"]}


def test_registration_is_advertised_when_enabled(registering: TestClient) -> None:
    config = registering.get(f"{BASE}/.well-known/smart-configuration").json()
    assert config["registration_endpoint"] == REGISTER
    security = registering.get(f"{BASE}/metadata").json()["rest"][0]["security"]
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["register"] == REGISTER


def test_a_registration_without_a_good_initial_token_is_401(
    registering: TestClient, database_url: str, database: Database
) -> None:
    for token in (None, "made-up"):
        response = post(registering, PUBLIC_APP, token)
        assert response.status_code == 401 and response.json()["error"] == "invalid_token"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["cache-control"] == "no-store"
    expired = issue(database_url, "--expires", "1h")
    with database.write() as session:
        session.execute(
            update(RegistrationToken)
            .where(RegistrationToken.token_hash == digest(expired))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert post(registering, PUBLIC_APP, expired).status_code == 401
    assert post(registering, {"not": "metadata"}, expired).status_code == 401  # the token is judged first
    once = issue(database_url)
    assert post(registering, PUBLIC_APP, once).status_code == 201
    assert post(registering, PUBLIC_APP, once).status_code == 401  # spent
    with database.read() as session:
        assert len(session.scalars(select(OAuthClient).where(OAuthClient.name == PUBLIC_APP["client_name"])).all()) == 1


@pytest.mark.parametrize(
    ("body", "error", "says"),
    [
        ([1, 2], "invalid_client_metadata", "JSON object"),
        ({**PUBLIC_APP, "token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata", "none"),
        ({**PUBLIC_APP, "redirect_uris": ["https://app.example.org/cb#x"]}, "invalid_redirect_uri", "fragment"),
        ({**PUBLIC_APP, "redirect_uris": []}, "invalid_redirect_uri", "redirect"),
        ({**PUBLIC_APP, "redirect_uris": "https://app.example.org/cb"}, "invalid_client_metadata", "redirect_uris"),
        ({**PUBLIC_APP, "scope": "patient/*.dus"}, "invalid_client_metadata", "not SMART scopes"),
        ({**PUBLIC_APP, "scope": "system/*.rs"}, "invalid_client_metadata", "initial access token allows"),
        ({**PUBLIC_APP, "grant_types": ["client_credentials"]}, "invalid_client_metadata", "grant_types"),
        ({**PUBLIC_APP, "response_types": ["token"]}, "invalid_client_metadata", "response_types"),
        ({**PUBLIC_APP, "jwks": PUBLIC_JWKS}, "invalid_client_metadata", "keys"),
        ({**BACKEND, "scope": "patient/*.rs"}, "invalid_client_metadata", "jwks"),
        ({**PUBLIC_APP, "client_name": "x" * 201}, "invalid_client_metadata", "name"),
    ],
)
def test_bad_metadata_is_400_and_leaves_the_token_unspent(
    registering: TestClient, database_url: str, body: Any, error: str, says: str
) -> None:
    token = issue(database_url)
    response = post(registering, body, token)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error and says in response.json()["error_description"]
    assert post(registering, PUBLIC_APP, token).status_code == 201


def test_a_registration_body_is_bounded(registering: TestClient, database_url: str) -> None:
    token = issue(database_url)
    response = post(registering, {**PUBLIC_APP, "logo_uri": "y" * 70_000}, token)
    assert response.status_code == 413 and response.json()["issue"][0]["code"] == "too-costly"
    assert post(registering, PUBLIC_APP, token).status_code == 201


def test_a_registered_public_app_completes_an_authorization_code_flow(
    registering: TestClient, database_url: str, database: Database, clinic: Clinic
) -> None:
    response = post(registering, PUBLIC_APP, issue(database_url))
    assert response.status_code == 201
    registered = response.json()
    assert registered["client_id"] and isinstance(registered["client_id_issued_at"], int)
    assert registered["grant_types"] == ["authorization_code", "refresh_token"]
    assert registered["response_types"] == ["code"] and registered["redirect_uris"] == [REDIRECT]
    assert registered["scope"] == PUBLIC_APP["scope"] and "client_secret" not in registered
    browser = Browser(registering)
    code, verifier, _params = browser.code_for(registered["client_id"], APP_SCOPE, clinic.physician_email)
    tokens = exchange(registering, code, verifier, registered["client_id"])
    assert tokens.status_code == 200 and tokens.json()["patient"] == "pat-1"
    with database.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "client-registered")).one()
        row = session.get_one(OAuthClient, registered["client_id"])
    assert event.client_id == registered["client_id"] and event.organization_id == clinic.organization_id
    assert row.organization_id == clinic.organization_id and row.client_type == "public"


def test_a_registered_backend_service_gets_a_token_with_its_key(
    registering: TestClient, database_url: str, clinic: Clinic
) -> None:
    token = issue(database_url, "--scope", "system/Patient.rs")
    body = {**BACKEND, "scope": "system/Patient.rs", "jwks": PUBLIC_JWKS}
    response = post(registering, body, token)
    assert response.status_code == 201, response.text
    registered = response.json()
    assert registered["grant_types"] == ["client_credentials"] and registered["response_types"] == []
    assert registered["jwks"] == PUBLIC_JWKS
    signed = assertion(registered["client_id"], ES384, "ES384", f"{BASE}/auth/token")
    issued = request_token(registering, f"{BASE}/auth/token", signed, "system/Patient.rs")
    assert issued.status_code == 200, issued.text
    access = issued.json()["access_token"]
    read = registering.get(f"{BASE}/Patient/pat-1", headers={"Authorization": f"Bearer {access}"})
    assert read.status_code == 200


def test_registration_tokens_are_issued_with_bounds(database_url: str, database: Database, clinic: Clinic) -> None:
    from fhir_server.cli import app

    env = {"FHIR_SERVER_DATABASE_URL": database_url}
    base = ["clients", "registration-token"]
    for args, says in [
        (["--organization", "nowhere"], "no clinic"),
        (["--organization", "test-clinic", "--expires", "31d"], "at most 30 days"),
        (["--organization", "test-clinic", "--expires", "soon"], "--expires"),
        (["--organization", "test-clinic", "--scope", "system/Nothing.rs"], "SMART scopes"),
    ]:
        result = runner.invoke(app, [*base, *args], env=env)
        assert result.exit_code == 1 and says in " ".join(result.stderr.split())
    result = runner.invoke(app, [*base, "--organization", "test-clinic"], env=env)
    assert result.exit_code == 0 and "FHIR_SERVER_DYNAMIC_REGISTRATION=true" in result.stderr
    with database.read() as session:
        row = session.get_one(RegistrationToken, digest(result.stdout.strip()))
    assert row.used_at is None and "system/" not in row.scope
    assert timedelta(hours=23) < row.expires_at - utcnow() <= timedelta(hours=24)
