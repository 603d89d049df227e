"""Helpers of the round-trip tests: golden pairs checked both ways, and resources compared as served.

Golden pairs follow ``mapping_support`` (``golden/<name>.row.json`` <-> ``golden/<name>.fhir.json``).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.db.engine import Database
from mappings.base import ResourceMapping
from tests.mappings.mapping_support import build_row, columns_of, load, references_read

SERVER_META = ("versionId", "lastUpdated")


def golden_row(mapping: type[ResourceMapping], name: str) -> Any:
    return build_row(mapping, load(name, "row"))


def assert_reads_back(mapping: type[ResourceMapping], name: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``from_fhir`` of the golden resource reads the golden row's columns and references.

    Returns the columns read, for the caller to check those it ``skip``-ped (values not held as a plain column).
    """
    row, resource = load(name, "row"), load(name, "fhir")
    values = mapping.from_fhir(resource)
    expected = columns_of(mapping, row)
    read = {k: v for k, v in values.columns.items() if k not in skip}
    assert read == {k: expected[k] for k in read}
    assert set(read) <= set(expected), f"the golden row lacks {set(read) - set(expected)}"
    assert references_read(mapping, resource) == row.get("references", {})
    return values.columns


def as_sent(resource: dict[str, Any]) -> dict[str, Any]:
    """A served resource without what the server sets in every resource: id, versionId and lastUpdated."""
    served = {k: v for k, v in resource.items() if k != "id"}
    meta = {k: v for k, v in served.pop("meta", {}).items() if k not in SERVER_META}
    return {**served, "meta": meta} if meta else served


def created(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    """POST ``resource``; the stored resource (the test fails unless it was created)."""
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def current(client: TestClient, resource_type: str, resource_id: str) -> dict[str, Any]:
    response = client.get(f"/fhir/{resource_type}/{resource_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def held_as_sent(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    """POST ``resource`` (valid R4, naming its clinic wherever the server would otherwise add it); the resource
    as served, after checking that the answer and a read both give back exactly what was sent."""
    body = created(client, resource)
    sent = as_sent(resource)
    assert as_sent(body) == sent, _differing(as_sent(body), sent)
    served = current(client, resource["resourceType"], body["id"])
    assert as_sent(served) == sent, _differing(as_sent(served), sent)
    return served


def _differing(served: dict[str, Any], sent: dict[str, Any]) -> str:
    keys = sorted(k for k in served.keys() | sent.keys() if served.get(k) != sent.get(k))
    return "; ".join(f"{k}: served {served.get(k)!r}, sent {sent.get(k)!r}" for k in keys)


def columns_of_row(database: Database, mapping: type[ResourceMapping], fhir_id: str, *attrs: str) -> tuple[Any, ...]:
    """The values of ``attrs`` in the stored row of ``mapping`` with FHIR id ``fhir_id``."""
    model: Any = mapping.model
    with database.read() as session:
        row = session.scalars(select(model).where(model.fhir_id == fhir_id)).one()
        return tuple(getattr(row, attr) for attr in attrs)


def issue_of(response: Any) -> dict[str, Any]:
    """The one issue of an OperationOutcome response."""
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    assert len(body["issue"]) == 1, body
    issue: dict[str, Any] = body["issue"][0]
    return issue
