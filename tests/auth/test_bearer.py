"""The resource server's Bearer check (RFC 6750): one query per request, nothing cached, so a revoked grant, an
expired token or a deactivated user is refused on the very next request; a portal user's own record is the patient
in context."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from fhir_server.auth.grants import revoke_grant
from fhir_server.db import AccessToken, Grant, User
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
from tests.auth.conftest import BASE, Clinic, token_for


def _read(client: TestClient, token: str, patient: str = "pat-1") -> int:
    return client.get(f"{BASE}/Patient/{patient}", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_revoked_grant_is_refused_on_the_next_read(client: TestClient, database: Database, clinic: Clinic) -> None:
    token = token_for(database, clinic, "user/Patient.rs")
    assert _read(client, token) == 200
    with database.write() as session:
        revoke_grant(session, session.scalars(select(Grant)).one())
    assert _read(client, token) == 401


def test_an_expired_token_is_refused(client: TestClient, database: Database, clinic: Clinic) -> None:
    token = token_for(database, clinic, "user/Patient.rs")
    assert _read(client, token) == 200
    with database.write() as session:
        session.execute(update(AccessToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.get(f"{BASE}/Patient/pat-1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_deactivated_user_is_refused(client: TestClient, database: Database, clinic: Clinic) -> None:
    token = token_for(database, clinic, "user/Patient.rs")
    with database.write() as session:
        session.execute(update(User).where(User.email == clinic.physician_email).values(active=False))
    assert _read(client, token) == 401


def test_a_portal_user_reads_only_their_own_record(client: TestClient, database: Database, clinic: Clinic) -> None:
    token = token_for(database, clinic, "user/Patient.rs", email=clinic.patient_email)
    assert _read(client, token, clinic.patient_id) == 200
    assert _read(client, token, clinic.other_patient_id) == 404


def test_an_unknown_or_overlong_token_is_refused(client: TestClient, clinic: Clinic) -> None:
    assert _read(client, "not-a-token") == 401
    assert _read(client, "x" * 500) == 401
