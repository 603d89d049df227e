"""Medical record numbers: ``CLI-YYYY-NNNNN``, per clinic and year, never reused, safe under concurrency."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fhir_server.db.people import MrnCounter, Patient
from fhir_server.db.write_session import WriteSession, WriteState

MRN_PREFIX = "CLI"


def allocate_mrn(session: Session, organization_id: uuid.UUID, year: int) -> str:
    """Take the next MRN of ``organization_id`` for ``year``.

    One atomic upsert bumps the counter row of (clinic, year) and returns the new value. On PostgreSQL it runs in a
    short transaction of its own, on the session's counters engine: the row lock lasts one statement, so concurrent
    patient-creating transactions of a clinic run side by side instead of queueing behind the one that holds the
    counter until it commits. A number is then taken even when the caller's transaction rolls back: it leaves a gap
    and is never given again. (A clinic created in the caller's own, uncommitted transaction is not visible there
    yet; its numbers are taken inside the caller's transaction.) SQLite has one writer at a time: the upsert runs in
    the caller's transaction, and a rolled-back number is rolled back with it.

    When the transaction announced more patients (:func:`expect_patients`), the upsert takes that many numbers at
    once and the next calls hand them out in order. A number some patient of the clinic already holds is skipped.
    The numbers taken ahead are the transaction's (its WriteState): on SQLite a rollback takes them back too.
    """
    session = _writing(session)
    state = session.state
    block = state.mrn_blocks.setdefault((organization_id, year), [])
    while not block:
        count, state.mrn_expected = max(1, state.mrn_expected), 1
        last = _take(session, state, organization_id, year, count)
        block.extend(_free(session, organization_id, year, range(last - count + 1, last + 1)))
    return format_mrn(year, block.pop(0))


def _free(session: Session, organization_id: uuid.UUID, year: int, numbers: range) -> list[int]:
    """The ``numbers`` whose MRN no patient of the clinic holds (deleted ones included: a number is never reused).
    A number can be held without the counter having handed it out: a patient imported with its own (DICOM sync)."""
    wanted = {format_mrn(year, n): n for n in numbers}
    query = select(Patient.mrn).where(Patient.organization_id == organization_id, Patient.mrn.in_(list(wanted)))
    with session.no_autoflush:  # the patient being created has no MRN yet
        held = set(session.scalars(query))
    return [n for mrn, n in wanted.items() if mrn not in held]


def expect_patients(session: Session, count: int) -> None:
    """Announce that the session's transaction is about to create ``count`` patients (a transaction Bundle)."""
    _writing(session).state.mrn_expected = count


def _writing(session: Session) -> WriteSession:
    if not isinstance(session, WriteSession):
        raise TypeError("medical record numbers are taken inside a write transaction (Database.write)")
    return session


def _take(session: WriteSession, state: WriteState, organization_id: uuid.UUID, year: int, count: int) -> int:
    """Advance the counter by ``count``; its new value."""
    counters, inside = session.counters, state.mrn_inside
    if counters is not None and organization_id not in inside:
        try:
            with counters.begin() as connection:
                return _bump(connection, organization_id, year, count)
        except IntegrityError:  # the clinic is not committed yet: it was created by the caller's transaction
            inside.add(organization_id)  # from now on its counter row is this transaction's (locked by it)
    return _bump(session, organization_id, year, count)


def _bump(executor: Session | Connection, organization_id: uuid.UUID, year: int, count: int) -> int:
    dialect = executor.get_bind().dialect.name if isinstance(executor, Session) else executor.dialect.name
    insert: Any = postgresql.insert(MrnCounter) if dialect == "postgresql" else sqlite.insert(MrnCounter)
    statement = (
        insert.values(organization_id=organization_id, year=year, last_value=count)
        .on_conflict_do_update(
            index_elements=[MrnCounter.organization_id, MrnCounter.year],
            set_={"last_value": MrnCounter.last_value + count},
        )
        .returning(MrnCounter.last_value)
    )
    number: int = executor.execute(statement).scalar_one()
    return number


def format_mrn(year: int, number: int) -> str:
    return f"{MRN_PREFIX}-{year:04d}-{number:05d}"
