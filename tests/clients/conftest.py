"""A running server for the client compatibility tests, set up as a new user would: ``fhir-server serve`` on a
database of each kind, a clinic made with ``fhir-server clinics create``, a backend service registered with
``fhir-server clients create --type confidential-asymmetric`` (its public JWKS in a file), and its access token from
the token endpoint by ``client_credentials`` with a signed assertion
(https://hl7.org/fhir/smart-app-launch/backend-services.html). Every client then works with that bearer token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.served_backend import backend_client, backend_token, create_clinic, served_env
from tests.servers import serving

SCOPE = "system/*.cruds"
CLINIC = "Compatibility Clinic"


@dataclass(frozen=True)
class Server:
    """The running server: its FHIR base URL and a bearer token of a backend service of its one clinic."""

    base: str
    token: str


@pytest.fixture(scope="module")
def server(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("clients")
    env = served_env(module_database_url, folder)
    with serving([], folder, env) as root:
        create_clinic(module_database_url, CLINIC)
        client_id = backend_client(module_database_url, folder, CLINIC, SCOPE, "Compatibility tests")
        yield Server(f"{root}/fhir", backend_token(root, client_id, SCOPE))
