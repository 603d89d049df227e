"""The `fhirclient` package (smart-on-fhir/client-py) drives standalone and EHR launches against a running server.

fhirclient discovers the endpoints from the CapabilityStatement's oauth-uris, sends PKCE S256, exchanges the code,
reads with the token and refreshes; the browser part (login, picker, consent) is walked with an HTTP client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fhirclient import client as fhir_client
from fhirclient.models.patient import Patient
from fhirclient.models.practitioner import Practitioner

from fhir_server.seed import DEMO_APP_ID, DEMO_PASSWORD, DEMO_PATIENT_EMAIL, DEMO_PHYSICIAN_EMAIL
from tests.servers import serving

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
        data = {"request": _form_value(page.text, "request"), "email": email, "password": DEMO_PASSWORD}
        page = browser.post(page.url.copy_with(path="/fhir/auth/login", query=None), data=data)
    if "Choose a patient" in page.text:
        chosen = patient or _form_value(page.text, "patient")
        data = {"request": _form_value(page.text, "request"), "patient": chosen}
        page = browser.post(page.url.copy_with(path="/fhir/auth/pick-patient", query=None), data=data)
    assert "Allow" in page.text, page.text
    scopes = [part.split('"')[0] for part in page.text.split('name="scope" value="')[1:]]
    data: dict[str, Any] = {"request": _form_value(page.text, "request"), "decision": "allow", "scope": scopes}
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
