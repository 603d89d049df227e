"""The write pipeline's own contract: every served change is versioned and indexed through its steps, a change made
behind its back is refused, and its state belongs to one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import fhir_server.app  # noqa: F401  (every module of the application imported, with whatever it installs)
from fhir_server.db import Organization, ResourceHistory, SearchString
from fhir_server.db.engine import Database
from fhir_server.db.write_session import UnversionedChangeError, WriteSession
from fhir_server.fhir import pipeline


def _history(database: Database, fhir_id: str) -> list[tuple[int, str]]:
    with database.read() as session:
        query = select(ResourceHistory.version_id, ResourceHistory.method).where(
            ResourceHistory.resource_type == "Organization", ResourceHistory.resource_id == fhir_id
        )
        return sorted((v, m) for v, m in session.execute(query))


def _clinic(database: Database, name: str = "Pipeline Clinic") -> str:
    with database.write() as session:
        clinic = Organization(name=name)
        session.add(clinic)
        pipeline.flush(session)
        return clinic.fhir_id


def test_a_direct_change_is_versioned_and_indexed_when_the_transaction_ends(database: Database) -> None:
    fhir_id = _clinic(database)
    with database.write() as session:
        session.scalars(select(Organization).where(Organization.fhir_id == fhir_id)).one().name = "Renamed Clinic"
    assert _history(database, fhir_id) == [(1, "create"), (2, "update")]
    with database.read() as session:
        names = session.scalars(
            select(SearchString.exact).where(SearchString.resource_id == fhir_id, SearchString.version_id == 2)
        ).all()
    assert "Renamed Clinic" in names


def test_a_served_row_flushed_behind_the_pipeline_is_refused(database: Database) -> None:
    with pytest.raises(UnversionedChangeError, match="Organization"), database.write() as session:
        session.add(Organization(name="Sneaky Clinic"))
        session.flush()  # not pipeline.flush: the row would be stored without a version
    with database.read() as session:
        assert session.scalars(select(Organization).where(Organization.name == "Sneaky Clinic")).first() is None


def test_a_change_noted_but_never_recorded_cannot_commit(database_url: str) -> None:
    unfinished = Database(database_url)  # no finish step: nothing records the noted version
    try:
        with pytest.raises(UnversionedChangeError, match="without recording"), unfinished.write() as session:
            session.add(Organization(name="Unrecorded Clinic"))
            pipeline.flush(session)
    finally:
        unfinished.dispose()


def test_a_database_without_the_pipeline_refuses_served_changes(database_url: str) -> None:
    unfinished = Database(database_url)
    try:
        with pytest.raises(UnversionedChangeError), unfinished.write() as session:
            session.add(Organization(name="Unversioned Clinic"))
    finally:
        unfinished.dispose()


def test_each_transaction_has_its_own_state(database: Database) -> None:
    fhir_id = _clinic(database)
    with database.write() as first:
        row = first.scalars(select(Organization).where(Organization.fhir_id == fhir_id)).one()
        row.name = "First Rename"
        pipeline.finish(first)
        assert isinstance(first, WriteSession) and ("Organization", fhir_id) in first.state.recorded
    with database.write() as second:
        assert isinstance(second, WriteSession) and second.state is not first.state
        assert not second.state.recorded and not second.state.pending and not second.state.index_rows
    assert _history(database, fhir_id) == [(1, "create"), (2, "update")]


def test_no_listener_is_left_on_the_global_session_class() -> None:
    with Session() as plain:
        for name in ("before_flush", "after_flush", "before_commit", "after_commit", "after_soft_rollback"):
            assert len(getattr(plain.dispatch, name)) == 0, name
