"""Issue 14, "Done when": a realistic US Core style patient record of 15+ resource types (tests/fhir/store/
us_core_record.py) posted as ONE transaction Bundle is accepted; every resource reads back losslessly (apart from
id, meta and the ``urn:uuid:`` references rewritten to the assigned ids), is found by its US Core search parameters
(http://hl7.org/fhir/us/core/STU3.1.1/CapabilityStatement-us-core-server.html), comes back in
``Patient/$everything``, and is read through each kind of SMART scope: a backend service (``system/*.rs``), a
clinician (``user/*.rs``) and a patient app (``patient/*.rs``), which reads its record and not another patient's.
On SQLite and PostgreSQL, the record posted with authorization off and on (a backend service of the clinic).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.app import create_app
from fhir_server.auth.clients import register_client
from fhir_server.auth.grants import create_grant, issue_access_token
from fhir_server.db import Organization, User
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings
from mappings.patient import MRN_SYSTEM
from tests.auth.conftest import REDIRECT, password_hash
from tests.authorized_client import clinic_of, fhir_client, system_token
from tests.backend_services import register_backend
from tests.fhir.store.us_core_record import NOTE_TEXT, record_bundle, record_entries, urn

NOT_IN_COMPARTMENT = ("practitioner", "lab", "location", "medication")
"""The entries that hold no patient data (outside the Patient compartment)."""


@dataclass
class Posted:
    """The record as posted and as the server answered it."""

    client: TestClient
    database_url: str
    clinic_id: str
    sent: dict[str, dict[str, Any]]
    """The resources sent, by entry full URL."""
    answered: dict[str, dict[str, Any]]
    """The resources answered, by entry full URL."""
    other_patient: str
    """A patient of the same clinic with a vital sign of their own (for the patient-scope checks)."""

    def id_of(self, name: str) -> str:
        resource_id: str = self.answered[urn(name)]["id"]
        return resource_id

    @property
    def patient(self) -> str:
        return self.id_of("patient")

    def local(self, value: Any) -> Any:
        """``value`` with every entry's ``urn:uuid:`` replaced by the reference the server assigned."""
        text = orjson.dumps(value).decode()
        for full_url, resource in self.answered.items():
            text = text.replace(full_url, f"{resource['resourceType']}/{resource['id']}")
        return orjson.loads(text)


@pytest.fixture(scope="module")
def posted(module_database_url: str, module_auth_mode: str) -> Iterator[Posted]:
    with fhir_client(module_database_url, module_auth_mode, log_level="warning") as client:
        clinic = clinic_of(client)
        other = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Else"}]}).json()
        vital = {**record_entries()["heart-rate"], "subject": {"reference": f"Patient/{other['id']}"}}
        vital.pop("encounter")
        assert client.post("/fhir/Observation", json=vital).status_code == 201
        bundle = record_bundle()
        response = client.post("/fhir", json=bundle)
        assert response.status_code == 200, response.text
        entries = response.json()["entry"]
        assert [e["response"]["status"] for e in entries] == ["201 Created"] * len(bundle["entry"])
        yield Posted(
            client,
            module_database_url,
            clinic["id"],
            {e["fullUrl"]: e["resource"] for e in bundle["entry"]},
            {sent["fullUrl"]: e["resource"] for sent, e in zip(bundle["entry"], entries, strict=True)},
            other["id"],
        )


def _found(client: TestClient, query: str) -> list[tuple[str, str]]:
    response = client.get(f"/fhir/{query}")
    assert response.status_code == 200, f"{query}: {response.text}"
    return [(e["resource"]["resourceType"], e["resource"]["id"]) for e in response.json().get("entry", [])]


def test_the_record_spans_fifteen_types_and_is_accepted_whole(posted: Posted) -> None:
    types = {resource["resourceType"] for resource in posted.answered.values()}
    assert len(types) >= 15
    assert {"Observation", "DiagnosticReport", "Provenance", "Organization", "Practitioner"} <= types


def test_every_resource_reads_back_losslessly(posted: Posted) -> None:
    differing = []
    for full_url, sent in posted.sent.items():
        answer = posted.answered[full_url]
        read = posted.client.get(f"/fhir/{answer['resourceType']}/{answer['id']}")
        assert read.status_code == 200, read.text
        served = _without_server_set(read.json(), sent, posted.clinic_id)
        if served != posted.local(sent):
            differing.append((answer["resourceType"], served, posted.local(sent)))
    assert differing == []


def _without_server_set(served: dict[str, Any], sent: dict[str, Any], clinic_id: str) -> dict[str, Any]:
    """``served`` without id and meta, and without what the clinic adds to a patient it is sent (mappings/patient.py):
    its own medical record number and, when none is named, itself as the managing organization."""
    served = {k: v for k, v in served.items() if k not in ("id", "meta")}
    if served["resourceType"] == "Patient":
        served["identifier"] = [i for i in served["identifier"] if i.get("system") != MRN_SYSTEM]
        if "managingOrganization" not in sent:
            assert served.pop("managingOrganization") == {"reference": f"Organization/{clinic_id}"}
    return served


def test_the_note_text_comes_back_from_its_attachment(posted: Posted) -> None:
    note = posted.client.get(f"/fhir/DocumentReference/{posted.id_of('note')}").json()
    assert base64.b64decode(note["content"][0]["attachment"]["data"]).decode() == NOTE_TEXT


VITALS = ["blood-pressure", "heart-rate", "body-weight"]
SEARCHES: list[tuple[str, list[str]]] = [
    ("Patient?identifier=http://hospital.example.org/mrn|MRN-0419", ["patient"]),
    ("Patient?name=Shaw&birthdate=1987-02-20", ["patient"]),
    ("Patient?gender=female&name=shaw", ["patient"]),
    ("Patient?race=2106-3&ethnicity=2186-5", ["patient"]),
    ("Observation?patient={patient}&category=vital-signs", VITALS),
    ("Observation?patient={patient}&code=http://loinc.org|85354-9", ["blood-pressure"]),
    (
        "Observation?patient={patient}&category=vital-signs&date=ge2026-10-01",
        ["blood-pressure", "heart-rate", "body-weight"],
    ),
    ("Observation?patient={patient}&category=vital-signs&date=lt2026-01-01", []),
    ("Observation?patient={patient}&category=laboratory", ["glucose", "potassium"]),
    ("Observation?patient={patient}&code=2345-7&value-quantity=gt100", ["glucose"]),
    ("Condition?patient={patient}&clinical-status=active", ["condition"]),
    ("Condition?patient={patient}&category=problem-list-item", ["condition"]),
    ("Condition?patient={patient}&clinical-status=resolved", ["resolved-condition"]),
    ("AllergyIntolerance?patient={patient}&clinical-status=active", ["allergy"]),
    ("MedicationRequest?patient={patient}&intent=order", ["medication-request"]),
    ("MedicationRequest?patient={patient}&intent=order&status=active", ["medication-request"]),
    ("MedicationRequest?patient={patient}&intent=plan", []),
    ("DiagnosticReport?patient={patient}&category=LAB", ["report"]),
    ("DiagnosticReport?patient={patient}&code=http://loinc.org|51990-0&date=ge2026-10-05", ["report"]),
    ("DocumentReference?patient={patient}&type=http://loinc.org|11506-3", ["note"]),
    ("DocumentReference?patient={patient}&category=clinical-note&date=ge2026-10-01", ["note"]),
    ("Encounter?patient={patient}&date=ge2026-10-01", ["encounter"]),
    ("Encounter?patient={patient}&date=lt2026-10-01", []),
    ("Encounter?_id={encounter}", ["encounter"]),
    ("Immunization?patient={patient}&date=ge2026-10-01", ["immunization"]),
    ("CareTeam?patient={patient}&status=active", ["care-team"]),
    ("Procedure?patient={patient}&date=ge2026-10-05", ["procedure"]),
    ("Goal?patient={patient}&lifecycle-status=active", ["goal"]),
    ("Provenance?target=Patient/{patient}", ["provenance"]),
    ("Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9941339108", ["practitioner"]),
    ("Practitioner?name=Bone", ["practitioner"]),
    ("Organization?name=Acme", ["lab"]),
    ("Location?name=Riverside", ["location"]),
    ("Medication?code=http://www.nlm.nih.gov/research/umls/rxnorm|314076", ["medication"]),
]


@pytest.mark.parametrize(("query", "names"), SEARCHES, ids=[q for q, _ in SEARCHES])
def test_each_resource_is_found_by_its_us_core_search_parameters(posted: Posted, query: str, names: list[str]) -> None:
    ids = {"patient": posted.patient, "encounter": posted.id_of("encounter")}
    found = _found(posted.client, query.format(**ids))
    expected = [(posted.answered[urn(n)]["resourceType"], posted.id_of(n)) for n in names]
    assert sorted(found) == sorted(expected)


def test_includes_follow_the_records_references(posted: Posted) -> None:
    query = f"MedicationRequest?patient={posted.patient}&_include=MedicationRequest:medication"
    assert ("Medication", posted.id_of("medication")) in _found(posted.client, query)
    query = f"Patient?_id={posted.patient}&_revinclude=Provenance:target"
    assert ("Provenance", posted.id_of("provenance")) in _found(posted.client, query)
    query = f"DiagnosticReport?patient={posted.patient}&_include=DiagnosticReport:result"
    assert {("Observation", posted.id_of("glucose")), ("Observation", posted.id_of("potassium"))} <= set(
        _found(posted.client, query)
    )


def _everything(client: TestClient, patient: str) -> set[tuple[str, str]]:
    response = client.get(f"/fhir/Patient/{patient}/$everything", params={"_count": "500"})
    assert response.status_code == 200, response.text
    assert not any(link["relation"] == "next" for link in response.json()["link"])
    return {(e["resource"]["resourceType"], e["resource"]["id"]) for e in response.json()["entry"]}


def test_everything_returns_the_whole_record(posted: Posted) -> None:
    everything = _everything(posted.client, posted.patient)
    compartment = {
        (r["resourceType"], r["id"]) for n, r in posted.answered.items() if n not in map(urn, NOT_IN_COMPARTMENT)
    }
    assert compartment <= everything
    assert ("Practitioner", posted.id_of("practitioner")) in everything
    assert not any(resource_id == posted.other_patient for _, resource_id in everything)


# --- each kind of scope ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scoped(posted: Posted) -> Iterator[TestClient]:
    """An app on the record's database with authorization on (whatever the mode the record was posted in)."""
    settings = load_settings(database_url=posted.database_url, auth="enabled", log_level="warning")
    with TestClient(create_app(settings)) as client:
        yield client


def _clinic_row(session: Session, clinic_id: str) -> Organization:
    return session.scalars(select(Organization).where(Organization.fhir_id == clinic_id)).one()


def _user_token(posted: Posted, scope: str, patient: str | None = None) -> str:
    """An access token of a physician of the clinic for ``scope`` (a patient app's when ``patient``), issued as the
    token endpoint issues one."""
    database = Database(posted.database_url)
    try:
        with database.write() as session:
            clinic = _clinic_row(session, posted.clinic_id)
            app = register_client(
                session, name="App", client_type="public", organization=clinic, scope=scope, redirect_uris=[REDIRECT]
            )
            user = User(
                organization_id=clinic.id,
                email=f"{uuid.uuid4().hex[:8]}@clinic.example.org",
                full_name="Doctor",
                password_hash=password_hash(),
                role="physician",
            )
            session.add(user)
            session.flush()
            grant = create_grant(
                session,
                client_id=app.client.client_id,
                user_id=user.id,
                organization_id=clinic.id,
                grant_type="authorization_code",
                scope=scope,
                context={"patient": patient} if patient else {},
            )
            token, _ = issue_access_token(session, grant, scope, 600)
    finally:
        database.dispose()
    return token


def _system_token(posted: Posted, client: TestClient, scope: str) -> str:
    database = Database(posted.database_url)
    try:
        with database.write() as session:
            client_id = register_backend(session, _clinic_row(session, posted.clinic_id), scope)
    finally:
        database.dispose()
    return system_token(client, client_id, scope)


def _reads(client: TestClient, token: str, resources: list[dict[str, Any]]) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {token}"}
    return {
        f"{r['resourceType']}/{r['id']}": client.get(
            f"/fhir/{r['resourceType']}/{r['id']}", headers=headers
        ).status_code
        for r in resources
    }


def test_a_backend_service_reads_the_whole_record(posted: Posted, scoped: TestClient) -> None:
    token = _system_token(posted, scoped, "system/*.rs")
    resources = list(posted.answered.values())
    assert set(_reads(scoped, token, resources).values()) == {200}
    headers = {"Authorization": f"Bearer {token}"}
    found = scoped.get("/fhir/Observation", params={"patient": posted.patient}, headers=headers)
    assert len(found.json()["entry"]) == 5


def test_a_clinician_reads_the_whole_record(posted: Posted, scoped: TestClient) -> None:
    token = _user_token(posted, "user/*.rs")
    assert set(_reads(scoped, token, list(posted.answered.values())).values()) == {200}
    headers = {"Authorization": f"Bearer {token}"}
    everything = scoped.get(f"/fhir/Patient/{posted.patient}/$everything", params={"_count": "500"}, headers=headers)
    assert everything.status_code == 200


def test_a_patient_app_reads_its_record_and_not_another_patients(posted: Posted, scoped: TestClient) -> None:
    token = _user_token(posted, "patient/*.rs", patient=posted.patient)
    headers = {"Authorization": f"Bearer {token}"}
    outside = set(map(urn, NOT_IN_COMPARTMENT))
    compartment = [r for n, r in posted.answered.items() if n not in outside]
    assert set(_reads(scoped, token, compartment).values()) == {200}
    directory = [r for n, r in posted.answered.items() if n in outside]  # hold no patient data: the clinic's
    assert set(_reads(scoped, token, directory).values()) == {200}
    vitals = scoped.get("/fhir/Observation", params={"category": "vital-signs"}, headers=headers).json()
    assert {e["resource"]["subject"]["reference"] for e in vitals["entry"]} == {f"Patient/{posted.patient}"}
    assert scoped.get(f"/fhir/Patient/{posted.other_patient}", headers=headers).status_code == 404
    others = scoped.get("/fhir/Observation", params={"patient": posted.other_patient}, headers=headers)
    assert others.json().get("entry", []) == []
    assert scoped.get(f"/fhir/Patient/{posted.other_patient}/$everything", headers=headers).status_code in (403, 404)
