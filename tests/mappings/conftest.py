"""Fixtures of the mapping tests that go through the HTTP API: an app on a fresh database of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.settings import load_settings


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        yield client


@pytest.fixture
def clinic(client: TestClient) -> dict[str, Any]:
    """The one Organization (clinic) of the database, so that written resources need not name theirs."""
    response = client.post("/fhir/Organization", json={"resourceType": "Organization", "name": "Main Street Clinic"})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
