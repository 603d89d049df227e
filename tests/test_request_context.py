"""The one request context: the application's settings, base URL, cursor key and database, prepared once when the
application starts, and the caller's access, handed to every FHIR handler."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from fhir_server.access.context import OPEN
from fhir_server.app import create_app
from fhir_server.app_context import context_of
from fhir_server.db.engine import Database
from fhir_server.fhir import cursors
from fhir_server.request_context import Context, RequestContext
from fhir_server.settings import Settings, load_settings


def _probed(settings: Settings) -> tuple[FastAPI, list[RequestContext]]:
    """An application for ``settings`` with a route that keeps the request context it was given."""
    app = create_app(settings)
    seen: list[RequestContext] = []

    @app.get("/probe")
    async def probe(ctx: Context) -> dict[str, str]:
        seen.append(ctx)
        return {}

    return app, seen


def _settings(tmp_path: Path, **values: str) -> Settings:
    return load_settings(database_url=f"sqlite:///{tmp_path / 'context.db'}", auth="disabled", **values)


def test_every_request_shares_the_context_prepared_when_the_app_started(tmp_path: Path) -> None:
    settings = _settings(tmp_path, base_url="https://fhir.example.org/fhir/")
    app, seen = _probed(settings)
    with TestClient(app) as client:
        assert client.get("/probe").status_code == 200
        assert client.get("/probe").status_code == 200
        started = context_of(app)
    first, second = seen
    assert first.app is second.app is started
    assert first.cursor_key is second.cursor_key  # derived once, not per request
    assert first.settings is settings
    assert first.base_url == "https://fhir.example.org/fhir"
    assert isinstance(first.database, Database)
    assert first.database.url == settings.database_url
    assert first.access == OPEN  # authorization is off: the open context


def test_the_cursor_key_is_the_deployments_own(tmp_path: Path) -> None:
    keys = []
    for secret in ("one secret", "another secret"):
        settings = _settings(tmp_path, secret_key=secret)
        app = create_app(settings)
        with TestClient(app):
            keys.append(context_of(app).cursor_key)
        assert keys[-1] == cursors.signing_key(settings)
    assert keys[0] != keys[1]


def test_an_app_run_on_a_given_database_serves_that_database(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    database = Database(settings.database_url)
    try:
        app = create_app(settings, database)
        with TestClient(app):
            assert context_of(app).database is database
    finally:
        database.dispose()
