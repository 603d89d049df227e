"""Signing out of the authorization pages ends the login session on the server, not only in the browser."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.auth.login import SESSION_COOKIE
from fhir_server.db import AuditEvent, BrowserSession
from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, PASSWORD, Browser, Clinic, authorize_params, pkce_pair

SIGN_OUT_FORM = f'action="{BASE}/auth/logout"'


def _sign_in(client: TestClient, email: str) -> str:
    data = {"email": email, "password": PASSWORD, "next": "manage"}
    response = client.post(f"{BASE}/auth/login", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    return cookie


def test_after_logout_the_old_session_cookie_logs_no_one_in(
    client: TestClient, clinic: Clinic, database: Database
) -> None:
    cookie = _sign_in(client, clinic.physician_email)
    manage = client.get(f"{BASE}/auth/manage")
    assert manage.status_code == 200 and SIGN_OUT_FORM in manage.text
    signed_out = client.post(f"{BASE}/auth/logout", follow_redirects=False)
    assert signed_out.status_code == 200 and "You are signed out" in signed_out.text
    assert SESSION_COOKIE in signed_out.headers["set-cookie"] and "Max-Age=0" in signed_out.headers["set-cookie"]
    client.cookies.set(SESSION_COOKIE, cookie)  # a copy of the cookie kept from before the logout
    for page in ("manage", "launch"):
        again = client.get(f"{BASE}/auth/{page}")
        assert again.status_code == 401 and 'name="password"' in again.text, page
    with database.read() as session:
        revoked = [row.revoked_at is not None for row in session.scalars(select(BrowserSession))]
        assert revoked and all(revoked), revoked
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.recorded_at))]
    assert actions == ["login", "logout"]


def test_every_page_offers_sign_out_while_signed_in(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    _verifier, challenge = pkce_pair()
    login_page = browser.follow(browser.start(authorize_params(clinic.public_client, "launch/patient", challenge)))
    assert SIGN_OUT_FORM not in login_page.text  # not signed in yet
    picker = browser.login(login_page, clinic.physician_email)
    assert "Choose a patient" in picker.text and SIGN_OUT_FORM in picker.text
    consent = browser.pick(picker, clinic.patient_id)
    assert 'name="decision"' in consent.text and SIGN_OUT_FORM in consent.text
    for page in ("manage", "launch"):
        assert SIGN_OUT_FORM in client.get(f"{BASE}/auth/{page}").text, page
    error = client.get(f"{BASE}/auth/flow", params={"request": "stale"})
    assert error.status_code >= 400 and SIGN_OUT_FORM in error.text


def test_logout_without_a_session_just_shows_the_sign_in_page(client: TestClient, clinic: Clinic) -> None:
    response = client.post(f"{BASE}/auth/logout", follow_redirects=False)
    assert response.status_code == 200 and 'name="password"' in response.text
