"""The browser UI in a real browser (Debian's Chromium driven by Playwright, as tests/auth/test_real_clients.py does)
against a running server with the demo data: a physician logs in from ``/``, opens a patient's timeline, follows a
reference and opens a version's diff. Each page's screenshot is kept and checked not to be blank."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_server.access.context import AccessContext
from fhir_server.db.engine import Database
from fhir_server.fhir import pipeline, repository
from fhir_server.seed import DEMO_CLINIC_ID, DEMO_PASSWORD, DEMO_PHYSICIAN_EMAIL
from tests.auth.test_real_clients import chromium  # noqa: F401 (the fixture)
from tests.screenshots import assert_not_blank
from tests.servers import serving

pytestmark = [pytest.mark.slow, pytest.mark.auth_enabled]


@pytest.fixture(scope="module")
def root(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"FHIR_SERVER_DATABASE_URL": module_database_url, "FHIR_SERVER_LOG_LEVEL": "warning"}
    with serving(["--demo"], tmp_path_factory.mktemp("ui"), env) as url:
        yield url


def _shot(page: Any, directory: Path, name: str) -> None:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert_not_blank(path)


def _amend(database_url: str, resource_type: str, resource_id: str) -> None:
    """A second version of a demo resource (as a clinician's edit through the API would write it)."""
    database = Database(database_url, finish=pipeline.finish)
    try:
        with database.write() as session:
            access = AccessContext(open=True, organization_id=DEMO_CLINIC_ID)
            current = repository.read(session, access, resource_type, resource_id)
            changed = {**current, "status": "amended"} if resource_type == "Observation" else current
            repository.update(session, access, changed, resource_id, base_url=None)
    finally:
        database.dispose()


def test_a_physician_finds_a_timeline_follows_a_reference_and_reads_a_diff(
    chromium: Any,  # noqa: F811
    root: str,
    module_database_url: str,
    tmp_path: Path,
) -> None:
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{root}/")
    page.wait_for_selector("input[name=email]")
    page.fill("input[name=email]", DEMO_PHYSICIAN_EMAIL)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{root}/")
    page.wait_for_selector("text=Resource types")
    _shot(page, tmp_path, "home")

    page.click("a[href='/ui/Patient']")
    page.wait_for_selector("table.results")
    page.click("table.results a[href^='/ui/Patient/']")
    page.click("a.timeline-link")
    page.wait_for_selector("ol.timeline")
    assert page.locator("ol.timeline li").count() > 3
    assert "$everything" in page.inner_text("#fhir-request")
    _shot(page, tmp_path, "timeline")

    page.click("ol.timeline a[href^='/ui/Observation/']")
    page.wait_for_selector("a.ref")
    observation = page.url.rsplit("/", 1)[-1]
    page.click("a.ref[href^='/ui/Patient/']")
    page.wait_for_selector("a.timeline-link")
    assert page.inner_text("#fhir-request").startswith("GET ") and "/fhir/Patient/" in page.inner_text("#fhir-request")
    _shot(page, tmp_path, "reference")

    _amend(module_database_url, "Observation", observation)
    page.goto(f"{root}/ui/Observation/{observation}")
    page.click(f"a[href='/ui/Observation/{observation}/_history/2']")
    page.wait_for_selector("pre.diff .add")
    assert '+  "status": "amended",' in page.inner_text("pre.diff")
    _shot(page, tmp_path, "diff")
    context.close()
