"""Search over the resource store as over the clinic's tables (http://hl7.org/fhir/R4/search.html): chains and
``_has`` across stored and mapped types, ``_include``/``_revinclude`` (with ``:iterate``), ``_sort``, paging with
``_total``, and ``Patient/[id]/$everything`` over every compartment type."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fhir.search.search_clinic import found_ids
from tests.fhir.search.search_support import PUBLIC_BASE_URL, Json, ids, search
from tests.fhir.search.store_record import Record, build_record

ANN_OBSERVATIONS = ("hr_ann", "bp_ann", "abo_ann", "lmp_ann")


@pytest.fixture(scope="module", autouse=True)
def record(module_client: TestClient) -> Record:
    return build_record(module_client)


def test_chains_from_a_stored_type_to_a_mapped_one(module_client: TestClient, record: Record) -> None:
    assert found_ids(module_client, "Observation", ("subject:Patient.name", "stored")) == record.ids(*ANN_OBSERVATIONS)
    assert found_ids(module_client, "Observation", ("patient.family", "other")) == record.ids(
        "hr_ben", "bp_ben", "note_ben"
    )
    assert len(found_ids(module_client, "Observation", ("performer:Practitioner.family", "quincy"))) == 7


def test_chains_between_stored_types(module_client: TestClient, record: Record) -> None:
    assert found_ids(module_client, "DiagnosticReport", ("result.code", "http://loinc.org|8867-4")) == record.ids(
        "report"
    )
    assert found_ids(module_client, "DiagnosticReport", ("result.code", "http://loinc.org|883-9")) == set()
    assert found_ids(module_client, "Condition", ("encounter.status", "finished")) == record.ids("asthma")
    two_levels = ("encounter.participant:Practitioner.family", "quincy")
    assert found_ids(module_client, "Condition", two_levels) == record.ids("asthma")


def test_has_finds_patients_and_stored_resources_by_what_refers_to_them(
    module_client: TestClient, record: Record
) -> None:
    assert found_ids(module_client, "Patient", ("_has:Observation:patient:code", "85354-9")) == record.ids("ann", "ben")
    assert found_ids(module_client, "Patient", ("_has:Observation:subject:code-value-quantity", "8867-4$gt90")) == (
        record.ids("ben")
    )
    assert found_ids(module_client, "Patient", ("_has:DiagnosticReport:patient:status", "final")) == record.ids("ann")
    assert found_ids(module_client, "Observation", ("_has:DiagnosticReport:result:status", "final")) == record.ids(
        "hr_ann", "bp_ann"
    )
    assert found_ids(module_client, "Encounter", ("_has:Condition:encounter:code", "195967001")) == record.ids("visit")


def _included(bundle: Json) -> set[str]:
    return set(ids(bundle, "include"))


def test_include_and_revinclude_across_types(module_client: TestClient, record: Record) -> None:
    report = search(
        module_client, "DiagnosticReport", [("_id", record.id("report")), ("_include", "DiagnosticReport:result")]
    )
    assert _included(report) == record.ids("hr_ann", "bp_ann")
    iterated = search(
        module_client,
        "DiagnosticReport",
        [
            ("_id", record.id("report")),
            ("_include", "DiagnosticReport:result"),
            ("_include:iterate", "Observation:performer"),
        ],
    )
    assert _included(iterated) == record.ids("hr_ann", "bp_ann", "doc")
    patient = search(module_client, "Patient", [("_id", record.id("ann")), ("_revinclude", "Condition:subject")])
    assert _included(patient) == record.ids("asthma")
    chain = [
        ("_id", record.id("visit")),
        ("_revinclude", "Condition:encounter"),
        ("_include:iterate", "Condition:subject"),
    ]
    assert _included(search(module_client, "Encounter", chain)) == record.ids("asthma", "ann")
    everything_referring = search(module_client, "Patient", [("_id", record.id("ben")), ("_revinclude", "*")])
    assert _included(everything_referring) == record.ids("hr_ben", "bp_ben", "note_ben", "cohort")


def test_sort_on_a_stored_type(module_client: TestClient, record: Record) -> None:
    by_date = search(module_client, "Observation", [("subject", f"Patient/{record.id('ann')}"), ("_sort", "-date")])
    assert ids(by_date) == [record.id(n) for n in ("lmp_ann", "abo_ann", "bp_ann", "hr_ann")]
    by_value = search(module_client, "Observation", [("code", "8867-4"), ("_sort", "-value-quantity")])
    assert ids(by_value) == [record.id("hr_ben"), record.id("hr_ann")]


def test_pages_of_a_stored_type_with_the_total(module_client: TestClient, record: Record) -> None:
    page = search(module_client, "Observation", [("_count", "3"), ("_total", "accurate"), ("_sort", "date")])
    assert page["total"] == 7
    seen = ids(page)
    while next_link := next((link["url"] for link in page["link"] if link["relation"] == "next"), None):
        response = module_client.get("/fhir" + next_link[len(PUBLIC_BASE_URL) :])
        assert response.status_code == 200, response.text
        page = response.json()
        seen += ids(page)
    assert seen == [record.id(n) for n in ("hr_ann", "hr_ben", "bp_ann", "bp_ben", "abo_ann", "lmp_ann", "note_ben")]


def test_everything_is_the_patients_whole_record(module_client: TestClient, record: Record) -> None:
    response = module_client.get(f"/fhir/Patient/{record.id('ann')}/$everything", params={"_count": "100"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    members = ("ann", *ANN_OBSERVATIONS, "visit", "asthma", "report", "note_v1", "note_v2", "cohort")
    assert set(ids(bundle)) == record.ids(*members)
    assert _included(bundle) == record.ids("doc", "clinic")  # the clinic: ann's managingOrganization
    narrowed = module_client.get(
        f"/fhir/Patient/{record.id('ann')}/$everything", params={"_type": "Condition,Encounter"}
    ).json()
    assert set(ids(narrowed)) == record.ids("visit", "asthma")
