"""Alembic, driven from code: upgrade to head, report the current revision, check the schema is current."""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from fhir_server.paths import project_dir


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for ``database_url`` using the project's migrations/ directory."""
    config = Config()
    config.set_main_option("script_location", str(project_dir("migrations")))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply every pending migration."""
    command.upgrade(alembic_config(database_url), revision)


@cache
def _code_head() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(project_dir("migrations")))
    return ScriptDirectory.from_config(config).get_current_head()


def head_revision(database_url: str | None = None) -> str | None:
    """The newest revision the code knows (the same for every database; read once per process)."""
    return _code_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def pending(engine: Engine) -> bool:
    """True when the database lags behind the code's migrations."""
    return current_revision(engine) != head_revision()
