"""Scopes and launch context enforced on every FHIR interaction
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): ``r`` read/vread/instance history, ``s``
search and type/system history, ``c`` create, ``u`` update/patch, ``d`` delete; ``patient/`` scopes confine to the
patient's compartment (404 for reads and writes beyond it, as for an unknown id; 403 naming the element for a write
that would reference another patient); a forbidden type answers 403, never an empty Bundle.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fhir_server.db.engine import Database
from tests.access.records import appointment as _appointment
from tests.auth.conftest import BASE, Clinic, token_for


def _headers(database: Database, clinic: Clinic, scope: str, patient: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(database, clinic, scope, patient=patient)}"}


def _forbidden(response: Any, expression: str) -> None:
    assert response.status_code == 403, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "forbidden"
    assert issue["expression"] == [expression]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def _admin_headers(database: Database, clinic: Clinic) -> dict[str, str]:
    return _headers(database, clinic, "user/*.cruds")


def test_no_token_answers_401_with_a_bearer_challenge(client: TestClient, clinic: Clinic) -> None:
    response = client.get(f"{BASE}/Patient/pat-1")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer realm=")
    assert response.json()["resourceType"] == "OperationOutcome"


def test_read_needs_r_and_search_needs_s(client: TestClient, database: Database, clinic: Clinic) -> None:
    read_only = _headers(database, clinic, "user/Patient.r")
    assert client.get(f"{BASE}/Patient/pat-1", headers=read_only).status_code == 200
    _forbidden(client.get(f"{BASE}/Patient", headers=read_only), "Patient")
    _forbidden(client.get(f"{BASE}/Patient/_history", headers=read_only), "Patient")
    search_only = _headers(database, clinic, "user/Patient.s")
    _forbidden(client.get(f"{BASE}/Patient/pat-1", headers=search_only), "Patient")
    _forbidden(client.get(f"{BASE}/Patient/pat-1/_history/1", headers=search_only), "Patient")
    _forbidden(client.get(f"{BASE}/Patient/pat-1/_history", headers=search_only), "Patient")
    assert client.get(f"{BASE}/Patient", headers=search_only).status_code == 200


def test_writes_need_c_u_and_d(client: TestClient, database: Database, clinic: Clinic) -> None:
    headers = _headers(database, clinic, "user/Patient.rs")
    current = client.get(f"{BASE}/Patient/pat-2", headers=headers).json()
    _forbidden(client.put(f"{BASE}/Patient/pat-2", json={**current, "gender": "male"}, headers=headers), "Patient")
    _forbidden(client.post(f"{BASE}/Patient", json={"resourceType": "Patient"}, headers=headers), "Patient")
    _forbidden(client.delete(f"{BASE}/Patient/pat-2", headers=headers), "Patient")
    _forbidden(client.delete(f"{BASE}/Patient?identifier=x", headers=headers), "Patient")
    patch = [{"op": "replace", "path": "/gender", "value": "male"}]
    response = client.patch(
        f"{BASE}/Patient/pat-2", json=patch, headers={**headers, "Content-Type": "application/json-patch+json"}
    )
    _forbidden(response, "Patient")
    _forbidden(client.post(f"{BASE}/Patient/$validate", json=current, headers=headers), "Patient")
    assert client.get(f"{BASE}/Patient/pat-2", headers=headers).json()["meta"]["versionId"] == "1"


def test_patient_scopes_hide_other_patients_as_unknown(client: TestClient, database: Database, clinic: Clinic) -> None:
    headers = _headers(database, clinic, "patient/*.rs", patient="pat-1")
    assert client.get(f"{BASE}/Patient/pat-1", headers=headers).status_code == 200
    for path in ("Patient/pat-2", "Patient/pat-2/_history/1", "Patient/pat-2/_history", "Patient/pat-2/$everything"):
        response = client.get(f"{BASE}/{path}", headers=headers)
        assert response.status_code == 404, path
        assert response.json()["issue"][0]["code"] == "not-found"
    response = client.get(f"{BASE}/Patient/pat-2/Appointment", headers=headers)
    assert response.status_code == 404
    history = client.get(f"{BASE}/Patient/_history", headers=headers).json()
    assert {e["resource"]["id"] for e in history["entry"]} == {"pat-1"}
    system = client.get(f"{BASE}/_history", headers=headers).json()
    seen = {tuple(e["fullUrl"].rsplit("/", 2)[1:]) for e in system["entry"]}
    # beyond the compartment only types holding no patient data, within the clinic (issue 14)
    assert seen == {("Patient", "pat-1"), ("Practitioner", "doc-1"), ("Organization", "test-clinic")}


def test_patient_scopes_confine_writes_to_the_compartment(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = _headers(database, clinic, "patient/Appointment.cruds patient/Patient.rs", patient="pat-1")
    own = client.post(f"{BASE}/Appointment", json=_appointment("pat-1"), headers=headers)
    assert own.status_code == 201, own.text
    actor = "Appointment.participant[0].actor"
    _forbidden(client.post(f"{BASE}/Appointment", json=_appointment("pat-2"), headers=headers), actor)
    moved = {**own.json(), **_appointment("pat-2")}
    _forbidden(client.put(f"{BASE}/Appointment/{own.json()['id']}", json=moved, headers=headers), actor)
    other = client.post(f"{BASE}/Appointment", json=_appointment("pat-2"), headers=_admin_headers(database, clinic))
    hidden = client.delete(f"{BASE}/Appointment/{other.json()['id']}", headers=headers)
    assert hidden.status_code == 404, hidden.text  # as for an unknown id: its existence does not leak
    search = client.get(f"{BASE}/Appointment", headers=headers).json()
    assert [e["resource"]["id"] for e in search["entry"]] == [own.json()["id"]]
    everything = client.get(f"{BASE}/Patient/pat-1/$everything", headers=headers).json()
    assert {e["resource"]["id"] for e in everything["entry"] if e["search"]["mode"] == "match"} == {
        "pat-1",
        own.json()["id"],
    }


def test_includes_stay_inside_the_patient_compartment(client: TestClient, database: Database, clinic: Clinic) -> None:
    admin = _admin_headers(database, clinic)
    client.post(f"{BASE}/Appointment", json=_appointment("pat-1"), headers=admin)
    client.post(f"{BASE}/Appointment", json=_appointment("pat-2"), headers=admin)
    headers = _headers(database, clinic, "patient/Appointment.rs patient/Patient.rs", patient="pat-1")
    bundle = client.get(f"{BASE}/Appointment?_include=Appointment:patient", headers=headers).json()
    assert {e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"} == {"pat-1"}
    bundle = client.get(f"{BASE}/Patient?_revinclude=Appointment:patient", headers=headers).json()
    assert {e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"} == {"pat-1"}
    assert len([e for e in bundle["entry"] if e["resource"]["resourceType"] == "Appointment"]) == 1
    chained = client.get(f"{BASE}/Appointment?patient.family=Er", headers=headers).json()
    assert chained.get("entry", []) == []
    has = client.get(f"{BASE}/Patient?_has:Appointment:patient:status=booked", headers=headers).json()
    assert [e["resource"]["id"] for e in has["entry"]] == ["pat-1"]


def test_a_granular_scope_hides_non_matching_reads(client: TestClient, database: Database, clinic: Clinic) -> None:
    admin = _admin_headers(database, clinic)
    current = client.get(f"{BASE}/Patient/pat-2", headers=admin).json()
    assert client.put(f"{BASE}/Patient/pat-2", json={**current, "gender": "female"}, headers=admin).status_code == 200
    headers = _headers(database, clinic, "user/Patient.rs?gender=female")
    assert client.get(f"{BASE}/Patient/pat-2", headers=headers).status_code == 200
    assert client.get(f"{BASE}/Patient/pat-1", headers=headers).status_code == 404


def test_a_transaction_with_one_forbidden_entry_changes_nothing(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = _headers(database, clinic, "user/Appointment.cruds user/Patient.rs")
    entries = [
        {"resource": _appointment("pat-1"), "request": {"method": "POST", "url": "Appointment"}},
        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
    ]
    body = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = client.post(BASE, json=body, headers=headers)
    assert response.status_code == 403, response.text
    assert response.json()["issue"][0]["code"] == "forbidden"
    assert client.get(f"{BASE}/Appointment", headers=headers).json().get("entry", []) == []
    batch = client.post(BASE, json={**body, "type": "batch"}, headers=headers).json()
    statuses = [e["response"]["status"] for e in batch["entry"]]
    assert statuses[0].startswith("201") and statuses[1].startswith("403")
    assert batch["entry"][1]["response"]["outcome"]["issue"][0]["code"] == "forbidden"


def test_user_scopes_reach_the_own_clinic_organization_but_not_another(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    from fhir_server.db import Organization

    with database.write() as session:
        session.add(Organization(name="Elsewhere Clinic", fhir_id="elsewhere"))
    headers = _headers(database, clinic, "user/Organization.rs")
    assert client.get(f"{BASE}/Organization/test-clinic", headers=headers).status_code == 200
    assert client.get(f"{BASE}/Organization/elsewhere", headers=headers).status_code == 404
    found = client.get(f"{BASE}/Organization", headers=headers).json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["test-clinic"]
