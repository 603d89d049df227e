"""Fixtures of the search tests: an app behind a proxy-like public base URL, on a fresh database of each kind.

``client`` gets a database of its own per test (``database_url``). Tests that only read share one database per
module and kind (``module_client``, on ``module_database_url``): the generated parameter tests write a few
hundred resources once, then search them, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.settings import load_settings
from tests.fhir.search.search_support import PUBLIC_BASE_URL


def app_client(database_url: str) -> TestClient:
    """A client of the app on ``database_url`` whose public base URL is PUBLIC_BASE_URL (as behind a proxy).

    Authorization is off: these tests are about what a search finds, for a caller allowed to see everything.
    """
    settings = load_settings(database_url=database_url, base_url=PUBLIC_BASE_URL, auth="disabled")
    return TestClient(create_app(settings))


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with app_client(database_url) as client:
        yield client


@pytest.fixture(scope="module")
def module_client(module_database_url: str) -> Iterator[TestClient]:
    with app_client(module_database_url) as client:
        yield client
