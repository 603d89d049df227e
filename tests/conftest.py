"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``FHIR_SERVER_TEST_POSTGRES_URL`` (a superuser URL; the test command `.ci/test` starts a
server and sets it). Without it the PostgreSQL half is skipped locally and fails under CI, so CI can never pass
while quietly testing SQLite only.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fhir_server.db.engine import Database
from fhir_server.db.migrate import upgrade
from fhir_server.fhir import pipeline

POSTGRES_URL_ENV = "FHIR_SERVER_TEST_POSTGRES_URL"
pytest_plugins = ["tests.answer_check.plugin"]
"""Every FHIR body a test receives is validated when the session ends (tests/answer_check)."""

# Under CI the property tests draw the same examples every run (a CI verdict must not depend on luck); locally
# every run draws afresh and keeps exploring.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
AUTH_ENABLED_PATHS = ("tests/auth/", "tests/access/", "tests/test_app.py", "tests/test_settings.py")
"""Tests of SMART authorization itself, of the access policy and of the settings' defaults run with the server's default
(auth enabled)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "auth_enabled: runs with SMART authorization enabled (the server default)")
    config.addinivalue_line("markers", "auth_off_only(reason): a FHIR test not run with authorization on (why)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.as_posix()
        if any(f"/{part}" in path for part in AUTH_ENABLED_PATHS):
            item.add_marker(pytest.mark.auth_enabled)


@pytest.fixture(autouse=True)
def _authorization_switch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """FHIR API tests send no token: they run with FHIR_SERVER_AUTH=disabled unless marked ``auth_enabled``.

    Servers started by ``tests.servers.serving`` get only the environment their test passes them.
    """
    if request.node.get_closest_marker("auth_enabled") is None:
        monkeypatch.setenv("FHIR_SERVER_AUTH", "disabled")


def _postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{POSTGRES_URL_ENV} is not set: CI must test on PostgreSQL too")
    pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_ENV} (the test command .ci/test sets it)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database used as the template of each test's database."""
    admin_url = _postgres_admin_url()
    name = f"fhir_template_{uuid.uuid4().hex[:8]}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    upgrade(_database_url(admin_url, name))
    yield name
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _admin_execute(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database of each kind, dropped after the test."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    admin_url = _postgres_admin_url()
    name = f"fhir_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _database_url(admin_url, name)
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def module_auth_mode() -> str:
    """How a module's shared client reaches the server: ``off`` here; tests/fhir/conftest.py makes it ``off`` and
    ``on``."""
    return "off"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, module_auth_mode: str
) -> Iterator[str]:
    """Like ``database_url``, but shared by the tests of one module (for expensive set-ups: a running server); one
    per ``module_auth_mode`` too, so that the data one mode writes is never the other's."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module") / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    admin_url = _postgres_admin_url()
    name = f"fhir_module_{uuid.uuid4().hex[:12]}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _database_url(admin_url, name)
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like ``database_url`` but unmigrated; parametrized by the tests that need it."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin_url = _postgres_admin_url()
    name = f"fhir_empty_{uuid.uuid4().hex[:12]}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    yield _database_url(admin_url, name)
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url, finish=pipeline.finish)
    yield db
    db.dispose()
