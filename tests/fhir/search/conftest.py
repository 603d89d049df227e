"""Fixtures of the search tests: an app behind a proxy-like public base URL, on a fresh database of each kind,
reached with authorization off and on (tests/authorized_client.py).

``client`` gets a database of its own per test (``database_url``). Tests that only read share one database per
module, kind and authorization mode (``module_client``, on ``module_database_url``): the generated parameter tests
write a few hundred resources once, then search them, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import fhir_client
from tests.fhir.search.search_support import PUBLIC_BASE_URL


@pytest.fixture
def client(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode, base_url=PUBLIC_BASE_URL) as client:
        yield client


@pytest.fixture(scope="module")
def module_client(module_database_url: str, module_auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(module_database_url, module_auth_mode, base_url=PUBLIC_BASE_URL) as client:
        yield client
