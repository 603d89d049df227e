"""The resource server's Bearer check (RFC 6750): one query per request, nothing cached, so a revoked grant, an
expired token or a deactivated user is refused on the very next request; a portal user's own record is the patient
in context."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from fhir_server.auth.grants import revoke_grant
from fhir_server.db import AccessToken, Grant, Patient, User
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


def test_a_token_read_again_is_judged_by_what_it_grants_now(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    """A known token's check and read share one statement, built for what the token granted before; when the
    token now grants another patient, the read is judged again for that one."""
    token = token_for(database, clinic, "user/Patient.rs", email=clinic.patient_email)
    assert [_read(client, token, clinic.patient_id) for _ in range(2)] == [200, 200]
    with database.write() as session:
        other = session.scalar(select(Patient.id).where(Patient.fhir_id == clinic.other_patient_id))
        session.execute(update(User).where(User.email == clinic.patient_email).values(patient_id=other))
    assert _read(client, token, clinic.patient_id) == 404
    assert _read(client, token, clinic.other_patient_id) == 200
    version = client.get(
        f"{BASE}/Patient/{clinic.other_patient_id}/_history/1", headers={"Authorization": f"Bearer {token}"}
    )
    assert version.status_code == 200
