"""The work of one patch is bounded (issue 12, item 4): the number of operations, the size the resource may grow to,
and no database lock is held while a client's patch document runs."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient

from fhir_server.access.context import OPEN
from fhir_server.errors import FhirError
from fhir_server.fhir import patching
from tests.authorized_client import clinic_of, fhir_client
from tests.fhir.interactions.conftest import MakePatient

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def doubling_attack(copies: int = 20) -> list[dict[str, Any]]:
    """One ``add`` then ``copies`` operations each copying the whole extension list into itself (about 1.3 KB):
    the resource doubles with each."""
    operations: list[dict[str, Any]] = [
        {"op": "add", "path": "/extension", "value": [{"url": "urn:x", "valueString": "x" * 20}]}
    ]
    return operations + [{"op": "copy", "from": "/extension", "path": "/extension/-"} for _ in range(copies)]


def _json_patch(client: TestClient, patient: dict[str, Any], operations: Any) -> Any:
    return client.patch(f"/fhir/Patient/{patient['id']}", content=orjson.dumps(operations), headers=JSON_PATCH)


def _fhirpath_patch(client: TestClient, patient: dict[str, Any], operations: list[dict[str, Any]]) -> Any:
    return client.patch(f"/fhir/Patient/{patient['id']}", json={"resourceType": "Parameters", "parameter": operations})


def _add_extension(value: str) -> dict[str, Any]:
    return {
        "name": "operation",
        "part": [
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "extension"},
            {
                "name": "value",
                "part": [{"name": "url", "valueUri": "urn:x"}, {"name": "valueString", "valueString": value}],
            },
        ],
    }


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def _unchanged(client: TestClient, patient: dict[str, Any]) -> None:
    current = client.get(f"/fhir/Patient/{patient['id']}").json()
    assert current["meta"]["versionId"] == "1" and "extension" not in current
    assert client.get(f"/fhir/Patient/{patient['id']}/_history").json()["total"] == 1


@pytest.fixture
def limited(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    """A server whose patches may hold 3 operations and grow a resource to 4 KB, with a clinic."""
    with fhir_client(database_url, auth_mode, patch_max_operations=3, patch_max_resource_bytes=4096) as client:
        clinic_of(client)
        yield client


def _patient(client: TestClient) -> dict[str, Any]:
    response = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Doe"}]})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_json_patch_doubling_attack_is_refused_naming_the_limit_and_writes_nothing(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()
    body = orjson.dumps(doubling_attack())
    assert len(body) < 1400
    issue = _issue(_json_patch(client, patient, doubling_attack()), 422)
    assert issue["code"] == "too-costly"
    assert "FHIR_SERVER_PATCH_MAX_RESOURCE_BYTES" in issue["diagnostics"]
    assert issue["expression"][0].startswith("operation[")
    _unchanged(client, patient)


def test_a_json_patch_with_more_operations_than_allowed_is_413(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    operations = [{"op": "test", "path": "/id", "value": patient["id"]}] * 1001
    issue = _issue(_json_patch(client, patient, operations), 413)
    assert issue["code"] == "too-costly" and "FHIR_SERVER_PATCH_MAX_OPERATIONS" in issue["diagnostics"]
    assert "1000" in issue["diagnostics"]
    _unchanged(client, patient)


def test_the_limits_are_settings(limited: TestClient) -> None:
    patient = _patient(limited)
    operations = [{"op": "test", "path": "/id", "value": patient["id"]}] * 4
    assert "at most 3" in _issue(_json_patch(limited, patient, operations), 413)["diagnostics"]
    grow = [{"op": "add", "path": "/extension", "value": [{"url": "urn:x", "valueString": "x" * 5000}]}]
    assert "4096 bytes" in _issue(_json_patch(limited, patient, grow), 422)["diagnostics"]
    _unchanged(limited, patient)
    small = [{"op": "add", "path": "/extension", "value": [{"url": "urn:x", "valueString": "x" * 100}]}]
    assert _json_patch(limited, patient, small).status_code == 200


def test_fhirpath_patch_obeys_the_same_limits(limited: TestClient) -> None:
    patient = _patient(limited)
    issue = _issue(_fhirpath_patch(limited, patient, [_add_extension("x")] * 4), 413)
    assert issue["code"] == "too-costly" and issue["expression"] == ["Parameters.parameter"]
    issue = _issue(_fhirpath_patch(limited, patient, [_add_extension("x" * 1500)] * 3), 422)
    assert issue["code"] == "too-costly" and issue["expression"] == ["Parameters.parameter[2]"]
    _unchanged(limited, patient)


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_patch_entries_of_bundles_obey_the_limits(client: TestClient, make_patient: MakePatient, kind: str) -> None:
    patient = make_patient()
    data = base64.b64encode(orjson.dumps(doubling_attack())).decode()
    entry = {
        "resource": {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data},
        "request": {"method": "PATCH", "url": f"Patient/{patient['id']}"},
    }
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": kind, "entry": [entry]})
    if kind == "transaction":
        issue = _issue(response, 422)
    else:
        assert response.status_code == 200, response.text
        [answer] = response.json()["entry"]
        assert answer["response"]["status"].startswith("422")
        issue = answer["response"]["outcome"]["issue"][0]
    assert issue["code"] == "too-costly" and "FHIR_SERVER_PATCH_MAX_RESOURCE_BYTES" in issue["diagnostics"]
    _unchanged(client, patient)


def test_a_patch_is_computed_before_the_row_lock_is_asked_for(
    client: TestClient, make_patient: MakePatient, database_url: str
) -> None:
    """While another transaction holds the patient's row lock (for 10 s), a patch that cannot apply is answered
    before that lock is released: it was computed on a read session (it used to wait for the row lock first).

    PostgreSQL only: SQLite's one write lock is also what the request's audit record waits for, so there the
    answer cannot arrive before the lock is released either way."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs row locks (PostgreSQL)")
    patient = make_patient()
    released = threading.Event()
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as holder:
        # NO KEY UPDATE: it conflicts with the FOR UPDATE of a write, not with the audit record's foreign key check
        holder.execute("SELECT 1 FROM patients WHERE fhir_id = %s FOR NO KEY UPDATE", (patient["id"],))

        def release() -> None:
            holder.rollback()
            released.set()

        timer = threading.Timer(10, release)
        timer.start()
        try:
            response = _json_patch(client, patient, [{"op": "test", "path": "/id", "value": "someone else"}])
            answered_while_locked = not released.is_set()
        finally:
            timer.cancel()  # the lock ends with the connection
            timer.join()
    assert _issue(response, 422)["diagnostics"].startswith("operation[0]: test failed")
    assert answered_while_locked


def test_a_patch_computed_on_a_version_that_has_since_moved_is_not_stored(
    client: TestClient, make_patient: MakePatient
) -> None:
    """The two steps of the patch interaction run by hand around a concurrent update: the computed patch is not
    written over the newer version (the route then computes it again); with If-Match the answer is 412."""
    patient = make_patient()
    database = client.app.state.context.database  # type: ignore[attr-defined]
    change = patching.Patch.of(JSON_PATCH["Content-Type"], [{"op": "add", "path": "/gender", "value": "female"}])
    with database.read() as session:
        prepared = patching.prepare(session, OPEN, "Patient", patient["id"], change, None)
    updated = client.put(f"/fhir/Patient/{patient['id']}", json={**patient, "birthDate": "1990-01-01"})
    assert updated.status_code == 200, updated.text
    with pytest.raises(patching.VersionMovedError), database.write() as session:
        patching.store(session, OPEN, "Patient", patient["id"], prepared, None, None)
    with pytest.raises(FhirError) as caught, database.write() as session:
        patching.store(session, OPEN, "Patient", patient["id"], prepared, "1", None)
    assert caught.value.status == 412
    current = client.get(f"/fhir/Patient/{patient['id']}").json()
    assert current["meta"]["versionId"] == "2" and current["birthDate"] == "1990-01-01" and "gender" not in current
