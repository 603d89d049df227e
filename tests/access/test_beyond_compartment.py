"""What a patient's token reads beyond the patient's compartment: the types that hold no patient's data
(Practitioner, Organization, ...) within its clinic, by every read route (read, vread, history, search, includes,
chains, ``_has``, ``$everything``), while every route aimed at another patient's data stays closed and includes say
in an OperationOutcome entry what they leave out for want of scope.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.access.compartment import compartment_params
from fhir_server.access.patient_data import holds_no_patient_data, types_without_patient_data
from fhir_server.db.engine import Database
from tests.access.records import add_far_practitioner, appointment
from tests.auth.conftest import BASE, Clinic, token_for


def _bearer(
    database: Database, clinic: Clinic, scope: str, patient: str | None = "pat-1", email: str | None = None
) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(database, clinic, scope, email=email, patient=patient)}"}


def _get(client: TestClient, headers: dict[str, str], path: str) -> Any:
    response = client.get(f"{BASE}/{path}", headers=headers)
    assert response.status_code == 200, f"{path}: {response.text}"
    return response.json()


def _ids(bundle: dict[str, Any], mode: str = "match", resource_type: str | None = None) -> set[str]:
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == mode and resource_type in (None, e["resource"]["resourceType"])
    }


def _outcome_issues(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    outcomes = [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "outcome"]
    return [issue for outcome in outcomes for issue in outcome["issue"]]


@pytest.fixture
def record(client: TestClient, database: Database, clinic: Clinic) -> dict[str, str]:
    """Both patients of the clinic have Practitioner/doc-1 as their general practitioner; another clinic has its own
    practitioner; each patient has an appointment with doc-1. The ids of the appointments."""
    admin = _bearer(database, clinic, "user/*.cruds", patient=None, email=clinic.admin_email)
    for patient in ("pat-1", "pat-2"):
        current = _get(client, admin, f"Patient/{patient}")
        changed = {**current, "generalPractitioner": [{"reference": "Practitioner/doc-1"}]}
        assert client.put(f"{BASE}/Patient/{patient}", json=changed, headers=admin).status_code == 200
    add_far_practitioner(database)
    ids = {}
    for patient in ("pat-1", "pat-2"):
        created = client.post(f"{BASE}/Appointment", json=appointment(patient), headers=admin)
        assert created.status_code == 201, created.text
        ids[patient] = created.json()["id"]
    return ids


@pytest.mark.parametrize("scope", ["patient/Practitioner.rs", "patient/Practitioner.read", "patient/*.read"])
def test_a_patient_token_reads_its_doctor_but_not_another_clinics(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str], scope: str
) -> None:
    headers = _bearer(database, clinic, scope)
    assert _get(client, headers, "Practitioner/doc-1")["name"][0]["family"] == "Doc"
    assert _get(client, headers, "Practitioner/doc-1/_history/1")["id"] == "doc-1"
    history = _get(client, headers, "Practitioner/doc-1/_history")
    assert {e["resource"]["id"] for e in history["entry"]} == {"doc-1"}
    assert _ids(_get(client, headers, "Practitioner")) == {"doc-1"}
    type_history = _get(client, headers, "Practitioner/_history")
    assert {e["resource"]["id"] for e in type_history["entry"]} == {"doc-1"}
    for path in ("Practitioner/far-doc", "Practitioner/far-doc/_history/1", "Practitioner/far-doc/_history"):
        response = client.get(f"{BASE}/{path}", headers=headers)
        assert response.status_code == 404, path
        assert response.json()["issue"][0]["code"] == "not-found"
    assert _ids(_get(client, headers, "Practitioner?family=Doc")) == {"doc-1"}


def test_a_granular_patient_scope_still_restricts_the_types_beyond_the_compartment(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    admin = _bearer(database, clinic, "user/*.cruds", patient=None, email=clinic.admin_email)
    doc = _get(client, admin, "Practitioner/doc-1")
    assert client.put(f"{BASE}/Practitioner/doc-1", json={**doc, "gender": "female"}, headers=admin).status_code == 200
    female = _bearer(database, clinic, "patient/Practitioner.rs?gender=female")
    assert _ids(_get(client, female, "Practitioner")) == {"doc-1"}
    male = _bearer(database, clinic, "patient/Practitioner.rs?gender=male")
    assert _ids(_get(client, male, "Practitioner")) == set()
    assert client.get(f"{BASE}/Practitioner/doc-1", headers=male).status_code == 404


def test_the_general_practitioner_is_included_chained_and_reached_by_has(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    headers = _bearer(database, clinic, "patient/Patient.rs patient/Practitioner.rs")
    bundle = _get(client, headers, "Patient?_include=Patient:general-practitioner")
    assert _ids(bundle) == {"pat-1"}
    assert _ids(bundle, "include") == {"doc-1"}
    assert _outcome_issues(bundle) == []
    assert _ids(_get(client, headers, "Patient?general-practitioner.family=Doc")) == {"pat-1"}
    assert _ids(_get(client, headers, "Practitioner?_has:Patient:general-practitioner:_id=pat-1")) == {"doc-1"}
    assert _ids(_get(client, headers, "Practitioner?_has:Patient:general-practitioner:_id=pat-2")) == set()
    reverse = _get(client, headers, "Practitioner?_revinclude=Patient:general-practitioner")
    assert _ids(reverse) == {"doc-1"}
    assert _ids(reverse, "include") == {"pat-1"}  # pat-2 names doc-1 too, and stays unseen


def test_a_patient_token_reaches_no_route_aimed_at_another_patient(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    headers = _bearer(database, clinic, "patient/*.rs")
    other = record["pat-2"]
    hidden = [
        "Patient/pat-2",
        "Patient/pat-2/_history/1",
        "Patient/pat-2/_history",
        "Patient/pat-2/$everything",
        "Patient/pat-2/Appointment",
        f"Appointment/{other}",
        f"Appointment/{other}/_history/1",
        f"Appointment/{other}/_history",
    ]
    for path in hidden:
        response = client.get(f"{BASE}/{path}", headers=headers)
        assert response.status_code == 404, path
    searches = [
        "Patient?_id=pat-2",
        "Appointment?patient=pat-2",
        "Appointment?actor=Patient/pat-2",
        "Appointment?patient.family=Er",
        f"Appointment?_id={other}",
        "Practitioner?_has:Appointment:practitioner:patient=pat-2",
        "Practitioner?_has:Patient:general-practitioner:family=Er",
        "Patient?_has:Appointment:patient:_id=" + other,
    ]
    for query in searches:
        assert _get(client, headers, query).get("entry", []) == [], query
    reverse = _get(client, headers, "Practitioner?_revinclude=Appointment:practitioner")
    assert _ids(reverse, "include") == {record["pat-1"]}
    reverse = _get(client, headers, "Practitioner?_revinclude=Patient:general-practitioner")
    assert _ids(reverse, "include") == {"pat-1"}
    system = _get(client, headers, "_history")
    seen = {tuple(e["fullUrl"].rsplit("/", 2)[1:]) for e in system["entry"]}
    assert ("Patient", "pat-2") not in seen and ("Appointment", other) not in seen
    assert {("Patient", "pat-1"), ("Practitioner", "doc-1"), ("Appointment", record["pat-1"])} <= seen


def test_patient_scopes_still_write_nothing_beyond_the_compartment(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    headers = _bearer(database, clinic, "patient/Practitioner.cruds")
    doc = _get(client, headers, "Practitioner/doc-1")
    for response in (
        client.put(f"{BASE}/Practitioner/doc-1", json={**doc, "gender": "female"}, headers=headers),
        client.delete(f"{BASE}/Practitioner/doc-1", headers=headers),
    ):
        assert response.status_code == 403, response.text  # readable now, so refusing reveals nothing
        assert response.json()["issue"][0]["code"] == "forbidden"
    created = client.post(f"{BASE}/Practitioner", json={"resourceType": "Practitioner"}, headers=headers)
    assert created.status_code == 403, created.text  # as before: a patient scope creates only in the compartment
    assert created.json()["issue"][0]["code"] == "forbidden"
    assert _get(client, headers, "Practitioner/doc-1")["meta"]["versionId"] == "1"
    assert _ids(_get(client, headers, "Practitioner")) == {"doc-1"}


def test_a_portal_user_with_user_scopes_reads_the_directory_of_their_clinic(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    headers = _bearer(database, clinic, "user/*.rs", patient=None, email=clinic.patient_email)
    assert _ids(_get(client, headers, "Practitioner")) == {"doc-1"}
    assert _ids(_get(client, headers, "Organization")) == {"test-clinic"}
    assert _ids(_get(client, headers, "Patient")) == {"pat-1"}
    assert _ids(_get(client, headers, "Appointment")) == {record["pat-1"]}
    assert client.get(f"{BASE}/Practitioner/far-doc", headers=headers).status_code == 404


def test_user_scopes_read_the_directory_of_their_clinic_only(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    headers = _bearer(database, clinic, "user/Practitioner.rs", patient=None)
    assert _ids(_get(client, headers, "Practitioner")) == {"doc-1"}
    assert client.get(f"{BASE}/Practitioner/far-doc", headers=headers).status_code == 404


def test_an_include_the_token_may_not_read_is_said_in_an_outcome_entry(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    headers = _bearer(database, clinic, "patient/Patient.rs")
    bundle = _get(client, headers, "Patient?_include=Patient:general-practitioner&_revinclude=Appointment:patient")
    assert _ids(bundle) == {"pat-1"}
    assert _ids(bundle, "include") == set()
    issues = _outcome_issues(bundle)
    assert [i["code"] for i in issues] == ["suppressed", "suppressed"]
    forward, reverse = (i["diagnostics"] for i in issues)
    assert forward.startswith("_include=Patient:general-practitioner: Practitioner resources")
    assert "does not permit searching Practitioner" in forward
    assert reverse.startswith("_revinclude=Appointment:patient: Appointment resources")
    outcome = str([e for e in bundle["entry"] if e["search"]["mode"] == "outcome"])
    assert "doc-1" not in outcome and record["pat-1"] not in outcome
    assert _outcome_issues(_get(client, headers, "Patient")) == []


def test_an_include_target_beyond_reach_is_counted_never_named(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    admin = _bearer(database, clinic, "user/*.cruds", patient=None)
    current = _get(client, admin, "Patient/pat-1")
    linked = {**current, "link": [{"other": {"reference": "Patient/pat-2"}, "type": "seealso"}]}
    assert client.put(f"{BASE}/Patient/pat-1", json=linked, headers=admin).status_code == 200
    query = "Patient?_id=pat-1&_include=Patient:link&_include=Patient:general-practitioner"
    bundle = _get(client, _bearer(database, clinic, "patient/*.rs"), query)
    assert _ids(bundle, "include") == {"doc-1"}
    issues = _outcome_issues(bundle)
    assert len(issues) == 1 and issues[0]["code"] == "suppressed"
    assert issues[0]["diagnostics"].startswith("_include=Patient:link: 1 referenced resource is not included")
    assert "pat-2" not in str(issues)
    open_bundle = _get(client, admin, query)
    assert _ids(open_bundle, "include") == {"doc-1", "pat-2"}
    assert _outcome_issues(open_bundle) == []


def test_everything_brings_the_doctor_or_says_it_left_them_out(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    with_directory = _bearer(database, clinic, "patient/Patient.rs patient/Appointment.rs patient/Practitioner.rs")
    bundle = _get(client, with_directory, "Patient/pat-1/$everything")
    assert _ids(bundle) == {"pat-1", record["pat-1"]}
    assert _ids(bundle, "include", "Practitioner") == {"doc-1"}
    issues = _outcome_issues(bundle)  # the Patient's managingOrganization: no Organization scope
    assert [i["diagnostics"].split(" ", 1)[0] for i in issues] == ["Organization"]
    everything = _bearer(database, clinic, "patient/*.rs")
    bundle = _get(client, everything, "Patient/pat-1/$everything")
    assert _ids(bundle, "include") == {"doc-1", "test-clinic"}
    assert _outcome_issues(bundle) == []
    without = _bearer(database, clinic, "patient/Patient.rs patient/Appointment.rs patient/Organization.rs")
    bundle = _get(client, without, "Patient/pat-1/$everything")
    assert _ids(bundle, "include") == {"test-clinic"}
    issues = _outcome_issues(bundle)
    assert [i["code"] for i in issues] == ["suppressed"]
    assert issues[0]["diagnostics"].startswith("Practitioner resources referenced by the results are not included")
    assert "expression" not in issues[0]


def _observation(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "performer": [{"reference": "Practitioner/doc-1"}],
    }


def test_stored_types_follow_the_same_rules(
    client: TestClient, database: Database, clinic: Clinic, record: dict[str, str]
) -> None:
    admin = _bearer(database, clinic, "user/*.cruds", patient=None, email=clinic.admin_email)

    def post(resource: dict[str, Any]) -> str:
        created = client.post(f"{BASE}/{resource['resourceType']}", json=resource, headers=admin)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    medication = post({"resourceType": "Medication", "code": {"text": "Aspirin 100 mg"}})
    own, other = post(_observation("pat-1")), post(_observation("pat-2"))
    binary = post({"resourceType": "Binary", "contentType": "text/plain", "data": "aGVsbG8="})
    prescription = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/pat-1"},
        "medicationReference": {"reference": f"Medication/{medication}"},
    }
    post(prescription)
    headers = _bearer(database, clinic, "patient/*.rs")
    assert _get(client, headers, f"Medication/{medication}")["code"]["text"] == "Aspirin 100 mg"
    assert _ids(_get(client, headers, "Observation")) == {own}
    bundle = _get(client, headers, "MedicationRequest?_include=MedicationRequest:medication")
    assert _ids(bundle, "include") == {medication}
    bundle = _get(client, headers, "Practitioner?_revinclude=Observation:performer")
    assert _ids(bundle, "include") == {own}
    for path in (f"Observation/{other}", f"Binary/{binary}"):  # Binary may hold anyone's data: not for patient/
        assert client.get(f"{BASE}/{path}", headers=headers).status_code == 404, path
    assert _ids(_get(client, headers, "Binary")) == set()
    assert _ids(_get(client, admin, "Binary")) == {binary}


@pytest.mark.parametrize(
    "resource_type",
    ["Practitioner", "PractitionerRole", "Organization", "Location", "Medication", "Endpoint", "Questionnaire"],
)
def test_directory_types_hold_no_patient_data(resource_type: str) -> None:
    assert holds_no_patient_data(resource_type)


@pytest.mark.parametrize(
    "resource_type",
    ["Patient", "Observation", "Encounter", "Binary", "Bundle", "Parameters", "Subscription", "Device", "Unknown"],
)
def test_compartment_types_and_the_deny_list_may_hold_patient_data(resource_type: str) -> None:
    assert not holds_no_patient_data(resource_type)


def test_types_without_patient_data_come_from_the_definition_without_parameters() -> None:
    params = compartment_params()
    assert all(t in params and not params[t] for t in types_without_patient_data())
    assert "ValueSet" in types_without_patient_data()
