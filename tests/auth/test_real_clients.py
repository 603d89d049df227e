"""Real clients against a running server (one per database, shared by the module):

- the `fhirclient` package (smart-on-fhir/client-py) drives standalone and EHR launches: it discovers the endpoints
  from the CapabilityStatement's oauth-uris, sends PKCE S256, exchanges the code, reads with the token and refreshes;
  the pages (login, picker, consent) are walked with an HTTP client;
- a real headless Chromium (Debian's, driven by Playwright) logs in and consents on the pages. The app is played by
  pages the test serves on another site (``localhost`` versus the server's ``127.0.0.1``): one auto-submits the
  authorization request as a cross-site form POST, and the redirect URI captures the code.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fhirclient import client as fhir_client  # type: ignore[import-untyped]
from fhirclient.models.patient import Patient  # type: ignore[import-untyped]
from fhirclient.models.practitioner import Practitioner  # type: ignore[import-untyped]

from fhir_server.seed import DEMO_APP_ID, DEMO_PASSWORD, DEMO_PATIENT_EMAIL, DEMO_PHYSICIAN_EMAIL
from tests.servers import serving

if TYPE_CHECKING:
    from playwright.sync_api import Route

pytestmark = [pytest.mark.slow, pytest.mark.auth_enabled]
REDIRECT = "http://127.0.0.1:9000/callback"


@pytest.fixture(scope="module")
def root(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"FHIR_SERVER_DATABASE_URL": module_database_url, "FHIR_SERVER_LOG_LEVEL": "warning"}
    with serving(["--demo"], tmp_path_factory.mktemp("smart"), env) as url:
        yield url


def _form_value(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="')[1].split('"')[0]


def _walk(browser: httpx.Client, url: str, email: str | None, patient: str | None = None) -> str:
    """Follow the authorize URL through login, picker and consent; return the redirect to the app."""
    page = browser.get(url, follow_redirects=True)
    if 'name="password"' in page.text:
        assert email is not None
        data: dict[str, Any] = {"request": _form_value(page.text, "request"), "email": email, "password": DEMO_PASSWORD}
        page = browser.post(page.url.copy_with(path="/fhir/auth/login", query=None), data=data)
    if "Choose a patient" in page.text:
        chosen = patient or _form_value(page.text, "patient")
        data = {"request": _form_value(page.text, "request"), "patient": chosen}
        page = browser.post(page.url.copy_with(path="/fhir/auth/pick-patient", query=None), data=data)
    assert "Allow" in page.text, page.text
    scopes = [part.split('"')[0] for part in page.text.split('name="scope" value="')[1:]]
    data = {"request": _form_value(page.text, "request"), "decision": "allow", "scope": scopes}
    done = browser.post(page.url.copy_with(path="/fhir/auth/consent", query=None), data=data)
    assert done.status_code == 302, done.text
    location: str = done.headers["location"]
    assert location.startswith(REDIRECT)
    return location


def _smart(root: str, scope: str, launch: str | None = None) -> Any:
    settings = {"app_id": DEMO_APP_ID, "api_base": f"{root}/fhir", "redirect_uri": REDIRECT, "scope": scope}
    if launch:
        settings["launch_token"] = launch
    return fhir_client.FHIRClient(settings=settings)


def test_standalone_launch_with_fhirclient(root: str) -> None:
    smart = _smart(root, "openid fhirUser offline_access patient/*.rs")
    url = smart.authorize_url
    assert url.startswith(f"{root}/fhir/auth/authorize?") and "code_challenge_method=S256" in url
    with httpx.Client() as browser:
        smart.handle_callback(_walk(browser, url, DEMO_PHYSICIAN_EMAIL))
    assert smart.ready and smart.patient_id
    assert smart.launch_context["need_patient_banner"] is True
    patient = Patient.read(smart.patient_id, smart.server)
    assert patient.id == smart.patient_id
    first = smart.server.auth.access_token
    smart.reauthorize()
    assert smart.server.auth.access_token != first
    assert Patient.read(smart.patient_id, smart.server).id == smart.patient_id


def test_a_portal_patient_gets_their_own_record(root: str) -> None:
    smart = _smart(root, "openid fhirUser patient/*.rs")
    with httpx.Client() as browser:
        smart.handle_callback(_walk(browser, smart.authorize_url, DEMO_PATIENT_EMAIL))
    assert Patient.read(smart.patient_id, smart.server).id == smart.patient_id


def test_ehr_launch_with_fhirclient(root: str) -> None:
    with httpx.Client() as browser:
        login = {"email": DEMO_PHYSICIAN_EMAIL, "password": DEMO_PASSWORD, "next": "launch"}
        assert browser.post(f"{root}/fhir/auth/login", data=login).status_code == 303
        launcher = browser.get(f"{root}/fhir/auth/launch")
        patient = _form_value(launcher.text, "patient")
        started = browser.post(f"{root}/fhir/auth/launch", data={"client_id": DEMO_APP_ID, "patient": patient})
        launch_url = httpx.URL(started.headers["location"])
        assert launch_url.params["iss"] == f"{root}/fhir"
        smart = _smart(root, "openid fhirUser user/*.rs", launch=launch_url.params["launch"])
        smart.handle_callback(_walk(browser, smart.authorize_url, None))
    assert smart.patient_id == patient
    assert Patient.read(patient, smart.server).id == patient
    practitioner = Practitioner.read("demo-practitioner-1", smart.server)
    assert practitioner.id == "demo-practitioner-1"


def test_fhirclient_sees_401_without_a_token(root: str) -> None:
    response = httpx.get(f"{root}/fhir/Patient")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


# --- a real browser ---------------------------------------------------------------------------------------------

CHROMIUM = os.environ.get("FHIR_SERVER_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APP = "http://localhost:9000"
SCOPE = "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Appointment.rs"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/chromium.sh installs Debian's chromium")
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _auto_post_page(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    form = f'<form method="post" action="{action}">{inputs}</form>'
    return f'<html><body onload="document.forms[0].submit()">{form}</body></html>'


def test_login_and_consent_in_chromium_after_a_cross_site_post(chromium: Any, root: str, tmp_path: Path) -> None:
    verifier, challenge = _pkce()
    redirect_uri = f"{APP}/callback"
    fields = {
        "response_type": "code",
        "client_id": DEMO_APP_ID,
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
        "state": "browser-state",
        "aud": f"{root}/fhir",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    context = chromium.new_context()
    page = context.new_page()
    callbacks: list[str] = []
    page.route(
        f"{APP}/start",
        lambda route: route.fulfill(
            content_type="text/html", body=_auto_post_page(f"{root}/fhir/auth/authorize", fields)
        ),
    )

    def callback(route: Route) -> None:
        callbacks.append(route.request.url)
        route.fulfill(body="ok")

    page.route(f"{APP}/callback**", callback)
    page.goto(f"{APP}/start")
    page.wait_for_selector("input[name=email]")
    page.fill("input[name=email]", DEMO_PHYSICIAN_EMAIL)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Choose a patient")
    page.check("input[name=patient] >> nth=0")  # nobody is preselected: the user chooses
    page.click("#choose")
    page.wait_for_selector("#offline-notice")
    assert page.is_visible("#offline-notice")
    page.uncheck("input[value='patient/Appointment.rs']")
    page.screenshot(path=str(tmp_path / "consent.png"))
    page.click("button[value=allow]")
    page.wait_for_url(f"{APP}/callback**")
    context.close()
    query = httpx.URL(callbacks[-1]).params
    assert query["state"] == "browser-state"
    token = httpx.post(
        f"{root}/fhir/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": redirect_uri,
            "client_id": DEMO_APP_ID,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["scope"] == "launch/patient openid fhirUser offline_access patient/Patient.rs"
    assert body["patient"] and body["refresh_token"]
    patient = httpx.get(
        f"{root}/fhir/Patient/{body['patient']}", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert patient.status_code == 200 and patient.json()["id"] == body["patient"]


def test_wrong_password_in_chromium_shows_the_message(chromium: Any, root: str) -> None:
    _verifier, challenge = _pkce()
    query = httpx.QueryParams(
        {
            "response_type": "code",
            "client_id": DEMO_APP_ID,
            "redirect_uri": f"{APP}/callback",
            "scope": SCOPE,
            "state": "s",
            "aud": f"{root}/fhir",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{root}/fhir/auth/authorize?{query}")
    page.fill("input[name=email]", DEMO_PHYSICIAN_EMAIL)
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    page.wait_for_selector("[role=alert]")
    assert "Wrong email or password" in page.inner_text("[role=alert]")
    context.close()


def test_chromium_refuses_a_cross_site_login_and_signs_out_for_real(chromium: Any, root: str) -> None:
    """Login CSRF: another site's page posting the login form gets 403 and no session; a real sign-in then ends
    with the page's Sign out button."""
    context = chromium.new_context()
    page = context.new_page()
    fields = {"email": DEMO_PHYSICIAN_EMAIL, "password": DEMO_PASSWORD, "next": "manage"}
    page.route(
        f"{APP}/evil",
        lambda route: route.fulfill(content_type="text/html", body=_auto_post_page(f"{root}/fhir/auth/login", fields)),
    )
    with page.expect_response(f"{root}/fhir/auth/login") as forged:
        page.goto(f"{APP}/evil")
    assert forged.value.status == 403
    page.wait_for_url(f"{root}/fhir/auth/login")
    assert not [c for c in context.cookies() if c["name"] == "fhir_server_session"]
    page.goto(f"{root}/fhir/auth/manage")
    page.fill("input[name=email]", DEMO_PHYSICIAN_EMAIL)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Apps with access")
    page.click("text=Sign out")
    page.wait_for_selector("text=You are signed out")
    assert not [c for c in context.cookies() if c["name"] == "fhir_server_session"]
    context.close()
