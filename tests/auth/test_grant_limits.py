"""What the authorization-code flow can never grant: ``system/`` scopes (backend services only), scopes naming a
resource type R4 does not define, a login of another clinic than the app's; and a replayed code ends the tokens
already issued from it (RFC 6749 section 4.1.2)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.auth.clients import ClientError, register_client
from fhir_server.db import AuthorizationCode, Organization, User
from fhir_server.db.engine import Database
from tests.auth.conftest import (
    BASE,
    REDIRECT,
    Browser,
    Clinic,
    _row,
    authorize_params,
    exchange,
    password_hash,
    pkce_pair,
    query_of,
    token_for,
)
from tests.auth.test_backend_services import assertion, request_token
from tests.backend_services import RS384


@pytest.fixture
def system_app(database: Database, clinic: Clinic) -> tuple[str, str]:
    """A confidential client registered with ``system/*.rs`` beside user-facing scopes, and a redirect URI."""
    with database.write() as session:
        organization = session.get(Organization, clinic.organization_id)
        assert organization is not None
        registered = register_client(
            session,
            name="System Reader",
            client_type="confidential-symmetric",
            organization=organization,
            scope="launch/patient openid fhirUser offline_access system/*.rs patient/*.rs",
            redirect_uris=[REDIRECT],
        )
        assert registered.secret is not None
        return registered.client.client_id, registered.secret


def _offered(page: Any) -> list[str]:
    return [part.split('"')[0] for part in page.text.split('name="scope" value="')[1:]]


def test_system_scopes_are_never_offered_nor_granted_to_a_portal_patients_login(
    client: TestClient, browser: Browser, clinic: Clinic, system_app: tuple[str, str]
) -> None:
    client_id, secret = system_app
    verifier, challenge = pkce_pair()
    scope = "launch/patient openid fhirUser offline_access system/*.rs patient/*.rs"
    page = browser.login(
        browser.follow(browser.start(authorize_params(client_id, scope, challenge))), clinic.patient_email
    )
    assert not [s for s in _offered(page) if s.startswith("system/")]
    data = {"request": page.text.split('name="request" value="')[1].split('"')[0], "decision": "allow"}
    data["scope"] = ["system/*.rs", "patient/*.rs", "openid", "offline_access"]  # ticked by a forged form
    done = client.post(f"{BASE}/auth/consent", data=data, follow_redirects=False)
    code = query_of(done.headers["location"])["code"]
    body = exchange(client, code, verifier, client_id, auth=(client_id, secret)).json()
    assert "system/*.rs" not in body["scope"].split()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    patients = client.get(f"{BASE}/Patient", headers=headers).json()
    assert [e["resource"]["id"] for e in patients["entry"]] == [clinic.patient_id]
    refreshed = client.post(
        f"{BASE}/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "scope": "system/*.rs"},
        auth=(client_id, secret),
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_scope"


def test_an_authorization_request_for_system_scopes_alone_gets_invalid_scope(
    browser: Browser, clinic: Clinic, system_app: tuple[str, str]
) -> None:
    _verifier, challenge = pkce_pair()
    response = browser.start(authorize_params(system_app[0], "system/*.rs", challenge))
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert query["error"] == "invalid_scope" and "code" not in query


def test_a_users_token_holding_a_system_scope_reaches_nothing_with_it(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    token = token_for(database, clinic, "system/*.rs", email=clinic.patient_email)
    response = client.get(f"{BASE}/Patient", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"


# --- scopes naming a resource type R4 does not define ----------------------------------------------------------


@pytest.fixture
def backend(database: Database, clinic: Clinic) -> str:
    from tests.auth.test_backend_services import _register

    return _register(database, clinic, jwks={"keys": [RS384.as_dict(private=False)]})


def test_client_credentials_grants_no_scope_of_an_unknown_resource_type(client: TestClient, backend: str) -> None:
    alone = request_token(client, assertion(backend, RS384, "RS384"), scope="system/UnknownResource.read")
    assert alone.status_code == 400 and alone.json()["error"] == "invalid_scope"
    mixed = request_token(
        client, assertion(backend, RS384, "RS384"), scope="system/UnknownResource.read system/Patient.rs"
    )
    assert mixed.status_code == 200, mixed.text
    assert mixed.json()["scope"] == "system/Patient.rs"


def test_the_consent_page_offers_no_scope_of_an_unknown_resource_type(browser: Browser, clinic: Clinic) -> None:
    _verifier, challenge = pkce_pair()
    scope = "openid user/UnknownResource.rs user/Patient.rs patient/Nope.read"
    page = browser.follow(browser.start(authorize_params(clinic.public_client, scope, challenge)))
    page = browser.login(page, clinic.admin_email)
    assert _offered(page) == ["openid", "user/Patient.rs"]


def test_a_client_cannot_be_registered_with_an_unknown_resource_type(database: Database, clinic: Clinic) -> None:
    with database.write() as session:
        organization = session.get_one(Organization, clinic.organization_id)
        with pytest.raises(ClientError, match="UnknownResource"):
            register_client(
                session,
                name="Bad",
                client_type="public",
                organization=organization,
                scope="user/UnknownResource.read",
                redirect_uris=[REDIRECT],
            )


# --- another clinic's users; replayed codes ---------------------------------------------------------------------


def test_a_clinics_app_refuses_a_user_of_another_clinic(
    client: TestClient, browser: Browser, database: Database, clinic: Clinic
) -> None:
    with database.write() as session:
        elsewhere = _row(session, Organization, name="Elsewhere Clinic", fhir_id="elsewhere")
        _row(
            session,
            User,
            organization_id=elsewhere.id,
            email="far@example.org",
            password_hash=password_hash(),
            role="admin",
        )
    _verifier, challenge = pkce_pair()
    params = authorize_params(clinic.public_client, "openid fhirUser user/*.rs", challenge)
    response = browser.login(browser.follow(browser.start(params)), "far@example.org")
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert response.headers["location"].startswith(REDIRECT)
    assert query["error"] == "access_denied" and query["state"] == params["state"] and "code" not in query
    with database.read() as session:
        assert session.scalars(select(AuthorizationCode)).all() == []


def test_a_replayed_code_revokes_the_tokens_issued_from_it(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    scope = "openid fhirUser offline_access user/Patient.rs"
    code, verifier, _params = browser.code_for(clinic.public_client, scope, clinic.physician_email)
    first = exchange(client, code, verifier, clinic.public_client).json()
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    assert client.get(f"{BASE}/Patient/pat-1", headers=headers).status_code == 200
    replay = exchange(client, code, verifier, clinic.public_client)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert client.get(f"{BASE}/Patient/pat-1", headers=headers).status_code == 401
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": clinic.public_client}
    refreshed = client.post(f"{BASE}/auth/token", data=data)
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
