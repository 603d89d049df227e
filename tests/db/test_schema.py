"""The schema keeps closed vocabularies closed, emails unique case-insensitively, and instants time-zoned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from fhir_server.auth.users import UserError, create_user
from fhir_server.db import Appointment, Organization, Patient, Practitioner, User
from fhir_server.db.engine import Database
from fhir_server.fhir import pipeline


@pytest.fixture
def clinic(database: Database) -> Organization:
    with database.write() as session:
        clinic = Organization(name="Test Clinic")
        session.add(clinic)
    return clinic


def test_unknown_appointment_status_is_refused(database: Database, clinic: Organization) -> None:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with pytest.raises(IntegrityError), database.write() as session:
        patient = Patient(organization_id=clinic.id, mrn="CLI-2026-00001", given_name="A", family_name="B")
        doctor = Practitioner(organization_id=clinic.id, given_name="C", family_name="D")
        session.add_all([patient, doctor])
        pipeline.flush(session)
        session.add(
            Appointment(
                organization_id=clinic.id,
                patient_id=patient.id,
                practitioner_id=doctor.id,
                start_at=start,
                end_at=start + timedelta(minutes=30),
                duration_minutes=30,
                status="booked",  # FHIR's word, not the clinic's
            )
        )
    with database.read() as session:
        assert session.scalars(select(Patient)).all() == []  # nothing half-written


def test_unknown_role_is_refused_by_the_database(database: Database, clinic: Organization) -> None:
    with pytest.raises(IntegrityError), database.write() as session:
        session.add(User(organization_id=clinic.id, email="a@b.org", password_hash="x", role="doctor", full_name="A"))


def test_emails_are_unique_whatever_their_case(database: Database, clinic: Organization) -> None:
    with database.write() as session:
        user = create_user(
            session,
            organization=clinic,
            email="Ann.Lee@Example.ORG",
            password="long enough",
            role="nurse",
            full_name="Ann Lee",
        )
    assert user.email == "ann.lee@example.org"
    with pytest.raises(UserError, match="already exists"), database.write() as session:
        create_user(
            session,
            organization=clinic,
            email="ANN.LEE@example.org",
            password="long enough",
            role="nurse",
            full_name="Ann Lee",
        )


def test_a_mixed_case_email_is_refused_by_the_database(database: Database, clinic: Organization) -> None:
    with pytest.raises(IntegrityError), database.write() as session:
        session.add(User(organization_id=clinic.id, email="Ann@b.org", password_hash="x", role="nurse", full_name="A"))


def test_instants_come_back_in_utc_with_their_zone(database: Database, clinic: Organization) -> None:
    local = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    with database.write() as session:
        session.add(
            User(
                organization_id=clinic.id,
                email="z@b.org",
                password_hash="x",
                role="nurse",
                full_name="Z",
                locked_until=local,
            )
        )
    with database.read() as session:
        stored = session.scalars(select(User.locked_until).where(User.email == "z@b.org")).one()
    assert stored == local
    assert stored is not None and stored.utcoffset() == timedelta(0)


def test_naive_instants_are_refused(database: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"), database.write() as session:
        session.add(Organization(name="Naive", deleted_at=datetime(2026, 1, 1)))
