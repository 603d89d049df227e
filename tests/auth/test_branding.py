"""Every page names its clinic (the app's or the user's; without context the only clinic, else the server) with the
optional logo and colour of the settings, escaped or validated so that no name or setting injects HTML or CSS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.db import Organization
from fhir_server.db.engine import Database
from fhir_server.settings import SettingsError, load_settings
from tests.auth.conftest import BASE, PASSWORD, Browser, Clinic, _row, authorize_params, pkce_pair

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _header(html: str) -> str:
    """The page's brand header."""
    return html.split('<header class="brand">', 1)[1].split("</header>", 1)[0]


def _branded(database_url: str, **settings: object) -> TestClient:
    values = {"database_url": database_url, "base_url": BASE, "auth": "enabled", **settings}
    return TestClient(create_app(load_settings(**values)), base_url="https://fhir.example.org")


def test_the_flow_and_account_pages_name_the_clinic(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    _verifier, challenge = pkce_pair()
    login = browser.follow(browser.start(authorize_params(clinic.public_client, "patient/*.rs", challenge)))
    assert "Test Clinic" in _header(login.text) and "· Test Clinic</title>" in login.text
    picker = browser.login(login, clinic.physician_email)
    assert "Test Clinic" in _header(picker.text)
    data = {"email": clinic.physician_email, "password": PASSWORD, "next": "launch"}
    client.post(f"{BASE}/auth/login", data=data)
    assert "Test Clinic" in _header(client.get(f"{BASE}/auth/launch").text)
    assert "Test Clinic" in _header(client.get(f"{BASE}/auth/manage").text)


def test_without_context_the_only_clinic_or_else_the_server_is_named(
    client: TestClient, clinic: Clinic, database: Database
) -> None:
    assert "Test Clinic" in _header(client.get(f"{BASE}/auth/forgot-password").text)
    with database.write() as session:
        _row(session, Organization, name="Second Clinic", fhir_id="second")
    page = client.get(f"{BASE}/auth/forgot-password")
    assert "FHIR server" in _header(page.text) and "Clinic" not in _header(page.text)


def test_a_clinic_name_is_escaped(client: TestClient, browser: Browser, clinic: Clinic, database: Database) -> None:
    with database.write() as session:
        org = session.get(Organization, clinic.organization_id)
        assert org is not None
        org.name = '<img src=x onerror="alert(1)"> & Co'
    _verifier, challenge = pkce_pair()
    login = browser.follow(browser.start(authorize_params(clinic.public_client, "patient/*.rs", challenge)))
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; Co" in _header(login.text)
    assert "<img src=x" not in login.text


def test_the_logo_and_colour_of_the_settings_are_on_every_page(database_url: str, clinic: Clinic) -> None:
    with _branded(database_url, ui_logo_url="https://cdn.example.org/logo.png", ui_color="#0A7d5a") as branded:
        page = branded.get(f"{BASE}/auth/forgot-password")
    assert '<img src="https://cdn.example.org/logo.png" alt="">' in _header(page.text)
    assert "button:not(.secondary) { background: #0A7d5a; }" in page.text


@pytest.fixture
def logo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "logo.png"
    path.write_bytes(PNG)
    yield path


def test_a_logo_file_is_served_locally_and_never_as_a_document(database_url: str, clinic: Clinic, logo: Path) -> None:
    with _branded(database_url, ui_logo_file=str(logo)) as branded:
        page = branded.get(f"{BASE}/auth/forgot-password")
        assert f'<img src="{BASE}/auth/logo" alt="">' in page.text
        served = branded.get(f"{BASE}/auth/logo")
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png" and "sandbox" in served.headers["content-security-policy"]


def test_without_a_logo_file_the_logo_is_not_found(client: TestClient, clinic: Clinic) -> None:
    missing = client.get(f"{BASE}/auth/logo")
    assert missing.status_code == 404 and missing.json()["issue"][0]["code"] == "not-found"
    assert "<img" not in client.get(f"{BASE}/auth/forgot-password").text


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("ui_color", "red"),
        ("ui_color", "#fff; } body { display: none"),
        ("ui_color", "#12345"),
        ("ui_logo_url", "javascript:alert(1)"),
        ("ui_logo_url", 'https://cdn.example.org/x" onerror="alert(1)'),
        ("ui_logo_url", "/logo.png"),
        ("ui_logo_file", "/nonexistent/logo.png"),
        ("ui_logo_file", "/etc/passwd"),
        ("ui_name", ""),
    ],
)
def test_branding_settings_that_could_inject_or_break_a_page_are_refused(setting: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"FHIR_SERVER_{setting.upper()}"):
        load_settings(**{setting: value})
