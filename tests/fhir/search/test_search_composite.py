"""Composite search parameters (http://hl7.org/fhir/R4/search.html#composite) over the resource store: ``$``
separates the component values, which must match within one repetition of the parameter's element (the resource
itself, or one Observation.component), each with its own type's syntax and prefixes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fhir.search.search_clinic import found_ids, outcome_issue
from tests.fhir.search.store_record import Record, build_record


@pytest.fixture(scope="module", autouse=True)
def record(module_client: TestClient) -> Record:
    return build_record(module_client)


def observations(client: TestClient, name: str, value: str) -> set[str]:
    return found_ids(client, "Observation", (name, value))


def test_code_value_quantity_matches_the_code_with_the_value_prefix(module_client: TestClient, record: Record) -> None:
    assert observations(module_client, "code-value-quantity", "http://loinc.org|8867-4$gt70") == record.ids(
        "hr_ann", "hr_ben"
    )
    assert observations(module_client, "code-value-quantity", "http://loinc.org|8867-4$lt80") == record.ids("hr_ann")
    assert observations(module_client, "code-value-quantity", "8867-4$72|http://unitsofmeasure.org|/min") == record.ids(
        "hr_ann"
    )
    assert observations(module_client, "code-value-quantity", "http://loinc.org|8867-4$gt100") == set()
    assert observations(module_client, "code-value-quantity", "http://loinc.org|8480-6$gt0") == set()


def test_component_values_match_within_one_component_only(module_client: TestClient, record: Record) -> None:
    systolic, diastolic = "http://loinc.org|8480-6", "http://loinc.org|8462-4"
    assert observations(module_client, "component-code-value-quantity", f"{systolic}$gt110") == record.ids(
        "bp_ann", "bp_ben"
    )
    # ann's diastolic is 80 and her systolic 120: 8462-4 above 110 is in no single component of hers
    assert observations(module_client, "component-code-value-quantity", f"{diastolic}$gt90") == record.ids("bp_ben")
    assert observations(module_client, "component-code-value-quantity", f"{diastolic}$gt110") == set()


def test_combo_code_value_quantity_searches_the_observation_and_its_components(
    module_client: TestClient, record: Record
) -> None:
    found = observations(module_client, "combo-code-value-quantity", "http://loinc.org|8867-4$gt90,8480-6$ge150")
    assert found == record.ids("hr_ben", "bp_ben")


def test_concept_date_and_string_values(module_client: TestClient, record: Record) -> None:
    concept = "http://loinc.org|883-9$http://snomed.info/sct|112144000"
    assert observations(module_client, "code-value-concept", concept) == record.ids("abo_ann")
    assert observations(module_client, "combo-code-value-concept", concept) == record.ids("abo_ann")
    assert observations(module_client, "code-value-concept", "883-9$112144001") == set()
    assert observations(module_client, "code-value-date", "8665-2$ge2025-12") == record.ids("lmp_ann")
    assert observations(module_client, "code-value-date", "8665-2$lt2025-12") == set()
    assert observations(module_client, "code-value-string", "8251-1$feels") == record.ids("note_ben")
    assert observations(module_client, "code-value-string", "8867-4$feels") == set()


def test_a_reference_component_and_a_boolean_component(module_client: TestClient, record: Record) -> None:
    relationship = f"replaces$DocumentReference/{record.id('note_v1')}"
    assert found_ids(module_client, "DocumentReference", ("relationship", relationship)) == record.ids("note_v2")
    assert found_ids(module_client, "DocumentReference", ("relationship", f"appends${record.id('note_v1')}")) == set()
    found = found_ids(module_client, "Group", ("characteristic-value", "http://snomed.info/sct|195967001$true"))
    assert found == record.ids("cohort")
    assert found_ids(module_client, "Group", ("characteristic-value", "195967001$false")) == set()


def test_missing_and_chained_composites(module_client: TestClient, record: Record) -> None:
    with_components = observations(module_client, "component-code-value-quantity:missing", "false")
    assert with_components == record.ids("bp_ann", "bp_ben")
    chained = ("result.component-code-value-quantity", "http://loinc.org|8480-6$lt130")
    assert found_ids(module_client, "DiagnosticReport", chained) == record.ids("report")
    chained_miss = ("result.component-code-value-quantity", "http://loinc.org|8480-6$gt130")
    assert found_ids(module_client, "DiagnosticReport", chained_miss) == set()


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"code-value-quantity": "http://loinc.org|8867-4"}, "code-value-quantity"),
        ({"code-value-quantity": "8867-4$gt70$1"}, "code-value-quantity"),
        ({"code-value-quantity": "8867-4$high"}, "code-value-quantity"),
        ({"code-value-quantity:exact": "8867-4$70"}, "code-value-quantity:exact"),
        ({"_sort": "code-value-quantity"}, "_sort"),
    ],
)
def test_a_malformed_composite_search_is_a_400_naming_it(
    module_client: TestClient, params: dict[str, str], expression: str
) -> None:
    response = module_client.get("/fhir/Observation", params=params)
    assert response.status_code == 400, response.text
    assert outcome_issue(response)["expression"] == [expression]
