"""Medical record numbers: CLI-YYYY-NNNNN per clinic and year, never reused, unique under concurrency."""

from __future__ import annotations

import threading
import uuid
from datetime import date

import pytest
from sqlalchemy import select

from fhir_server.db import Organization, Patient
from fhir_server.db.engine import Database
from fhir_server.db.mrn import allocate_mrn, expect_patients
from fhir_server.fhir import pipeline


def _clinic(database: Database, name: str = "Test Clinic") -> uuid.UUID:
    with database.write() as session:
        clinic = Organization(name=name)
        session.add(clinic)
        pipeline.flush(session)
        return clinic.id


def _create_patient(database: Database, clinic_id: uuid.UUID, year: int = 2026) -> str:
    with database.write() as session:
        mrn = allocate_mrn(session, clinic_id, year)
        session.add(Patient(organization_id=clinic_id, mrn=mrn, given_name="Ada", family_name="Test"))
        return mrn


def test_mrns_count_up_per_clinic_and_year(database: Database) -> None:
    first, second = _clinic(database, "One"), _clinic(database, "Two")
    assert [_create_patient(database, first) for _ in range(3)] == [
        "CLI-2026-00001",
        "CLI-2026-00002",
        "CLI-2026-00003",
    ]
    assert _create_patient(database, second) == "CLI-2026-00001"
    assert _create_patient(database, first, year=2027) == "CLI-2027-00001"


def test_a_rolled_back_number_is_never_held_by_two_patients(database: Database) -> None:
    clinic = _clinic(database)
    try:
        with database.write() as session:
            allocate_mrn(session, clinic, 2026)
            raise RuntimeError("abort the transaction")
    except RuntimeError:
        pass
    mrns = [_create_patient(database, clinic) for _ in range(2)]
    assert len(set(mrns)) == 2


def test_deleting_a_patient_does_not_free_its_mrn(database: Database) -> None:
    clinic = _clinic(database)
    mrn = _create_patient(database, clinic)
    with database.write() as session:
        session.delete(session.scalars(select(Patient).where(Patient.mrn == mrn)).one())
    assert _create_patient(database, clinic) != mrn


def test_concurrent_patient_creations_never_share_an_mrn(database: Database) -> None:
    clinic = _clinic(database)
    created: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(10):
                created.append(_create_patient(database, clinic, date.today().year))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(created) == 80
    assert len(set(created)) == 80
    with database.read() as session:
        stored = session.scalars(select(Patient.mrn).where(Patient.organization_id == clinic)).all()
    assert sorted(stored) == sorted(created)


def test_an_open_patient_creation_does_not_hold_up_another_in_the_same_clinic(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite has one writer at a time by design")
    clinic = _clinic(database)
    other: list[str] = []
    with database.write() as session:
        held = allocate_mrn(session, clinic, 2026)  # this transaction stays open while the other one runs
        worker = threading.Thread(target=lambda: other.append(_create_patient(database, clinic)))
        worker.start()
        worker.join(timeout=60)
        finished_while_open = not worker.is_alive()
        session.add(Patient(organization_id=clinic, mrn=held, given_name="Ada", family_name="Held"))
    worker.join()
    assert finished_while_open
    assert other and other[0] != held


def _import_patient(database: Database, clinic_id: uuid.UUID, mrn: str) -> None:
    """A patient that came with its own number (as the DICOM sync creates one), not from the counter."""
    with database.write() as session:
        session.add(Patient(organization_id=clinic_id, mrn=mrn, given_name="Im", family_name="Ported"))


def test_a_number_a_patient_already_holds_is_skipped(database: Database) -> None:
    clinic = _clinic(database)
    _import_patient(database, clinic, "CLI-2026-00001")
    _import_patient(database, clinic, "CLI-2026-00002")
    assert _create_patient(database, clinic) == "CLI-2026-00003"


def test_a_block_of_numbers_skips_the_held_ones(database: Database) -> None:
    clinic = _clinic(database)
    _import_patient(database, clinic, "CLI-2026-00002")
    with database.write() as session:
        expect_patients(session, 3)
        mrns = [allocate_mrn(session, clinic, 2026) for _ in range(3)]
    assert mrns == ["CLI-2026-00001", "CLI-2026-00003", "CLI-2026-00004"]
