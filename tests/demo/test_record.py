"""The demo patients' clinical records (fhir_server.demo.record) as `fhir-server seed --demo` writes them: on the
resource store, through the write pipeline, valid R4 (our checks and an independent validator), US Core shaped,
and found by the searches a SMART app makes."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.db import Patient, ResourceHistory
from fhir_server.db.engine import Database
from fhir_server.fhir import pipeline
from fhir_server.seed import SeedResult, seed_demo
from fhir_server.settings import load_settings
from mappings.registry import MAPPINGS
from tests.fhir_validator import validator_errors
from tests.roundtrip.test_demo_validity import problems_of

TODAY = date(2026, 11, 23)
RECORD_TYPES = {
    "AllergyIntolerance",
    "CareTeam",
    "Condition",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "Immunization",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
}
VITAL_SIGNS = {  # LOINC code -> UCUM unit (US Core 3.1.1 vital signs)
    "8867-4": "/min",
    "29463-7": "kg",
    "8302-2": "cm",
    "39156-5": "kg/m2",
    "8310-5": "Cel",
    "9279-1": "/min",
    "59408-5": "%",
}


@pytest.fixture(scope="module")
def demo(module_database_url: str) -> Iterator[tuple[Database, SeedResult]]:
    database = Database(module_database_url, finish=pipeline.finish)
    with database.write() as session:
        seeded = seed_demo(session, today=TODAY)
    yield database, seeded
    database.dispose()


@pytest.fixture(scope="module")
def record(demo: tuple[Database, SeedResult]) -> list[dict[str, Any]]:
    """The current version of every resource of the clinical records, as the server serves it."""
    database, _ = demo
    query = select(ResourceHistory.resource).where(
        ResourceHistory.resource_type.in_(RECORD_TYPES), ResourceHistory.superseded_at.is_(None)
    )
    with database.read() as session:
        return [r for r in session.scalars(query) if r is not None]


@pytest.fixture(scope="module")
def client(module_database_url: str, demo: tuple[Database, SeedResult]) -> Iterator[TestClient]:
    settings = load_settings(database_url=module_database_url, auth="disabled", log_level="warning")
    with TestClient(create_app(settings)) as client:
        yield client


def _by_type(record: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in record if r["resourceType"] == resource_type]


def _owner(resource: dict[str, Any]) -> str:
    """The reference to the patient whose record ``resource`` belongs to."""
    reference: str = (resource.get("subject") or resource["patient"])["reference"]
    return reference


def _codes(resource: dict[str, Any], element: str = "code") -> set[str]:
    return {coding["code"] for coding in resource[element]["coding"]}


def test_every_patient_has_a_record_of_every_kind(
    demo: tuple[Database, SeedResult], record: list[dict[str, Any]]
) -> None:
    database, seeded = demo
    assert len(record) == seeded.clinical_resources
    assert all(MAPPINGS[t].stored for t in RECORD_TYPES)  # all on the resource store
    with database.read() as session:
        patients = {f"Patient/{fhir_id}" for fhir_id in session.scalars(select(Patient.fhir_id))}
    for resource_type in RECORD_TYPES:
        assert {_owner(r) for r in _by_type(record, resource_type)} == patients, resource_type


def test_every_resource_passes_our_checks(record: list[dict[str, Any]]) -> None:
    invalid = {f"{r['resourceType']}/{r['id']}": issues for r in record if (issues := problems_of(r))}
    assert invalid == {}


def test_every_resource_passes_the_independent_validator(record: list[dict[str, Any]], tmp_path: Path) -> None:
    assert validator_errors(record, tmp_path) == []


def test_vital_signs_are_shaped_as_us_core_shapes_them(record: list[dict[str, Any]]) -> None:
    vitals = [r for r in _by_type(record, "Observation") if r["category"][0]["coding"][0]["code"] == "vital-signs"]
    per_patient = Counter(v["subject"]["reference"] for v in vitals)
    assert set(per_patient.values()) == {8}
    for vital in vitals:
        assert vital["code"]["coding"][0]["system"] == "http://loinc.org"
        (code,) = _codes(vital)
        if code == "85354-9":  # blood pressure: systolic and diastolic components in mm[Hg]
            assert [_codes(c) for c in vital["component"]] == [{"8480-6"}, {"8462-4"}]
            assert {c["valueQuantity"]["code"] for c in vital["component"]} == {"mm[Hg]"}
            assert "valueQuantity" not in vital
        else:
            assert vital["valueQuantity"]["system"] == "http://unitsofmeasure.org"
            assert vital["valueQuantity"]["code"] == VITAL_SIGNS[code]
    weights = {v["subject"]["reference"]: v["valueQuantity"]["value"] for v in vitals if _codes(v) == {"29463-7"}}
    heights = {v["subject"]["reference"]: v["valueQuantity"]["value"] for v in vitals if _codes(v) == {"8302-2"}}
    for bmi in (v for v in vitals if _codes(v) == {"39156-5"}):
        patient = bmi["subject"]["reference"]
        assert bmi["valueQuantity"]["value"] == pytest.approx(weights[patient] / (heights[patient] / 100) ** 2, abs=0.1)


def test_lab_reports_group_their_patients_lab_results(record: list[dict[str, Any]]) -> None:
    labs = {
        f"Observation/{r['id']}": r
        for r in _by_type(record, "Observation")
        if r["category"][0]["coding"][0]["code"] == "laboratory"
    }
    reports = _by_type(record, "DiagnosticReport")
    grouped = [result["reference"] for report in reports for result in report["result"]]
    assert sorted(grouped) == sorted(labs)
    for report in reports:
        assert report["category"][0]["coding"][0]["code"] == "LAB"
        assert {labs[r["reference"]]["subject"]["reference"] for r in report["result"]} == {
            report["subject"]["reference"]
        }


def test_notes_carry_their_text_as_an_inline_attachment(record: list[dict[str, Any]]) -> None:
    for note in _by_type(record, "DocumentReference"):
        attachment = note["content"][0]["attachment"]
        assert attachment["contentType"] == "text/plain"
        assert base64.b64decode(attachment["data"]).decode().startswith("Annual check-up.")


def test_statuses_and_code_systems_are_those_us_core_asks_for(record: list[dict[str, Any]]) -> None:
    for condition in _by_type(record, "Condition"):
        assert condition["category"][0]["coding"][0]["code"] == "problem-list-item"
        assert condition["code"]["coding"][0]["system"] == "http://snomed.info/sct"
        assert _codes(condition, "clinicalStatus") == {"active"}
    for allergy in _by_type(record, "AllergyIntolerance"):
        assert _codes(allergy, "clinicalStatus") == {"active"}
        assert _codes(allergy, "verificationStatus") == {"confirmed"}
    for immunization in _by_type(record, "Immunization"):
        assert immunization["vaccineCode"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/cvx"
    for request in _by_type(record, "MedicationRequest"):
        assert request["intent"] == "order"
        assert (
            request["medicationCodeableConcept"]["coding"][0]["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
        )


def test_care_teams_name_the_patients_practitioners(
    demo: tuple[Database, SeedResult], record: list[dict[str, Any]]
) -> None:
    database, _ = demo
    with database.read() as session:
        doctors = {
            f"Patient/{p.fhir_id}": f"Practitioner/{p.general_practitioner.fhir_id}"
            for p in session.scalars(select(Patient))
            if p.general_practitioner is not None
        }
    for team in _by_type(record, "CareTeam"):
        members = [p["member"]["reference"] for p in team["participant"]]
        assert members[0] == doctors[team["subject"]["reference"]]
        assert len(members) == len(set(members))


def test_the_record_is_found_by_a_smart_apps_searches(client: TestClient, record: list[dict[str, Any]]) -> None:
    patient = _owner(record[0]).removeprefix("Patient/")

    def found(resource_type: str, **params: str) -> list[dict[str, Any]]:
        response = client.get(f"/fhir/{resource_type}", params={"patient": patient, "_count": "100", **params})
        assert response.status_code == 200, response.text
        return [e["resource"] for e in response.json().get("entry", [])]

    assert len(found("Observation", category="vital-signs")) == 8
    assert len(found("Observation", code="http://loinc.org|85354-9")) == 1
    assert found("DiagnosticReport", category="LAB")[0]["result"]
    assert found("Condition", **{"clinical-status": "active"})
    assert found("DocumentReference", type="http://loinc.org|11506-3")
    assert found("Immunization")
    assert found("CareTeam", status="active")
    mine = {(r["resourceType"], r["id"]) for r in record if _owner(r) == f"Patient/{patient}"}
    everything = client.get(f"/fhir/Patient/{patient}/$everything", params={"_count": "1000"}).json()
    assert mine <= {(e["resource"]["resourceType"], e["resource"]["id"]) for e in everything["entry"]}


def test_seeding_again_adds_nothing(demo: tuple[Database, SeedResult]) -> None:
    database, seeded = demo
    with database.write() as session:
        again = seed_demo(session, today=TODAY)
    assert not again.created
    assert again.clinical_resources == seeded.clinical_resources
