"""The initial migration builds exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from fhir_server.db import Base
from fhir_server.db.engine import Database
from fhir_server.db.migrate import current_revision, head_revision, pending, upgrade


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
