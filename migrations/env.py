"""Alembic environment: the URL comes from the caller's config (fhir_server.db.migrate) or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from fhir_server.db import Base
from fhir_server.db.engine import create_db_engine
from fhir_server.settings import load_settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or load_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                _sqlite_foreign_keys(connection, on=False)
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)
    finally:
        engine.dispose()


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Turn SQLite's foreign key enforcement off for the migrations and back on after them, checking then that every
    reference still holds. A batch migration rebuilds a table (copy, drop, rename: https://www.sqlite.org/
    lang_altertable.html#otheralter), and dropping a table others reference fails while enforcement is on; the
    pragma only takes effect outside a transaction, so it goes to the driver's connection (autocommit)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    if on:
        broken = driver.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left references that name nothing: {broken[:5]}")
    driver.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
