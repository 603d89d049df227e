"""The audit trail records the FHIR interaction and resource type the matched route declares, not its handler's name:
one handler serving several types (the published definitions) is recorded per type, and a request no route
performed (404 for the path, 405 for the method) is recorded as ``unknown``, never as an interaction it did not run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.db import AuditEvent
from fhir_server.settings import load_settings
from tests.clinics import make_clinic

PATIENT = "audit-pat"
Recorded = tuple[int, str, str | None, str | None]
"""(status, action, resource type, resource id) of one request's audit row."""


@pytest.fixture(scope="module")
def client(module_database_url: str) -> Iterator[TestClient]:
    app = create_app(load_settings(database_url=module_database_url, auth="disabled"))
    with TestClient(app) as client:
        make_clinic(client, "C")
        patient = {"resourceType": "Patient", "id": PATIENT, "name": [{"family": "Audit"}]}
        assert client.put(f"/fhir/Patient/{PATIENT}", json=patient).status_code == 201
        yield client


def _recorded(client: TestClient, method: str, path: str, **kwargs: Any) -> Recorded:
    """Send one request; its status and the audit row it left (exactly one)."""
    request_id = uuid.uuid4().hex
    response = client.request(method, f"/fhir{path}", headers={"X-Request-ID": request_id}, **kwargs)
    database = client.app.state.context.database  # type: ignore[attr-defined]
    with database.read() as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id)).one()
        return response.status_code, row.action, row.resource_type, row.resource_id


def test_a_search_of_a_published_type_is_search_type_of_that_type(client: TestClient) -> None:
    assert _recorded(client, "GET", "/ConceptMap") == (200, "search-type", "ConceptMap", None)
    assert _recorded(client, "GET", "/StructureDefinition") == (200, "search-type", "StructureDefinition", None)


def test_a_read_of_a_published_type_is_a_read_of_that_type(client: TestClient) -> None:
    expected = (200, "read", "ConceptMap", "appointment-status")
    assert _recorded(client, "GET", "/ConceptMap/appointment-status") == expected
    assert _recorded(client, "GET", "/ConceptMap/no-such-map") == (404, "read", "ConceptMap", "no-such-map")


@pytest.mark.parametrize(
    ("method", "path", "resource_type"),
    [
        ("PATCH", "/Patient", "Patient"),  # routing's 405: the path is search's, the method no route's
        ("PUT", "/Patient/audit-pat/_history", "Patient"),
        ("POST", "/Patient/audit-pat/$everything", "Patient"),
        ("POST", "/ConceptMap", "ConceptMap"),  # a read-only type's 405
        ("DELETE", "/ConceptMap/appointment-status", "ConceptMap"),
    ],
)
def test_a_method_not_allowed_records_no_interaction(
    client: TestClient, method: str, path: str, resource_type: str | None
) -> None:
    status, action, recorded_type, _ = _recorded(client, method, path)
    assert (status, action, recorded_type) == (405, "unknown", resource_type)


def test_a_path_no_route_serves_records_no_interaction(client: TestClient) -> None:
    assert _recorded(client, "GET", "/Patient/audit-pat/_history/1/more") == (404, "unknown", None, None)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/Patient/audit-pat", (200, "read", "Patient", PATIENT)),
        ("GET", "/Patient/audit-pat/_history/1", (200, "vread", "Patient", PATIENT)),
        ("GET", "/Patient", (200, "search-type", "Patient", None)),
        ("GET", "/Patient/audit-pat/Appointment", (200, "search-compartment", "Appointment", None)),
        ("GET", "/Patient/audit-pat/_history", (200, "history-instance", "Patient", PATIENT)),
        ("GET", "/Patient/_history", (200, "history-type", "Patient", None)),
        ("GET", "/_history", (200, "history-system", None, None)),
        ("GET", "/metadata", (200, "capabilities", None, None)),
        ("GET", "/Patient/audit-pat/$everything", (200, "$everything", "Patient", None)),
        ("GET", "/AuditEvent", (200, "search-type", "AuditEvent", None)),
    ],
)
def test_each_route_records_the_interaction_it_declares(
    client: TestClient, method: str, path: str, expected: Recorded
) -> None:
    assert _recorded(client, method, path) == expected


def test_operations_record_their_name(client: TestClient) -> None:
    patient = {"resourceType": "Patient", "name": [{"family": "Valid"}]}
    assert _recorded(client, "POST", "/Patient/$validate", json=patient) == (200, "$validate", "Patient", None)
    on_instance = _recorded(client, "POST", f"/Patient/{PATIENT}/$validate", json=patient)
    assert on_instance == (200, "$validate", "Patient", PATIENT)


def test_writes_record_their_interaction_and_the_written_resource(client: TestClient) -> None:
    status, action, resource_type, created_id = _recorded(
        client, "POST", "/Patient", json={"resourceType": "Patient", "name": [{"family": "New"}]}
    )
    assert (status, action, resource_type) == (201, "create", "Patient")
    assert created_id is not None
    patient = {"resourceType": "Patient", "id": created_id, "name": [{"family": "Newer"}]}
    assert _recorded(client, "PUT", f"/Patient/{created_id}", json=patient) == (200, "update", "Patient", created_id)
    assert _recorded(client, "DELETE", f"/Patient/{created_id}") == (204, "delete", "Patient", created_id)


def test_a_transaction_is_recorded_as_transaction_and_a_batch_as_batch(client: TestClient) -> None:
    entry = {"request": {"method": "GET", "url": f"Patient/{PATIENT}"}}
    for kind in ("transaction", "batch"):
        bundle = {"resourceType": "Bundle", "type": kind, "entry": [entry]}
        assert _recorded(client, "POST", "", json=bundle) == (200, kind, None, None)
