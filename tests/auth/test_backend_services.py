"""SMART Backend Services: client_credentials with private_key_jwt, signed here with RS384 and ES384 keys."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import Key, RSAKey

from fhir_server.db import Organization
from fhir_server.db.engine import Database
from tests import backend_services
from tests.auth.conftest import BASE, Clinic
from tests.backend_services import ES384, PUBLIC_JWKS, RS384, register_backend

TOKEN_URL = f"{BASE}/auth/token"


def _register(database: Database, clinic: Clinic, **keys: Any) -> str:
    with database.write() as session:
        organization = session.get(Organization, clinic.organization_id)
        assert organization is not None
        return register_backend(session, organization, "system/*.rs system/Patient.cruds", **keys)


@pytest.fixture
def backend(database: Database, clinic: Clinic) -> str:
    return _register(database, clinic, jwks=PUBLIC_JWKS)


def assertion(client_id: str, key: Key, alg: str, **claims: Any) -> str:
    return backend_services.assertion(client_id, key, alg, TOKEN_URL, **claims)


def request_token(client: TestClient, signed: str, scope: str = "system/*.rs", **extra: str) -> Any:
    return backend_services.request_token(client, TOKEN_URL, signed, scope, **extra)


@pytest.mark.parametrize(("key", "alg"), [(RS384, "RS384"), (ES384, "ES384")])
def test_a_signed_assertion_gets_a_system_token(client: TestClient, backend: str, key: Key, alg: str) -> None:
    response = request_token(client, assertion(backend, key, alg))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert body["scope"] == "system/*.rs"
    assert isinstance(body["expires_in"], int) and body["expires_in"] <= 300
    assert "refresh_token" not in body
    read = client.get(f"{BASE}/Patient/pat-1", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert read.status_code == 200


def test_only_registered_system_scopes_are_granted(client: TestClient, backend: str) -> None:
    response = request_token(client, assertion(backend, RS384, "RS384"), scope="system/*.rs system/*.cruds user/*.rs")
    assert response.status_code == 200
    assert response.json()["scope"] == "system/*.rs"
    nothing = request_token(client, assertion(backend, RS384, "RS384"), scope="user/*.rs")
    assert nothing.status_code == 400 and nothing.json()["error"] == "invalid_scope"


def test_a_replayed_jti_is_refused(client: TestClient, backend: str) -> None:
    signed = assertion(backend, ES384, "ES384")
    assert request_token(client, signed).status_code == 200
    replay = request_token(client, signed)
    assert replay.status_code in (400, 401) and replay.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) + 3600},
        {"exp": int(time.time()) - 600},
        {"aud": BASE},
        {"jti": None},
        {"iss": "someone-else"},
    ],
)
def test_bad_assertion_claims_are_invalid_client(client: TestClient, backend: str, claims: dict[str, Any]) -> None:
    response = request_token(client, assertion(backend, RS384, "RS384", **claims))
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"


def test_an_rs256_assertion_is_refused(client: TestClient, backend: str) -> None:
    unlabelled = RSAKey.import_key({k: v for k, v in RS384.as_dict(private=True).items() if k != "alg"})
    response = request_token(client, assertion(backend, unlabelled, "RS256"))
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_an_assertion_signed_by_another_key_is_refused(client: TestClient, backend: str) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
    response = request_token(client, assertion(backend, stranger, "RS384"))
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_a_jku_other_than_the_registered_url_is_refused(client: TestClient, backend: str) -> None:
    signed = assertion(backend, RS384, "RS384", _header={"jku": "https://evil.example/jwks.json"})
    response = request_token(client, signed)
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_an_unknown_assertion_type_is_refused(client: TestClient, backend: str) -> None:
    response = request_token(client, assertion(backend, RS384, "RS384"), client_assertion_type="not_an_assertion_type")
    assert response.status_code in (400, 401)


def test_a_symmetric_client_cannot_use_client_credentials(client: TestClient, clinic: Clinic) -> None:
    response = client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "scope": "system/*.rs"},
        auth=(clinic.confidential_client, clinic.confidential_secret),
    )
    assert response.status_code in (400, 401)


@pytest.fixture
def jwks_url() -> Iterator[str]:
    """The client's JWKS, served over HTTP on loopback like a real key server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(PUBLIC_JWKS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=60")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def test_keys_are_fetched_from_the_registered_jwks_url(
    client: TestClient, database: Database, clinic: Clinic, jwks_url: str
) -> None:
    client_id = _register(database, clinic, jwks_url=jwks_url)
    plain = request_token(client, assertion(client_id, ES384, "ES384"))
    assert plain.status_code == 200, plain.text
    with_jku = request_token(client, assertion(client_id, RS384, "RS384", _header={"jku": jwks_url}))
    assert with_jku.status_code == 200, with_jku.text


def test_a_revoked_client_gets_no_token_and_its_tokens_stop(
    client: TestClient, database: Database, backend: str
) -> None:
    from fhir_server.auth.clients import revoke_client

    token = request_token(client, assertion(backend, RS384, "RS384")).json()["access_token"]
    with database.write() as session:
        revoke_client(session, backend)
    assert client.get(f"{BASE}/Patient/pat-1", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert request_token(client, assertion(backend, RS384, "RS384")).status_code in (400, 401)
