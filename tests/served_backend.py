"""A backend service of a served server, set up as a new user does (https://hl7.org/fhir/smart-app-launch/
backend-services.html): a clinic made with ``fhir-server clinics create``, the service registered with
``fhir-server clients create --type confidential-asymmetric`` (its public JWKS in a file), its access token from the
token endpoint the server's SMART configuration names, by ``client_credentials`` with a signed assertion.

Shared by the client compatibility tests (tests/clients) and the real bulk client's tests (tests/fhir/bulk).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from tests.backend_services import ES384, PUBLIC_JWKS, assertion, request_token
from tests.servers import CLI


def served_env(database_url: str, folder: Path, **settings: str) -> dict[str, str]:
    """The environment of a served server as these tests run it: its database, quiet logs, backend tokens that last
    the module, Bulk export files under ``folder`` and a job loop that looks every 0.2 s; ``settings`` add more
    (``FHIR_SERVER_JOBS_LEASE_SECONDS="2"``)."""
    return {
        "FHIR_SERVER_DATABASE_URL": database_url,
        "FHIR_SERVER_LOG_LEVEL": "warning",
        "FHIR_SERVER_BACKEND_TOKEN_LIFETIME": "3600",
        "FHIR_SERVER_EXPORT_DIR": str(folder / "exports"),
        "FHIR_SERVER_JOBS_POLL_SECONDS": "0.2",
        **settings,
    }


def cli(database_url: str, *args: str) -> str:
    """Run ``fhir-server args`` on ``database_url`` as an operator does; its standard output."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
    env = {**clean, "FHIR_SERVER_DATABASE_URL": database_url}
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def create_clinic(database_url: str, name: str) -> None:
    cli(database_url, "clinics", "create", "--name", name)


def backend_client(database_url: str, folder: Path, clinic: str, scope: str, name: str = "Backend") -> str:
    """Register a backend service of the clinic named ``clinic`` allowed ``scope``, with the public keys of
    :data:`tests.backend_services.PUBLIC_JWKS`; its client_id."""
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps(PUBLIC_JWKS))
    created = cli(
        database_url,
        *("clients", "create", "--name", name, "--type", "confidential-asymmetric"),
        *("--scope", scope, "--organization", clinic, "--jwks-file", str(jwks)),
    )
    client_id: str = json.loads(created)["client_id"]
    return client_id


def backend_token(root: str, client_id: str, scope: str) -> str:
    """An access token for ``scope`` of the backend service ``client_id`` of the server at ``root``."""
    with httpx.Client(base_url=root) as http:
        token_url = http.get("/fhir/.well-known/smart-configuration").json()["token_endpoint"]
        signed = assertion(client_id, ES384, "ES384", token_url)
        response = request_token(http, token_url, signed, scope)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
