"""The initial migration builds exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect

from fhir_server.db import Base
from fhir_server.db.clinic import live_clinics
from fhir_server.db.engine import Database
from fhir_server.db.migrate import current_revision, head_revision, pending, upgrade
from fhir_server.db.types import UtcDateTime
from fhir_server.fhir import pipeline


def test_models_and_migrations_agree(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        drift = compare_metadata(context, Base.metadata)
    assert drift == []


def test_every_table_exists_after_upgrade(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_database_is_at_head(database: Database) -> None:
    assert current_revision(database.engine) == head_revision(database.url)
    assert not pending(database.engine)


@pytest.mark.parametrize(
    "empty_database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_upgrade_of_an_empty_database_is_repeatable(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert pending(engine)
        upgrade(empty_database_url)
        upgrade(empty_database_url)  # a second run finds nothing to do
        assert not pending(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "empty_database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_clinics_migration_keeps_every_organization_a_clinic_under_its_id(empty_database_url: str) -> None:
    """Issue 14: at 0006 every Organization was a clinic; after 0008 each is its own clinic (no id lost), its history
    carries it, and the rows and references that pointed at it still do."""
    upgrade(empty_database_url, "0006")
    clinics = {"clinic-a": uuid.uuid4(), "clinic-b": uuid.uuid4()}
    endpoint = uuid.uuid4()
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            _rows_at_0006(conn, clinics, endpoint)
        upgrade(empty_database_url)
        with engine.connect() as conn:
            organizations = conn.execute(sa.text("SELECT fhir_id, id, organization_id FROM organizations")).all()
            history = conn.execute(
                sa.text(
                    "SELECT resource_id, organization_id FROM resource_history WHERE resource_type = 'Organization'"
                )
            ).all()
            held_by = conn.execute(sa.text("SELECT organization_id FROM endpoints")).scalar_one()
    finally:
        engine.dispose()
    found = {fhir_id: (_uuid(row_id), _uuid(clinic)) for fhir_id, row_id, clinic in organizations}
    assert found == {fhir_id: (row_id, row_id) for fhir_id, row_id in clinics.items()}
    assert {(r, _uuid(c)) for r, c in history} == set(clinics.items())
    assert _uuid(held_by) == clinics["clinic-a"]
    database = Database(empty_database_url, finish=pipeline.finish)
    try:
        with database.read() as session:
            assert set(live_clinics(session)) == set(clinics.values())
    finally:
        database.dispose()


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _table(name: str, *columns: str | sa.ColumnClause[Any]) -> sa.TableClause:
    """A served table of the 0006 schema with the given columns besides the served ones."""
    served = [sa.column("id", sa.Uuid), sa.column("fhir_id"), sa.column("version_id"),
              sa.column("last_updated", UtcDateTime), sa.column("extra", sa.JSON)]  # fmt: skip
    return sa.table(name, *served, *(sa.column(c) if isinstance(c, str) else c for c in columns))


def _rows_at_0006(conn: Connection, clinics: dict[str, uuid.UUID], endpoint: uuid.UUID) -> None:
    """Two clinics with a version each, and an endpoint of the first, as the schema at 0006 holds them."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    organizations = _table("organizations", "name", "timezone", "type", "active")
    endpoints = _table("endpoints", "status", "connection_type", "address", sa.column("organization_id", sa.Uuid))
    history = sa.table(
        "resource_history",
        *(sa.column(name) for name in ("resource_type", "resource_id", "version_id", "method")),
        sa.column("organization_id", sa.Uuid),
        sa.column("last_updated", UtcDateTime),
        sa.column("resource", sa.JSON),
    )
    for fhir_id, row_id in clinics.items():
        common = {"id": row_id, "fhir_id": fhir_id, "version_id": 1, "last_updated": when, "extra": {}}
        conn.execute(organizations.insert().values(**common, name=fhir_id, timezone="UTC", type="clinic", active=True))
        resource = {"resourceType": "Organization", "id": fhir_id, "name": fhir_id}
        conn.execute(history.insert().values(resource_type="Organization", resource_id=fhir_id, version_id=1,
                                             organization_id=None, last_updated=when, method="create",
                                             resource=resource))  # fmt: skip
    conn.execute(endpoints.insert().values(id=endpoint, fhir_id="e", version_id=1, last_updated=when, extra={},
                                           organization_id=clinics["clinic-a"], status="active",
                                           connection_type="hl7-fhir-rest", address="https://x.example"))  # fmt: skip
