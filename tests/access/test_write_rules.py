"""What a write may say and touch under a token (issue 12, items 6, 7, 8 and 13): a write in a patient context
references only the caller's patient and patient data the caller may read; the server's MRN is read-only; shared
rows are read-only to a clinic's token; a write of a resource beyond the caller's reach answers as for an unknown id.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.access.compartment import compartment_params, member_types
from fhir_server.access.roles import role_allows
from fhir_server.db import Patient, Questionnaire
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
from mappings.patient import MRN_SYSTEM
from mappings.questionnaire import QuestionnaireMapping
from mappings.questionnaire_response import APPOINTMENT_EXTENSION
from mappings.registry import MAPPED
from tests.access.records import add_far_patient
from tests.access.records import appointment as _appointment
from tests.auth.conftest import BASE, Browser, Clinic, exchange, token_for

JSON_PATCH = {"Content-Type": "application/json-patch+json"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
MRN_EXPRESSION = f"Patient.identifier.where(system='{MRN_SYSTEM}').value"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _admin(database: Database, clinic: Clinic) -> dict[str, str]:
    return _bearer(token_for(database, clinic, "user/*.cruds", email=clinic.admin_email))


PATIENT_TOKENS: dict[str, Callable[[Database, Clinic], str]] = {
    "patient scopes": lambda db, clinic: token_for(db, clinic, "patient/*.cruds", patient=clinic.patient_id),
    "user scopes of a patient-role user": lambda db, clinic: token_for(
        db, clinic, "user/*.cruds", email=clinic.patient_email
    ),
}


# --- resources of each served type that has a patient reference ------------------------------------------------


CHECK_IN = "http://example.org/fhir/Questionnaire/check-in"


@pytest.fixture(autouse=True)
def check_in_questionnaire(database: Database) -> None:
    """The Questionnaire the forms answer, shared by every clinic (a response to an unknown one is refused)."""
    _add_shared_questionnaire(database, "check-in", CHECK_IN)


def _form(subject: str, author: str, appointment: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": CHECK_IN,
        "status": "in-progress",
        "subject": {"reference": f"Patient/{subject}"},
        "author": {"reference": f"Patient/{author}"},
    }
    if appointment is not None:
        extension = {"url": APPOINTMENT_EXTENSION, "valueReference": {"reference": f"Appointment/{appointment}"}}
        resource["extension"] = [extension]
    return resource


def _study(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "ImagingStudy",
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.826.0.1.3680043.8.498.1"}],
        "status": "available",
        "subject": {"reference": f"Patient/{patient}"},
    }


def _linked_patient(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": "Ient", "given": ["Pat"]}],
        "link": [{"other": {"reference": f"Patient/{patient}"}, "type": "seealso"}],
    }


def _observation(patient: str) -> dict[str, Any]:
    code = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": code,
        "subject": {"reference": f"Patient/{patient}"},
    }


def _allergy(patient: str) -> dict[str, Any]:
    """An active allergy: R4's ait-1 wants a clinicalStatus unless the record was entered in error."""
    active = {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]
    }
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": active,
        "patient": {"reference": f"Patient/{patient}"},
    }


SAMPLES: dict[str, tuple[Callable[[str], dict[str, Any]], str]] = {
    "Appointment": (_appointment, "/participant/0/actor/reference"),
    "ImagingStudy": (_study, "/subject/reference"),
    "Patient": (_linked_patient, "/link/0/other/reference"),
    "QuestionnaireResponse": (lambda patient: _form(patient, "pat-1"), "/subject/reference"),
    "Observation": (_observation, "/subject/reference"),
    "AllergyIntolerance": (_allergy, "/patient/reference"),
}
"""type -> (a resource referencing the given patient, the JSON pointer of that reference): every mapped type that
can be in a patient's compartment, and two of the resource store's (the rule is the same for each stored type)."""


def test_every_mapped_type_with_a_patient_reference_has_a_sample() -> None:
    assert {t for t in member_types() if t in MAPPED} <= set(SAMPLES) <= set(member_types())


def _own(client: TestClient, admin: dict[str, str], resource_type: str) -> dict[str, Any]:
    """A resource of the caller's own patient (their Patient record itself, for Patient), as stored; made by the
    clinic's admin, since a portal patient's role may not create it."""
    if resource_type == "Patient":
        own = client.get(f"{BASE}/Patient/pat-1", headers=admin)
    else:
        own = client.post(f"{BASE}/{resource_type}", json=SAMPLES[resource_type][0]("pat-1"), headers=admin)
    assert own.status_code == (200 if resource_type == "Patient" else 201), own.text
    return dict(own.json())


def _aimed_at_other(
    client: TestClient, headers: dict[str, str], admin: dict[str, str], resource_type: str, interaction: str
) -> Any:
    """The ``interaction`` of a patient-context caller that would tie a resource to pat-2."""
    build, pointer = SAMPLES[resource_type]
    if interaction == "create":
        return client.post(f"{BASE}/{resource_type}", json=build("pat-2"), headers=headers)
    if interaction == "transaction":
        entry = {"resource": build("pat-2"), "request": {"method": "POST", "url": resource_type}}
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
        return client.post(BASE, json=bundle, headers=headers)
    own = _own(client, admin, resource_type)
    url = f"{BASE}/{resource_type}/{own['id']}"
    if interaction == "patch":
        operations = [{"op": "add" if resource_type == "Patient" else "replace", "path": pointer, "value": ""}]
        if resource_type == "Patient":
            operations = [{"op": "add", "path": "/link", "value": build("pat-2")["link"]}]
        else:
            operations[0]["value"] = "Patient/pat-2"
        return client.patch(url, json=operations, headers={**headers, **JSON_PATCH})
    if interaction == "merge patch":  # the top-level element holding the reference, as fhirpy's patch() sends it
        element = pointer.split("/")[1]
        return client.patch(url, json={element: build("pat-2")[element]}, headers={**headers, **MERGE_PATCH})
    changed = {**copy.deepcopy(own), **{k: v for k, v in build("pat-2").items() if k != "resourceType"}}
    if interaction == "conditional update":
        return client.put(f"{BASE}/{resource_type}?_id={own['id']}", json=changed, headers=headers)
    return client.put(url, json=changed, headers=headers)


def _role_refuses_the_type(token_kind: str, resource_type: str, interaction: str) -> bool:
    """True when a portal patient's role never allows ``interaction`` on ``resource_type`` (fhir_server.access.roles),
    so the write is refused at the type, whatever it references."""
    letter = "c" if interaction in ("create", "transaction") else "u"
    return token_kind == "user scopes of a patient-role user" and not role_allows("patient", resource_type, letter)


@pytest.mark.parametrize("token_kind", sorted(PATIENT_TOKENS))
@pytest.mark.parametrize(
    "interaction", ["create", "update", "conditional update", "patch", "merge patch", "transaction"]
)
@pytest.mark.parametrize("resource_type", sorted(SAMPLES))
def test_a_patient_context_write_aimed_at_another_patient_is_refused_and_writes_nothing(
    client: TestClient, database: Database, clinic: Clinic, resource_type: str, interaction: str, token_kind: str
) -> None:
    headers = _bearer(PATIENT_TOKENS[token_kind](database, clinic))
    response = _aimed_at_other(client, headers, _admin(database, clinic), resource_type, interaction)
    assert response.status_code == 403, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "forbidden"
    if _role_refuses_the_type(token_kind, resource_type, interaction):
        # refused before the resource is even read (in a transaction, named where it sits in the Bundle)
        expected = "Bundle.entry[0].resource" if interaction == "transaction" else resource_type
        assert issue["expression"] == [expected], issue
    else:
        assert issue["expression"][0].startswith((f"{resource_type}.", "Bundle.entry[0]")), issue
    param = compartment_params()[resource_type][0]
    found = client.get(f"{BASE}/{resource_type}?{param}=Patient/pat-2", headers=_admin(database, clinic)).json()
    assert found["total"] == 0  # nothing of the attempt was written


def test_a_form_about_another_patient_authored_by_the_caller_is_refused(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    """The issue's case, with a token obtained through the real authorization code flow."""
    browser = Browser(client)
    code, verifier, _ = browser.code_for(
        clinic.public_client, "launch/patient openid fhirUser patient/*.cruds", "pat@example.org"
    )
    token = exchange(client, code, verifier, clinic.public_client).json()["access_token"]
    others = client.post(f"{BASE}/Appointment", json=_appointment("pat-2"), headers=_admin(database, clinic)).json()
    response = client.post(
        f"{BASE}/QuestionnaireResponse", json=_form("pat-2", "pat-1", others["id"]), headers=_bearer(token)
    )
    assert response.status_code == 403, response.text
    assert response.json()["issue"][0]["expression"] == ["QuestionnaireResponse.subject"]
    after = client.get(f"{BASE}/Appointment/{others['id']}", headers=_admin(database, clinic)).json()
    assert after["meta"]["versionId"] == others["meta"]["versionId"]  # not linked to the form


def test_linking_another_patients_appointment_answers_as_an_unknown_one(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = _bearer(PATIENT_TOKENS["patient scopes"](database, clinic))
    others = client.post(f"{BASE}/Appointment", json=_appointment("pat-2"), headers=_admin(database, clinic)).json()
    hidden = client.post(f"{BASE}/QuestionnaireResponse", json=_form("pat-1", "pat-1", others["id"]), headers=headers)
    unknown = client.post(f"{BASE}/QuestionnaireResponse", json=_form("pat-1", "pat-1", "no-such"), headers=headers)
    assert hidden.status_code == unknown.status_code == 422, hidden.text
    assert hidden.json()["issue"][0]["code"] == "not-found"
    assert hidden.text.replace(others["id"], "X") == unknown.text.replace("no-such", "X")
    own = client.post(f"{BASE}/Appointment", json=_appointment("pat-1"), headers=headers).json()
    linked = client.post(f"{BASE}/QuestionnaireResponse", json=_form("pat-1", "pat-1", own["id"]), headers=headers)
    assert linked.status_code == 201, linked.text
    after = client.get(f"{BASE}/Appointment/{others['id']}", headers=_admin(database, clinic)).json()
    assert after["meta"]["versionId"] == others["meta"]["versionId"]


def test_a_clinicians_write_may_still_reference_any_patient_of_the_clinic(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    response = client.post(
        f"{BASE}/QuestionnaireResponse", json=_form("pat-2", "pat-1"), headers=_admin(database, clinic)
    )
    assert response.status_code == 201, response.text


# --- item 7: the MRN is the server's ---------------------------------------------------------------------------


def _mrn(patient: dict[str, Any]) -> str:
    return str(next(i["value"] for i in patient["identifier"] if i.get("system") == MRN_SYSTEM))


def test_a_patient_cannot_take_the_next_mrn_and_block_patient_creation(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = _bearer(PATIENT_TOKENS["patient scopes"](database, clinic))
    own = client.get(f"{BASE}/Patient/pat-1", headers=headers).json()
    next_mrn = f"CLI-{utcnow().year:04d}-00001"
    identifier = [i for i in own.get("identifier", []) if i.get("system") != MRN_SYSTEM]
    taken = {**own, "identifier": [*identifier, {"system": MRN_SYSTEM, "value": next_mrn}]}
    response = client.put(f"{BASE}/Patient/pat-1", json=taken, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["expression"] == [MRN_EXPRESSION]
    assert _mrn(client.get(f"{BASE}/Patient/pat-1", headers=headers).json()) == "M1"
    admin = _admin(database, clinic)
    for _ in range(2):
        created = client.post(
            f"{BASE}/Patient", json={"resourceType": "Patient", "name": [{"family": "New"}]}, headers=admin
        )
        assert created.status_code == 201, created.text


def test_a_patient_may_send_their_mrn_back_unchanged_or_leave_it_out(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = _bearer(PATIENT_TOKENS["patient scopes"](database, clinic))
    own = client.get(f"{BASE}/Patient/pat-1", headers=headers).json()
    assert client.put(f"{BASE}/Patient/pat-1", json={**own, "gender": "other"}, headers=headers).status_code == 200
    others = [i for i in own["identifier"] if i.get("system") != MRN_SYSTEM]
    without = {k: v for k, v in own.items() if k != "identifier"} | ({"identifier": others} if others else {})
    assert client.put(f"{BASE}/Patient/pat-1", json=without, headers=headers).status_code == 200
    assert _mrn(client.get(f"{BASE}/Patient/pat-1", headers=headers).json()) == "M1"


def test_creating_a_patient_with_a_taken_mrn_answers_as_with_a_free_one(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    admin = _admin(database, clinic)
    answers = []
    for value in ("M2", "NOT-HELD-9"):
        sent = {
            "resourceType": "Patient",
            "name": [{"family": "New"}],
            "identifier": [{"system": MRN_SYSTEM, "value": value}],
        }
        response = client.post(f"{BASE}/Patient", json=sent, headers=admin)
        assert response.status_code == 422, response.text
        answers.append(response.json()["issue"])
    assert answers[0] == answers[1]


# --- item 8: shared rows --------------------------------------------------------------------------------------


def _add_shared_questionnaire(database: Database, fhir_id: str, url: str) -> str:
    """A Questionnaire of no clinic (shared by all) at ``url``, written as an operator does; its id."""
    resource = {"resourceType": "Questionnaire", "url": url, "status": "active"}
    with database.write() as session:
        row = Questionnaire(fhir_id=fhir_id, organization_id=None)
        QuestionnaireMapping.apply(row, QuestionnaireMapping.from_fhir(resource), session)
        session.add(row)
    return fhir_id


@pytest.fixture
def shared_questionnaire(database: Database) -> str:
    return _add_shared_questionnaire(database, "shared-form", "http://example.org/fhir/Questionnaire/shared")


def test_a_shared_row_is_read_only_to_a_clinics_token(
    client: TestClient, database: Database, clinic: Clinic, shared_questionnaire: str
) -> None:
    admin = _admin(database, clinic)
    url = f"{BASE}/Questionnaire/{shared_questionnaire}"
    before = client.get(url, headers=admin).json()
    for response in (
        client.put(url, json={**before, "title": "Ours now"}, headers=admin),
        client.patch(url, json=[{"op": "add", "path": "/title", "value": "Ours"}], headers={**admin, **JSON_PATCH}),
        client.delete(url, headers=admin),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["issue"][0]["code"] == "forbidden"
    assert client.get(url, headers=admin).json() == before
    with database.read() as session:
        row = session.query(Questionnaire).filter_by(fhir_id=shared_questionnaire).one()
        assert row.organization_id is None
    own = client.post(
        f"{BASE}/Questionnaire",
        json={**{k: v for k, v in before.items() if k != "id"}, "url": "http://example.org/q/own"},
        headers=admin,
    )
    assert own.status_code == 201, own.text
    assert (
        client.put(
            f"{BASE}/Questionnaire/{own.json()['id']}", json={**own.json(), "title": "T"}, headers=admin
        ).status_code
        == 200
    )


# --- item 13: existence does not leak through writes -----------------------------------------------------------


@pytest.fixture
def far_patient(database: Database) -> str:
    return add_far_patient(database)


def _deleting(resource_id: str) -> dict[str, Any]:
    entry = {"request": {"method": "DELETE", "url": f"Patient/{resource_id}"}}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}


def _patching(url: str) -> dict[str, Any]:
    operation = [{"op": "add", "path": "/gender", "value": "male"}]
    binary = {"resourceType": "Binary", "contentType": "application/json-patch+json"}
    binary["data"] = base64.b64encode(json.dumps(operation).encode()).decode()
    entry = {"resource": binary, "request": {"method": "PATCH", "url": url}}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}


def _same(hidden: Any, unknown: Any, hidden_id: str, unknown_id: str) -> None:
    assert hidden.status_code == unknown.status_code, (hidden.text, unknown.text)
    assert hidden.text.replace(hidden_id, "X") == unknown.text.replace(unknown_id, "X")


def test_writes_answer_alike_for_another_clinics_resource_and_an_unknown_one(
    client: TestClient, database: Database, clinic: Clinic, far_patient: str
) -> None:
    admin = _admin(database, clinic)
    _same(
        client.delete(f"{BASE}/Patient/{far_patient}", headers=admin),
        client.delete(f"{BASE}/Patient/nobody-1", headers=admin),
        far_patient,
        "nobody-1",
    )
    patch = [{"op": "add", "path": "/gender", "value": "male"}]
    _same(
        client.patch(f"{BASE}/Patient/{far_patient}", json=patch, headers={**admin, **JSON_PATCH}),
        client.patch(f"{BASE}/Patient/nobody-1", json=patch, headers={**admin, **JSON_PATCH}),
        far_patient,
        "nobody-1",
    )
    body = {"resourceType": "Patient", "name": [{"family": "New"}], "gender": "male"}
    guarded = {**admin, "If-Match": 'W/"1"'}
    _same(
        client.put(f"{BASE}/Patient/{far_patient}", json={**body, "id": far_patient}, headers=guarded),
        client.put(f"{BASE}/Patient/nobody-1", json={**body, "id": "nobody-1"}, headers=guarded),
        far_patient,
        "nobody-1",
    )
    _same(
        client.delete(f"{BASE}/Patient?_id={far_patient}", headers=admin),
        client.delete(f"{BASE}/Patient?_id=nobody-1", headers=admin),
        far_patient,
        "nobody-1",
    )
    _same(
        client.post(BASE, json=_deleting(far_patient), headers=admin),
        client.post(BASE, json=_deleting("nobody-1"), headers=admin),
        far_patient,
        "nobody-1",
    )
    _same(
        client.post(BASE, json=_patching(f"Patient?_id={far_patient}"), headers=admin),
        client.post(BASE, json=_patching("Patient?_id=nobody-1"), headers=admin),
        far_patient,
        "nobody-1",
    )
    taken = client.put(f"{BASE}/Patient/{far_patient}", json={**body, "id": far_patient}, headers=admin)
    assert taken.status_code == 409, taken.text  # the id is taken: said as for a concurrent create, nothing more
    assert taken.json()["issue"][0]["code"] == "conflict"
    with database.read() as session:
        row = session.query(Patient).filter_by(fhir_id=far_patient).one()
        assert (row.gender, row.deleted_at, row.version_id) == (None, None, 1)


@pytest.mark.parametrize("resource_type", ["Appointment", "Observation", "AllergyIntolerance"])
def test_a_create_naming_another_clinics_patient_answers_as_for_an_unknown_one(
    client: TestClient, database: Database, clinic: Clinic, far_patient: str, resource_type: str
) -> None:
    admin = _admin(database, clinic)
    build = SAMPLES[resource_type][0]
    hidden = client.post(f"{BASE}/{resource_type}", json=build(far_patient), headers=admin)
    unknown = client.post(f"{BASE}/{resource_type}", json=build("nobody-1"), headers=admin)
    assert hidden.status_code == 422, hidden.text
    _same(hidden, unknown, far_patient, "nobody-1")


def test_a_patient_token_cannot_tell_another_patients_appointment_from_an_unknown_one(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = _bearer(PATIENT_TOKENS["patient scopes"](database, clinic))
    others = client.post(f"{BASE}/Appointment", json=_appointment("pat-2"), headers=_admin(database, clinic)).json()
    hidden, unknown = others["id"], "no-such-appointment"
    patch = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    extra: dict[str, Any]
    for method, extra in (
        ("DELETE", {"headers": headers}),
        ("PATCH", {"json": patch, "headers": {**headers, **JSON_PATCH}}),
        ("PATCH", {"json": {"status": "cancelled"}, "headers": {**headers, **MERGE_PATCH}}),
    ):
        answers = [client.request(method, f"{BASE}/Appointment/{rid}", **extra) for rid in (hidden, unknown)]
        _same(answers[0], answers[1], hidden, unknown)
        assert answers[0].status_code == 404
    after = client.get(f"{BASE}/Appointment/{hidden}", headers=_admin(database, clinic)).json()
    assert after["meta"]["versionId"] == others["meta"]["versionId"]


# --- transaction Bundles: creates are staged, recorded together, then each one's reach checked ------------------


def _transaction(*resources: tuple[str | None, dict[str, Any]]) -> dict[str, Any]:
    entries = [
        {
            **({"fullUrl": full_url} if full_url else {}),
            "resource": r,
            "request": {"method": "POST", "url": r["resourceType"]},
        }
        for full_url, r in resources
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_a_transaction_create_beyond_the_callers_reach_fails_whole_naming_its_entry(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = _bearer(token_for(database, clinic, "user/Patient.cruds?gender=female", email=clinic.admin_email))
    within = {"resourceType": "Patient", "gender": "female", "name": [{"family": "Withinreach"}]}
    beyond = {"resourceType": "Patient", "gender": "male", "name": [{"family": "Beyondreach"}]}
    response = client.post(BASE, json=_transaction((None, within), (None, beyond)), headers=headers)
    assert response.status_code == 403, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "forbidden" and issue["diagnostics"].startswith("Bundle.entry[1]"), issue
    found = client.get(f"{BASE}/Patient?family=Withinreach,Beyondreach", headers=_admin(database, clinic)).json()
    assert found["total"] == 0  # the create within reach was rolled back with the other
    alone = client.post(BASE, json=_transaction((None, within)), headers=headers)
    assert alone.status_code == 200, alone.text
    assert alone.json()["entry"][0]["response"]["status"].startswith("201")


def test_a_patients_transaction_may_link_a_form_to_the_appointment_it_creates(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = _bearer(PATIENT_TOKENS["patient scopes"](database, clinic))
    appointment_url = "urn:uuid:5b0b7e4e-6c8f-4d0e-9d52-7f0f6f3f2a11"
    form = _form("pat-1", "pat-1")
    form["extension"] = [{"url": APPOINTMENT_EXTENSION, "valueReference": {"reference": appointment_url}}]
    body = _transaction((appointment_url, _appointment("pat-1")), (None, form))
    response = client.post(BASE, json=body, headers=headers)
    assert response.status_code == 200, response.text
    appointment = response.json()["entry"][0]["resource"]
    served = client.get(f"{BASE}/Appointment/{appointment['id']}", headers=headers).json()
    form_id = response.json()["entry"][1]["resource"]["id"]
    assert served["supportingInformation"] == [{"reference": f"QuestionnaireResponse/{form_id}"}]
