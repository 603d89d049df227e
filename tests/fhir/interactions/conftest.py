"""Fixtures of the HTTP-level interaction tests: an app on a fresh database of each kind, reached with authorization
off and on (``auth_mode``, see tests/authorized_client.py), and a clinic in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of, fhir_client

PUBLIC_BASE_URL = "https://fhir.example.org/r4"

MakePatient = Callable[..., dict[str, Any]]


@pytest.fixture
def base_url() -> str:
    """The public base URL the tests' server believes it has (as behind a proxy): links and headers must use it."""
    return PUBLIC_BASE_URL


@pytest.fixture
def client(database_url: str, auth_mode: str, base_url: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode, base_url=base_url) as client:
        yield client


@pytest.fixture
def clinic(client: TestClient) -> dict[str, Any]:
    """The one Organization (clinic) of the database, so that patients need not name theirs (with authorization on:
    the clinic of the client's token)."""
    return clinic_of(client)


@pytest.fixture
def make_patient(client: TestClient, clinic: dict[str, Any]) -> MakePatient:
    """``make_patient(family="Doe", **elements)`` POSTs a Patient of the clinic and returns the stored resource."""

    def make(family: str = "Doe", **elements: Any) -> dict[str, Any]:
        resource = {"resourceType": "Patient", "name": [{"family": family, "given": ["Jane"]}], **elements}
        response = client.post("/fhir/Patient", json=resource)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return make
