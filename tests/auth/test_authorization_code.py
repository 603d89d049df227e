"""The authorization code flow over HTTP, as a browser and an app drive it: login, picker, consent, code, token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from fhir_server.db import AuditEvent
from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, REDIRECT, Browser, Clinic, authorize_params, exchange, pkce_pair, query_of

STANDALONE = "launch/patient openid fhirUser offline_access patient/*.rs"


def test_standalone_launch_issues_a_token_with_the_patient_in_context(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    code, verifier, _ = browser.code_for(clinic.public_client, STANDALONE, clinic.physician_email, patient="pat-2")
    response = exchange(client, code, verifier, clinic.public_client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["patient"] == "pat-2"
    assert body["scope"] == STANDALONE
    assert isinstance(body["expires_in"], int) and body["expires_in"] >= 300
    assert body["need_patient_banner"] is True
    assert body["smart_style_url"] == f"{BASE}/auth/smart-style.json"
    assert isinstance(body["refresh_token"], str)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def test_the_id_token_is_rs256_with_the_oidc_claims(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    code, verifier, _ = browser.code_for(
        clinic.public_client, STANDALONE, clinic.physician_email, patient="pat-1", nonce="n-123"
    )
    body = exchange(client, code, verifier, clinic.public_client).json()
    keys = KeySet.import_key_set(client.get(f"{BASE}/.well-known/jwks.json").json())
    token = jwt.decode(body["id_token"], keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256" and token.header["kid"] == keys.keys[0].kid
    issuer = client.get(f"{BASE}/.well-known/openid-configuration").json()["issuer"]
    claims = token.claims
    assert claims["iss"] == issuer
    assert claims["aud"] == clinic.public_client
    assert claims["sub"] and len(claims["sub"]) <= 255
    assert claims["exp"] > claims["iat"]
    assert claims["nonce"] == "n-123"
    assert claims["fhirUser"] == f"{BASE}/Practitioner/{clinic.practitioner_id}"


def test_a_portal_patient_skips_the_picker_and_gets_their_own_record(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    verifier, challenge = pkce_pair()
    page = browser.follow(browser.start(authorize_params(clinic.public_client, STANDALONE, challenge)))
    consent = browser.login(page, clinic.patient_email)
    assert "Allow Public App" in consent.text and "pick-patient" not in consent.text
    code = query_of(browser.consent(consent).headers["location"])["code"]
    body = exchange(client, code, verifier, clinic.public_client).json()
    assert body["patient"] == clinic.patient_id


def test_authorize_by_cross_site_form_post_survives_the_login(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    verifier, challenge = pkce_pair()
    params = authorize_params(clinic.confidential_client, STANDALONE, challenge)
    started = browser.start(params, method="POST")
    assert started.status_code == 303
    page = browser.pick(browser.login(browser.follow(started), clinic.physician_email), "pat-1")
    location = browser.consent(page).headers["location"]
    assert location.startswith(REDIRECT) and query_of(location)["state"] == params["state"]
    response = exchange(
        client,
        query_of(location)["code"],
        verifier,
        clinic.confidential_client,
        auth=(clinic.confidential_client, clinic.confidential_secret),
    )
    assert response.status_code == 200, response.text


def test_the_user_can_untick_scopes_and_is_told_about_offline_access(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    verifier, challenge = pkce_pair()
    scope = "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Appointment.rs"
    page = browser.follow(browser.start(authorize_params(clinic.public_client, scope, challenge)))
    page = browser.pick(browser.login(page, clinic.physician_email), "pat-1")
    assert 'id="offline-notice"' in page.text
    kept = ["launch/patient", "openid", "fhirUser", "patient/Patient.rs"]
    code = query_of(browser.consent(page, kept).headers["location"])["code"]
    body = exchange(client, code, verifier, clinic.public_client).json()
    assert body["scope"] == " ".join(kept)
    assert "refresh_token" not in body  # offline_access was unticked


def test_denying_sends_access_denied_back_with_state(browser: Browser, clinic: Clinic) -> None:
    _verifier, challenge = pkce_pair()
    params = authorize_params(clinic.public_client, STANDALONE, challenge)
    page = browser.pick(browser.login(browser.follow(browser.start(params)), clinic.physician_email), "pat-1")
    query = query_of(browser.consent(page, decision="deny").headers["location"])
    assert query == {
        "error": "access_denied",
        "error_description": "The user denied the request.",
        "state": params["state"],
    }


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"aud": "https://inferno.healthit.gov/invalid_aud"}, "invalid_request"),
        ({"aud": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"scope": "bogus"}, "invalid_scope"),
        ({"launch": "no-such-launch", "scope": "launch openid"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_a_bad_authorization_request_redirects_an_error_and_no_code(
    browser: Browser, clinic: Clinic, change: dict[str, str], error: str
) -> None:
    _verifier, challenge = pkce_pair()
    params = {**authorize_params(clinic.public_client, STANDALONE, challenge), **change}
    response = browser.start({k: v for k, v in params.items() if v != ""})
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert query["error"] == error and query["state"] == params["state"] and "code" not in query


@pytest.mark.parametrize(
    "change", [{"client_id": "BAD_CLIENT_ID"}, {"redirect_uri": "https://evil.example/cb"}, {"client_id": ""}]
)
def test_a_bad_client_or_redirect_uri_is_shown_as_a_page(
    browser: Browser, clinic: Clinic, change: dict[str, str]
) -> None:
    _verifier, challenge = pkce_pair()
    response = browser.start({**authorize_params(clinic.public_client, STANDALONE, challenge), **change})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "Cannot continue" in response.text


def test_a_code_is_single_use(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    code, verifier, _ = browser.code_for(clinic.public_client, STANDALONE, clinic.physician_email)
    assert exchange(client, code, verifier, clinic.public_client).status_code == 200
    again = exchange(client, code, verifier, clinic.public_client)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_bad_code_is_exactly_400_invalid_grant(client: TestClient, clinic: Clinic) -> None:
    response = exchange(client, "BAD_CODE", "x" * 50, clinic.public_client)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("verifier", [None, "", "wrong-" + "v" * 60, "CHALLENGE"])
def test_pkce_failures_at_the_token_endpoint_of_a_confidential_client(
    client: TestClient, browser: Browser, clinic: Clinic, verifier: str | None
) -> None:
    code, _good, params = browser.code_for(clinic.confidential_client, STANDALONE, clinic.physician_email)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        data["code_verifier"] = params["code_challenge"] if verifier == "CHALLENGE" else verifier
    response = client.post(
        f"{BASE}/auth/token", data=data, auth=(clinic.confidential_client, clinic.confidential_secret)
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_request", "invalid_grant")


@pytest.mark.parametrize("how", ["body", "basic"])
def test_an_unknown_client_at_the_token_endpoint_is_refused(client: TestClient, how: str) -> None:
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT, "code_verifier": "v" * 50}
    if how == "body":
        response = client.post(f"{BASE}/auth/token", data={**data, "client_id": "BAD_CLIENT_ID"})
    else:
        response = client.post(f"{BASE}/auth/token", data=data, auth=("BAD_CLIENT_ID", "secret"))
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"


def test_a_confidential_client_must_authenticate(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    code, verifier, _ = browser.code_for(clinic.confidential_client, STANDALONE, clinic.physician_email)
    response = exchange(client, code, verifier, clinic.confidential_client)  # client_id only, no secret
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_an_unknown_grant_type_is_400(client: TestClient) -> None:
    response = client.post(f"{BASE}/auth/token", data={"grant_type": "not_a_grant_type"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_token_events_are_audited_with_the_grant(
    client: TestClient, browser: Browser, clinic: Clinic, database: Database
) -> None:
    code, verifier, _ = browser.code_for(clinic.public_client, STANDALONE, clinic.physician_email)
    exchange(client, code, verifier, clinic.public_client)
    with database.read() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.recorded_at)).all()
    actions = [e.action for e in events]
    assert actions.count("login") == 1 and actions.count("token-issued") == 1
    issued = next(e for e in events if e.action == "token-issued")
    assert issued.client_id == clinic.public_client and issued.detail["scope"] == STANDALONE
    assert issued.organization_id == clinic.organization_id
