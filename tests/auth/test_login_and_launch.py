"""Login at the authorization pages (audit) and EHR launches with an opaque launch handle."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.db import AuditEvent
from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, PASSWORD, Browser, Clinic, authorize_params, exchange, pkce_pair, query_of


def _login_page(browser: Browser, clinic: Clinic) -> object:
    _verifier, challenge = pkce_pair()
    params = authorize_params(clinic.public_client, "launch/patient patient/*.rs", challenge)
    return browser.follow(browser.start(params))


def _actions(database: Database) -> list[str]:
    with database.read() as session:
        return [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.recorded_at)).all()]


def test_a_wrong_password_shows_the_login_again_and_is_audited(
    browser: Browser, clinic: Clinic, database: Database
) -> None:
    page = browser.login(_login_page(browser, clinic), clinic.physician_email, "wrong password")
    assert page.status_code == 401
    assert "Wrong email or password" in page.text
    assert _actions(database) == ["login-failed"]


def test_an_unknown_email_fails_like_a_wrong_password(browser: Browser, clinic: Clinic) -> None:
    page = browser.login(_login_page(browser, clinic), "nobody@example.org", PASSWORD)
    assert page.status_code == 401 and "Wrong email or password" in page.text


def test_a_request_cannot_be_continued_from_another_browser(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    page = _login_page(browser, clinic)
    handle = page.text.split('name="request" value="')[1].split('"')[0]  # type: ignore[attr-defined]
    client.cookies.clear()
    stolen = client.get(f"{BASE}/auth/flow", params={"request": handle})
    assert stolen.status_code == 400 and "another browser" in stolen.text


def _ehr_launch(client: TestClient, clinic: Clinic, patient: str = "pat-2") -> str:
    login = client.post(
        f"{BASE}/auth/login",
        data={"email": clinic.physician_email, "password": PASSWORD, "next": "launch"},
        follow_redirects=False,
    )
    assert login.status_code == 303
    page = client.get(f"{BASE}/auth/launch")
    assert "Public App" in page.text
    started = client.post(
        f"{BASE}/auth/launch", data={"client_id": clinic.public_client, "patient": patient}, follow_redirects=False
    )
    assert started.status_code == 303
    location = started.headers["location"]
    assert location.startswith("https://app.example.org/launch?")
    query = query_of(location)
    assert query["iss"] == BASE
    return query["launch"]


def test_an_ehr_launch_carries_the_patient_to_the_token(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    launch = _ehr_launch(client, clinic)
    verifier, challenge = pkce_pair()
    params = authorize_params(clinic.public_client, "launch openid fhirUser user/*.rs", challenge, launch=launch)
    consent = browser.follow(browser.start(params, method="POST"))  # the logged-in EHR session: no login page
    assert "Allow Public App" in consent.text
    code = query_of(browser.consent(consent).headers["location"])["code"]
    body = exchange(client, code, verifier, clinic.public_client).json()
    assert body["patient"] == "pat-2"
    assert body["need_patient_banner"] is True
    assert body["scope"] == "launch openid fhirUser user/*.rs"


def test_a_launch_handle_only_serves_the_app_it_was_made_for(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    launch = _ehr_launch(client, clinic)
    _verifier, challenge = pkce_pair()
    params = authorize_params(clinic.confidential_client, "launch openid", challenge, launch=launch)
    response = browser.start(params)
    assert response.status_code == 302
    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_the_launcher_wants_a_login(client: TestClient, clinic: Clinic) -> None:
    page = client.get(f"{BASE}/auth/launch")
    assert page.status_code == 401 and 'name="next" value="launch"' in page.text
