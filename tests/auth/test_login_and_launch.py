"""Login at the authorization pages (lockout, audit) and EHR launches with an opaque launch handle."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.db import AuditEvent, User
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
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


def test_five_failures_lock_the_account_for_thirty_minutes(
    browser: Browser, clinic: Clinic, database: Database
) -> None:
    page = _login_page(browser, clinic)
    for _ in range(5):
        page = browser.login(page, clinic.physician_email, "wrong password")
    assert "locked" in page.text
    refused = browser.login(page, clinic.physician_email, PASSWORD)  # even the right password, while locked
    assert refused.status_code == 401 and "locked" in refused.text
    with database.read() as session:
        user = session.scalars(select(User).where(User.email == clinic.physician_email)).one()
        assert user.locked_until is not None
        assert timedelta(minutes=29) < user.locked_until - utcnow() <= timedelta(minutes=30)
    actions = _actions(database)
    assert actions.count("login-failed") == 6 and actions.count("account-locked") == 1


def test_the_lock_ends_after_its_time(browser: Browser, clinic: Clinic, database: Database) -> None:
    with database.write() as session:
        user = session.scalars(select(User).where(User.email == clinic.physician_email)).one()
        user.failed_logins, user.locked_until = 5, utcnow() - timedelta(seconds=1)
    page = browser.login(_login_page(browser, clinic), clinic.physician_email, PASSWORD)
    assert page.status_code == 200 and "Choose a patient" in page.text
    with database.read() as session:
        user = session.scalars(select(User).where(User.email == clinic.physician_email)).one()
        assert user.failed_logins == 0 and user.locked_until is None


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
