"""patients <-> Patient: golden pairs both ways, round trips through the HTTP API, internal changes."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.db import Patient
from fhir_server.db.engine import Database
from mappings.patient import BCP47, MRN_SYSTEM, PatientMapping
from tests.mappings.mapping_support import golden_names, load, r4_issues
from tests.mappings.roundtrip_support import as_sent, assert_reads_back, created, current, golden_row

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
MARITAL_STATUS = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"


def rich_patient(practitioner_id: str) -> dict[str, Any]:
    """A Patient using much of R4: nested extensions, unmapped elements, several names, telecoms in odd orders."""
    return {
        "resourceType": "Patient",
        "meta": {"profile": [f"{US_CORE}/us-core-patient"], "security": [{"code": "R"}]},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Lucía García</div>'},
        "contained": [{"resourceType": "RelatedPerson", "id": "mum", "patient": {"reference": "#"},
                       "name": [{"family": "García", "given": ["Rosa"]}]}],
        "extension": [
            {"url": f"{US_CORE}/us-core-ethnicity", "extension": [
                {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2135-2"}},
                {"url": "text", "valueString": "Hispanic or Latino"},
            ]},
            {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "valueAddress": {"city": "Sevilla"}},
        ],
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-12-3456"}],
        "active": True,
        "name": [
            {"use": "official", "family": "García", "given": ["Lucía", "María"], "prefix": ["Ms."]},
            {"use": "nickname", "given": ["Lu"]},
            {"use": "maiden", "family": "López", "period": {"end": "2010-06-01"}},
        ],
        "telecom": [
            {"system": "email", "value": "lucia@mail.example.org"},
            {"system": "sms", "value": "+1 555 9999"},
            {"system": "phone", "value": "+1 555 2042", "use": "mobile", "rank": 1},
            {"system": "phone", "value": "+1 555 2043", "use": "home"},
        ],
        "gender": "female",
        "birthDate": "1980-05",
        "deceasedBoolean": False,
        "address": [
            {"use": "home", "line": ["12 Oak St", "Apt 4"], "city": "Springfield", "state": "MA", "country": "US"},
            {"use": "old", "city": "Boston"},
        ],
        "maritalStatus": {"coding": [{"system": MARITAL_STATUS, "code": "M"}]},
        "multipleBirthInteger": 2,
        "contact": [{"relationship": [{"text": "mother"}], "name": {"family": "García", "given": ["Rosa"]}}],
        "communication": [
            {"language": {"coding": [{"system": BCP47, "code": "es"}], "text": "Spanish"}, "preferred": True},
            {"language": {"coding": [{"system": BCP47, "code": "en"}]}},
        ],
        "generalPractitioner": [{"reference": f"Practitioner/{practitioner_id}", "display": "Dr. Hart"}],
    }  # fmt: skip


@pytest.mark.parametrize("name", golden_names("patient"))
def test_golden_row_is_served_as_its_resource(name: str) -> None:
    served = PatientMapping.to_fhir(golden_row(PatientMapping, name))
    assert served == load(name, "fhir")
    assert r4_issues(served) == []


@pytest.mark.parametrize("name", golden_names("patient"))
def test_golden_resource_reads_back_as_its_row(name: str) -> None:
    assert_reads_back(PatientMapping, name)


def test_a_partial_birth_date_stays_as_sent_while_it_means_the_column() -> None:
    row = golden_row(PatientMapping, "patient-from-client")
    assert PatientMapping.to_fhir(row)["birthDate"] == "1990"
    row.birth_date = date(1990, 3, 4)
    assert PatientMapping.to_fhir(row)["birthDate"] == "1990-03-04"


@pytest.fixture
def doctor(client: TestClient, clinic: dict[str, Any]) -> str:
    return str(
        created(client, {"resourceType": "Practitioner", "name": [{"family": "Hart", "given": ["Amelia"]}]})["id"]
    )


def _server_set(served: dict[str, Any], clinic_id: str) -> dict[str, Any]:
    """``served`` without what the server adds to a Patient: the clinic and the MRN identifier."""
    served = copy.deepcopy(served)
    assert served.pop("managingOrganization") == {"reference": f"Organization/{clinic_id}"}
    mrn = [i for i in served["identifier"] if i.get("system") == MRN_SYSTEM]
    assert len(mrn) == 1 and mrn[0]["type"]["coding"][0]["code"] == "MR"
    served["identifier"] = [i for i in served["identifier"] if i.get("system") != MRN_SYSTEM]
    return served


def test_a_rich_patient_is_served_back_as_sent(
    client: TestClient, clinic: dict[str, Any], doctor: str, database: Database
) -> None:
    sent = rich_patient(doctor)
    body = created(client, sent)
    assert _server_set(as_sent(body), clinic["id"]) == sent
    assert _server_set(as_sent(current(client, "Patient", body["id"])), clinic["id"]) == sent
    with database.read() as session:
        row = session.scalars(select(Patient).where(Patient.fhir_id == body["id"])).one()
        assert (row.given_name, row.family_name, row.birth_date) == ("Lucía", "García", date(1980, 5, 1))
        assert (row.phone, row.email, row.preferred_language) == ("+1 555 2042", "lucia@mail.example.org", "es")
        assert row.general_practitioner is not None and row.general_practitioner.fhir_id == doctor


def test_an_update_in_another_order_is_served_back_as_sent(
    client: TestClient, clinic: dict[str, Any], doctor: str
) -> None:
    body = created(client, rich_patient(doctor))
    sent = rich_patient(doctor)
    sent["telecom"].reverse()
    sent["address"].reverse()
    sent["extension"].reverse()
    sent["identifier"] = [*body["identifier"], *sent["identifier"]]  # the MRN first this time
    sent["managingOrganization"] = {"reference": f"Organization/{clinic['id']}", "display": "Main Street"}
    response = client.put(f"/fhir/Patient/{body['id']}", json={**sent, "id": body["id"]})
    assert response.status_code == 200, response.text
    served = current(client, "Patient", body["id"])
    assert served["meta"]["versionId"] == "2"
    assert as_sent(served) == sent


def test_an_internal_change_shows_in_a_new_version(
    client: TestClient, clinic: dict[str, Any], doctor: str, database: Database
) -> None:
    body = created(client, rich_patient(doctor))
    with database.write() as session:
        row = session.scalars(select(Patient).where(Patient.fhir_id == body["id"])).one()
        row.phone = "+1 555 7777"
        row.birth_date = date(1980, 5, 17)
    served = current(client, "Patient", body["id"])
    assert served["meta"]["versionId"] == "2"
    assert served["telecom"][2] == {"system": "phone", "value": "+1 555 7777", "use": "mobile", "rank": 1}
    assert served["birthDate"] == "1980-05-17"
    assert served["name"] == rich_patient(doctor)["name"]


def test_an_internal_removal_of_the_gp_removes_the_whole_reference() -> None:
    row = golden_row(PatientMapping, "patient")
    row.extra = {"generalPractitioner": [{"reference": "Practitioner/demo-practitioner-1", "display": "Dr. Hart"}]}
    row.general_practitioner = None
    assert "generalPractitioner" not in PatientMapping.to_fhir(row)
