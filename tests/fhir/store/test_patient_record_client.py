"""The US Core style record (tests/fhir/store/us_core_record.py) through a real FHIR client library (fhirpy) against
a running server: posted as one transaction, then searched the way a SMART app's medication list, growth chart or
patient portal searches it, following the server's paging links."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fhirpy import SyncFHIRClient

from tests.fhir.store.us_core_record import NOTE_TEXT, record_bundle
from tests.servers import serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.auth_off_only(reason="the server runs without authorization; test_patient_record reads through scopes"),
]


@pytest.fixture(scope="module")
def fhir(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncFHIRClient]:
    env = {
        "FHIR_SERVER_DATABASE_URL": module_database_url,
        "FHIR_SERVER_LOG_LEVEL": "warning",
        "FHIR_SERVER_AUTH": "disabled",
    }
    with serving(["--demo"], tmp_path_factory.mktemp("server"), env) as root:  # the demo clinic takes the record
        yield SyncFHIRClient(f"{root}/fhir")


@pytest.fixture(scope="module")
def patient(fhir: SyncFHIRClient) -> str:
    """The record posted as one transaction (into the demo clinic, the only one); its patient's id."""
    answer = fhir.execute("", method="post", data=record_bundle())
    assert answer["type"] == "transaction-response"
    patient_id: str = answer["entry"][0]["resource"]["id"]
    return patient_id


def test_a_medication_list_app_finds_the_orders_and_their_medications(fhir: SyncFHIRClient, patient: str) -> None:
    search = fhir.resources("MedicationRequest").search(patient=patient, intent="order")
    bundle = search.include("MedicationRequest", "medication").fetch_raw()
    kinds = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]}
    assert kinds == {("MedicationRequest", "match"), ("Medication", "include")}


def test_a_growth_chart_app_pages_through_the_vital_signs(fhir: SyncFHIRClient, patient: str) -> None:
    vitals = fhir.resources("Observation").search(patient=patient, category="vital-signs").sort("date").limit(2)
    found = vitals.fetch_all()  # follows the next links
    assert sorted(o["code"]["coding"][0]["code"] for o in found) == ["29463-7", "85354-9", "8867-4"]
    weight = fhir.resources("Observation").search(patient=patient, code="http://loinc.org|29463-7").first()
    assert weight is not None and weight["valueQuantity"]["code"] == "kg"


def test_a_patient_portal_shows_problems_allergies_and_notes(fhir: SyncFHIRClient, patient: str) -> None:
    problems = fhir.resources("Condition").search(patient=patient, **{"clinical-status": "active"}).fetch_all()
    assert [c["code"]["coding"][0]["code"] for c in problems] == ["38341003"]
    allergies = fhir.resources("AllergyIntolerance").search(patient=patient).fetch_all()
    assert [a["code"]["text"] for a in allergies] == ["Penicillin"]
    note = fhir.resources("DocumentReference").search(patient=patient, type="http://loinc.org|11506-3").first()
    assert note is not None
    assert base64.b64decode(note["content"][0]["attachment"]["data"]).decode() == NOTE_TEXT
    everything = fhir.execute(f"Patient/{patient}/$everything", method="get", params={"_count": "500"})
    assert len({e["resource"]["resourceType"] for e in everything["entry"]}) >= 15
