"""A running server for the client compatibility tests, set up as a new user would: ``fhir-server serve`` on a
database of each kind, a clinic made with ``fhir-server clinics create``, a backend service registered with
``fhir-server clients create --type confidential-asymmetric`` (its public JWKS in a file), and its access token from
the token endpoint by ``client_credentials`` with a signed assertion
(https://hl7.org/fhir/smart-app-launch/backend-services.html). Every client then works with that bearer token.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.backend_services import ES384, PUBLIC_JWKS, assertion, request_token
from tests.servers import CLI, serving

SCOPE = "system/*.cruds"
CLINIC = "Compatibility Clinic"


@dataclass(frozen=True)
class Server:
    """The running server: its FHIR base URL and a bearer token of a backend service of its one clinic."""

    base: str
    token: str


def _cli(database_url: str, *args: str) -> str:
    """Run ``fhir-server args`` on ``database_url`` as an operator does; its standard output."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
    env = {**clean, "FHIR_SERVER_DATABASE_URL": database_url}
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _backend_client(database_url: str, folder: Path) -> str:
    """Create the clinic and register its backend service with the CLI; the client_id."""
    _cli(database_url, "clinics", "create", "--name", CLINIC)
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps(PUBLIC_JWKS))
    created = _cli(
        database_url,
        *("clients", "create", "--name", "Compatibility tests", "--type", "confidential-asymmetric"),
        *("--scope", SCOPE, "--organization", CLINIC, "--jwks-file", str(jwks)),
    )
    client_id: str = json.loads(created)["client_id"]
    return client_id


@pytest.fixture(scope="module")
def server(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("clients")
    env = {
        "FHIR_SERVER_DATABASE_URL": module_database_url,
        "FHIR_SERVER_LOG_LEVEL": "warning",
        "FHIR_SERVER_BACKEND_TOKEN_LIFETIME": "3600",
    }
    with serving([], folder, env) as root:
        client_id = _backend_client(module_database_url, folder)
        with httpx.Client(base_url=root) as http:
            token_url = http.get("/fhir/.well-known/smart-configuration").json()["token_endpoint"]
            signed = assertion(client_id, ES384, "ES384", token_url)
            response = request_token(http, token_url, signed, SCOPE)
        assert response.status_code == 200, response.text
        yield Server(f"{root}/fhir", response.json()["access_token"])
