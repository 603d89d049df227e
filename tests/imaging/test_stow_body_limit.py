"""STOW-RS bodies have their own limit (``FHIR_SERVER_MAX_STOW_BODY_BYTES``), above the FHIR API's: a study larger
than a FHIR body is stored, one over the STOW limit answers 413 and nothing of it reaches Orthanc, whether it
streams on to Orthanc (a study's path) or is held until checked (bare ``/studies``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.db.engine import Database
from tests.imaging.conftest import CT, CT_STUDY, Clinics, bearer, dicom_bytes, imaging_settings, install_tokens
from tests.imaging.multipart import stow_body
from tests.imaging.orthanc_process import OrthancProcess
from tests.imaging.test_stow_authorization import instances_in_orthanc

pytestmark = pytest.mark.slow

FHIR_LIMIT = 4096
STOW_LIMIT = 24 * 1024  # CT_small.dcm is 39 KB, MR_small.dcm 10 KB


@pytest.fixture
def small_limits(
    database_url: str, database: Database, empty_orthanc: OrthancProcess, clinics: Clinics
) -> Iterator[TestClient]:
    settings = imaging_settings(
        database_url,
        empty_orthanc,
        "http://testserver/fhir",
        max_body_bytes=FHIR_LIMIT,
        max_stow_body_bytes=STOW_LIMIT,
    )
    app = create_app(settings, database)
    install_tokens(app, clinics)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("path", ["/dicomweb/studies", f"/dicomweb/studies/{CT_STUDY}"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_study_over_the_stow_limit_answers_413_and_stores_nothing(
    small_limits: TestClient, empty_orthanc: OrthancProcess, path: str, declared: bool
) -> None:
    body, content_type = stow_body([dicom_bytes(CT)])
    content: bytes | Iterator[bytes] = body if declared else iter([body[:1000], body[1000:]])
    response = small_limits.post(path, content=content, headers={"Content-Type": content_type, **bearer("a-user")})
    assert response.status_code == 413, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly" and f"limit of {STOW_LIMIT} bytes" in issue["diagnostics"]
    assert instances_in_orthanc(empty_orthanc, CT_STUDY) == 0


def test_a_study_over_the_fhir_limit_within_the_stow_one_is_stored(
    small_limits: TestClient, empty_orthanc: OrthancProcess
) -> None:
    body, content_type = stow_body([dicom_bytes("MR_small.dcm")])
    assert FHIR_LIMIT < len(body) <= STOW_LIMIT
    headers = {"Content-Type": content_type, **bearer("a-user")}
    assert small_limits.post("/dicomweb/studies", content=body, headers=headers).status_code == 200
