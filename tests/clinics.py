"""Clinics for tests, made as an operator makes them (``fhir-server clinics create``: fhir_server.clinics), never
through FHIR (a FHIR Organization is data of a clinic, not a clinic)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from fhir_server.access.context import OPEN
from fhir_server.app_context import context_of
from fhir_server.clinics import create_clinic
from fhir_server.db.engine import Database
from fhir_server.fhir import pipeline, repository


def add_clinic(database: Database, name: str = "Main Street Clinic", **options: Any) -> dict[str, Any]:
    """Create a clinic (``options``: ``npi``, ``timezone``) in ``database``; its Organization as FHIR serves it."""
    with database.write() as session:
        clinic = create_clinic(session, name, **options)
    with database.read() as session:
        return repository.read(session, OPEN, "Organization", clinic.fhir_id)


def add_clinic_at(database_url: str, name: str = "Main Street Clinic", **options: Any) -> dict[str, Any]:
    """:func:`add_clinic` on the database at ``database_url``."""
    database = Database(database_url, finish=pipeline.finish)
    try:
        return add_clinic(database, name, **options)
    finally:
        database.dispose()


def make_clinic(client: TestClient, name: str = "Main Street Clinic", **options: Any) -> dict[str, Any]:
    """:func:`add_clinic` in the database of the (started) application ``client`` talks to."""
    app: Starlette = client.app  # type: ignore[assignment]
    return add_clinic(context_of(app).database, name, **options)
