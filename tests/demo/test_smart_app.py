"""`fhir-server demo-app` (issue 16 item 2): the tiny SMART app, run as users run it, against a running server, in
Debian's Chromium: a standalone launch and an EHR launch from the server's launcher each end on the app's page
showing the patient it was launched for; a hand-made flow's code is shown, not redeemed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from fhir_server.seed import DEMO_PASSWORD, DEMO_PHYSICIAN_EMAIL
from tests.auth.test_real_clients import chromium  # noqa: F401 - the browser fixture
from tests.servers import CLI, free_port, serving, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.auth_enabled]
SCOPE = "launch launch/patient openid fhirUser patient/Patient.rs"


@pytest.fixture(scope="module")
def root(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"FHIR_SERVER_DATABASE_URL": module_database_url, "FHIR_SERVER_LOG_LEVEL": "warning"}
    with serving(["--demo"], tmp_path_factory.mktemp("demo-app"), env) as url:
        yield url


@pytest.fixture(scope="module")
def app(root: str, module_database_url: str) -> Iterator[tuple[str, str]]:
    """`fhir-server demo-app` on a free port, as a client registered with that port's redirect and launch URIs;
    yields the app's root URL and its client_id."""
    from fhir_server.cli import app as cli

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    created = CliRunner().invoke(
        cli,
        [
            "clients", "create", "--name", "Demo app", "--type", "public", "--scope", SCOPE,
            "--redirect-uri", f"{url}/callback", "--launch-uri", f"{url}/launch", "--organization", "demo-clinic",
        ],
        env={"FHIR_SERVER_DATABASE_URL": module_database_url},
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    client_id = json.loads(created.stdout)["client_id"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
    command = [CLI, "demo-app", "--port", str(port), "--client", client_id, "--fhir-base", f"{root}/fhir"]
    process = subprocess.Popen(command, env=clean, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(process, f"{url}/")
        yield url, client_id
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def _sign_in(page: Any) -> None:
    page.wait_for_selector("input[name=email]")
    page.fill("input[name=email]", DEMO_PHYSICIAN_EMAIL)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")


def test_a_standalone_launch_shows_the_chosen_patient(chromium: Any, app: tuple[str, str], tmp_path: Path) -> None:  # noqa: F811
    url, _client_id = app
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{url}/")
    page.click("text=Standalone launch")
    _sign_in(page)
    page.wait_for_selector("input[name=patient]")
    chosen = page.get_attribute("input[name=patient] >> nth=0", "value")
    page.check("input[name=patient] >> nth=0")
    page.click("#choose")
    page.click("button[value=allow]")
    page.wait_for_selector("#patient")
    shown = page.inner_text("#patient")
    page.screenshot(path=str(tmp_path / "launched.png"))
    context.close()
    assert shown.startswith("Launched for") and f"Patient/{chosen}" in shown


def test_an_ehr_launch_from_the_launcher_shows_its_patient(chromium: Any, root: str, app: tuple[str, str]) -> None:  # noqa: F811
    _url, client_id = app
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{root}/fhir/auth/launch")
    _sign_in(page)
    page.wait_for_selector("select[name=client_id]")
    page.select_option("select[name=client_id]", client_id)
    chosen = page.get_attribute("input[name=patient] >> nth=1", "value")
    page.check("input[name=patient] >> nth=1")
    page.click("#choose")
    page.click("button[value=allow]")  # signed in already: the consent page comes next
    page.wait_for_selector("#patient")
    shown = page.inner_text("#patient")
    context.close()
    assert f"Patient/{chosen}" in shown


def test_a_hand_made_flows_code_is_shown_not_redeemed(app: tuple[str, str]) -> None:
    url, _client_id = app
    response = httpx.get(f"{url}/callback", params={"code": "abc<def", "state": "someone-elses"})
    assert response.status_code == 200
    assert "abc&lt;def" in response.text and "code_verifier=$VERIFIER" in response.text


def test_the_app_follows_no_other_server(app: tuple[str, str]) -> None:
    url, _client_id = app
    response = httpx.get(f"{url}/launch", params={"iss": "https://evil.example/fhir", "launch": "x"})
    assert response.status_code == 400
