"""The two ways the FHIR interaction tests reach the server (issue 13: every write path is the path of an authorized
client too).

* ``off``: authorization disabled, every request open (``FHIR_SERVER_AUTH=disabled``).
* ``on``: authorization enabled (the server's default) and every request carrying ``Authorization: Bearer`` with a
  real access token: the test's clinic is created through the FHIR API, a backend service of that clinic is
  registered with ``system/*.cruds``, finds the token endpoint in the server's SMART configuration and gets its token
  by ``client_credentials`` with a signed assertion (https://hl7.org/fhir/smart-app-launch/backend-services.html).
  The token is bound to the clinic: what the test writes lands there, and what it reads must be there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.db import Organization
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings
from tests.backend_services import ES384, assertion, register_backend, request_token
from tests.clinics import add_clinic_at, make_clinic

AUTH_MODES = ("off", "on")
CLINIC: dict[str, Any] = {"resourceType": "Organization", "name": "Main Street Clinic"}
"""The clinic of an ``on`` run (the clinic an ``off`` run's tests create for themselves looks the same)."""
SCOPE = "system/*.cruds"
TOKEN_PATH = "/fhir/auth/token"  # where the app serves the token endpoint, whatever public base URL it believes in
TOKEN_LIFETIME = 3600  # a module-scoped client may outlive the 300-second default of a backend token


@contextmanager
def fhir_client(
    database_url: str, auth_mode: str, clinic_id: str | None = None, **settings: Any
) -> Iterator[TestClient]:
    """A client of an app on ``database_url`` (with ``settings``) in ``auth_mode`` (``off`` or ``on``, see the
    module); in ``on`` mode the client sends its token on every request, a token of the clinic whose FHIR id is
    ``clinic_id`` (data already there, e.g. the demo clinic), else of a clinic created first (``CLINIC``)."""
    if auth_mode == "off":
        with TestClient(create_app(load_settings(database_url=database_url, auth="disabled", **settings))) as client:
            yield client
        return
    client_id = _clinic_backend(database_url, clinic_id or _create_clinic(database_url))
    enabled = {"auth": "enabled", "backend_token_lifetime": TOKEN_LIFETIME, **settings}
    with TestClient(create_app(load_settings(database_url=database_url, **enabled))) as client:
        client.headers["Authorization"] = f"Bearer {system_token(client, client_id)}"
        yield client


def _create_clinic(database_url: str) -> str:
    """Create the clinic ``CLINIC`` (as an operator does: ``fhir-server clinics create``); its FHIR id."""
    clinic_id: str = add_clinic_at(database_url, CLINIC["name"])["id"]
    return clinic_id


def _clinic_backend(database_url: str, clinic_id: str) -> str:
    """Register a backend service of the clinic ``clinic_id`` allowed ``SCOPE``; its client_id."""
    database = Database(database_url)
    try:
        with database.write() as session:
            clinic = session.scalars(select(Organization).where(Organization.fhir_id == clinic_id)).one()
            return register_backend(session, clinic, SCOPE)
    finally:
        database.dispose()


def system_token(client: TestClient, client_id: str, scope: str = SCOPE) -> str:
    """An access token for the backend service ``client_id``, from the token endpoint named by the server's SMART
    configuration (the assertion's audience)."""
    configuration = client.get("/fhir/.well-known/smart-configuration")
    assert configuration.status_code == 200, configuration.text
    signed = assertion(client_id, ES384, "ES384", configuration.json()["token_endpoint"])
    response = request_token(client, TOKEN_PATH, signed, scope)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == scope
    token: str = response.json()["access_token"]
    return token


def clinic_of(client: TestClient) -> dict[str, Any]:
    """The one Organization (clinic) the test's resources belong to, so that they need not name it: for a client
    with a token (``on`` mode) the clinic of its token, read back; else created now as an operator does (``CLINIC``)."""
    if "authorization" in client.headers:
        found = client.get("/fhir/Organization").json()
        assert found["total"] == 1, found
        clinic: dict[str, Any] = found["entry"][0]["resource"]
        return clinic
    return make_clinic(client, CLINIC["name"])
