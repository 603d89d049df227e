"""Fixtures of the mapping tests that go through the HTTP API: an app on a fresh database of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.settings import load_settings
from tests.clinics import make_clinic


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        yield client


@pytest.fixture
def clinic(client: TestClient) -> dict[str, Any]:
    """The one clinic of the database (its Organization), so that written resources need not name theirs."""
    return make_clinic(client)
