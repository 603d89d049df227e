"""End to end with the server's own SMART tokens (no dependency override): the token the FHIR API takes is the
token DICOMweb takes, with the same scopes, patient context and clinic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.auth.clients import register_client
from fhir_server.auth.grants import create_grant, issue_access_token
from fhir_server.auth.users import create_user
from fhir_server.db import Organization
from fhir_server.db.engine import Database
from tests.imaging.conftest import CT, CT_STUDY, MR, MR_STUDY, Clinics, dicom_bytes, imaging_settings
from tests.imaging.multipart import stow_body
from tests.imaging.orthanc_process import OrthancProcess

pytestmark = [pytest.mark.slow, pytest.mark.auth_enabled]


def issue(
    database: Database, clinic_id: object, scope: str, patient: str | None = None, role: str = "physician"
) -> str:
    """A live access token of a user of ``role``, issued the way the token endpoint does (client, user, grant and
    token rows)."""
    with database.write() as session:
        clinic = session.get(Organization, clinic_id)
        assert clinic is not None
        client = register_client(
            session, name="viewer", client_type="public", organization=clinic, scope=scope,
            redirect_uris=["https://viewer.example/cb"],
        ).client  # fmt: skip
        user = create_user(
            session, organization=clinic, email=f"{client.client_id.lower()}@clinic.example",
            password="correct horse battery", role=role, full_name="Dr Viewer",
        )  # fmt: skip
        grant = create_grant(
            session, client_id=client.client_id, user_id=user.id, organization_id=clinic.id,
            grant_type="authorization_code", scope=scope, context={"patient": patient} if patient else {},
        )  # fmt: skip
        token, _ = issue_access_token(session, grant, scope, 600)
    return token


@pytest.fixture
def app_client(
    database_url: str, database: Database, empty_orthanc: OrthancProcess, clinics: Clinics
) -> Iterator[TestClient]:
    settings = imaging_settings(database_url, empty_orthanc, "http://testserver/fhir", auth="enabled")
    with TestClient(create_app(settings, database)) as client:
        yield client


def test_smart_tokens_authorize_dicomweb_like_fhir(
    app_client: TestClient, database: Database, clinics: Clinics
) -> None:
    staff = {"Authorization": f"Bearer {issue(database, clinics.a, 'user/ImagingStudy.cruds', role='admin')}"}
    body, content_type = stow_body([dicom_bytes(CT), dicom_bytes(MR)])
    stored = app_client.post("/dicomweb/studies", content=body, headers={**staff, "Content-Type": content_type})
    assert stored.status_code == 200, stored.text

    patient_scope = "launch/patient patient/ImagingStudy.rs"
    patient = {"Authorization": f"Bearer {issue(database, clinics.a, patient_scope, clinics.patients['1CT1'])}"}
    found = app_client.get("/dicomweb/studies", headers=patient)
    assert [m["0020000D"]["Value"][0] for m in found.json()] == [CT_STUDY]
    assert app_client.get(f"/dicomweb/studies/{MR_STUDY}/metadata", headers=patient).status_code == 404
    fhir = app_client.get("/fhir/ImagingStudy", headers=patient).json()
    assert [e["resource"]["identifier"][0]["value"] for e in fhir["entry"]] == [f"urn:oid:{CT_STUDY}"]

    assert app_client.get("/dicomweb/studies").status_code == 401
    assert app_client.get("/dicomweb/studies", headers={"Authorization": "Bearer forged"}).status_code == 401
    reader = {"Authorization": f"Bearer {issue(database, clinics.a, 'user/Patient.rs')}"}
    assert app_client.get("/dicomweb/studies", headers=reader).status_code == 403


def test_a_403_for_what_the_token_permits_carries_the_insufficient_scope_challenge(
    app_client: TestClient, database: Database, clinics: Clinics
) -> None:
    reader = {"Authorization": f"Bearer {issue(database, clinics.a, 'user/Patient.rs')}"}
    refused = app_client.get("/dicomweb/studies", headers=reader)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", '
        'error_description="the token\'s scopes do not allow search-type on ImagingStudy"'
    )
    patient_scope = "launch/patient patient/ImagingStudy.cruds"
    patient = {"Authorization": f"Bearer {issue(database, clinics.a, patient_scope, clinics.patients['1CT1'])}"}
    body, content_type = stow_body([dicom_bytes(CT)])
    stored = app_client.post("/dicomweb/studies", content=body, headers={**patient, "Content-Type": content_type})
    assert stored.status_code == 403
    assert stored.json()["issue"][0]["diagnostics"] == "a token with a patient context cannot store studies"
    assert stored.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')


def test_a_study_of_another_clinic_is_refused_by_policy_without_a_challenge(
    app_client: TestClient, database: Database, clinics: Clinics
) -> None:
    body, content_type = stow_body([dicom_bytes(CT)])
    staff_a = {"Authorization": f"Bearer {issue(database, clinics.a, 'user/ImagingStudy.cruds', role='admin')}"}
    stored = app_client.post("/dicomweb/studies", content=body, headers={**staff_a, "Content-Type": content_type})
    assert stored.status_code == 200, stored.text
    staff_b = {"Authorization": f"Bearer {issue(database, clinics.b, 'user/ImagingStudy.cruds', role='admin')}"}
    headers = {**staff_b, "Content-Type": content_type}
    refused = app_client.post(f"/dicomweb/studies/{CT_STUDY}", content=body, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["issue"][0]["diagnostics"] == f"study {CT_STUDY} belongs to another clinic"
    assert "www-authenticate" not in refused.headers
