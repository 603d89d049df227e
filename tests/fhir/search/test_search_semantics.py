"""Search semantics beyond single parameters (http://hl7.org/fhir/R4/search.html): combining values and
parameters, chaining and reverse chaining, _include/_revinclude (with :iterate) and _sort."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fhir.search.search_clinic import PAGING_PATIENTS, Clinic, build_clinic, found_ids, names, outcome_issue
from tests.fhir.search.search_support import Json, ids, search


@pytest.fixture(scope="module", autouse=True)
def clinic(module_client: TestClient) -> Clinic:
    return build_clinic(module_client)


# --- combining values and parameters -------------------------------------------------------------------------


def test_comma_separated_values_are_alternatives(module_client: TestClient, clinic: Clinic) -> None:
    found = found_ids(module_client, "Patient", ("family", "smith,jones"))
    assert found == names(clinic, "patients", "anna", "bob", "carl")


def test_a_repeated_parameter_must_match_every_time(module_client: TestClient, clinic: Clinic) -> None:
    assert found_ids(module_client, "Patient", ("family", "smith"), ("family", "smithson")) == names(
        clinic, "patients", "bob"
    )
    assert found_ids(module_client, "Patient", ("family", "smith"), ("gender", "female")) == names(
        clinic, "patients", "anna"
    )
    assert found_ids(module_client, "Patient", ("birthdate", "ge1985"), ("birthdate", "lt1995")) == names(
        clinic, "patients", "bob"
    )


def test_an_escaped_comma_is_part_of_the_value(module_client: TestClient, clinic: Clinic) -> None:
    assert found_ids(module_client, "Patient", ("family", "smith\\,jones")) == set()


# --- chaining ------------------------------------------------------------------------------------------------


def test_chained_parameter_searches_the_referenced_resource(module_client: TestClient, clinic: Clinic) -> None:
    assert found_ids(module_client, "Appointment", ("patient.name", "smith")) == names(
        clinic, "appointments", "a1", "a2"
    )
    assert found_ids(module_client, "Appointment", ("patient.family:exact", "Smith")) == names(
        clinic, "appointments", "a1"
    )


def test_chain_through_a_type_modifier(module_client: TestClient, clinic: Clinic) -> None:
    found = found_ids(module_client, "Appointment", ("actor:Practitioner.family", "karev"))
    assert found == names(clinic, "appointments", "a1", "a3")


def test_chain_over_several_references(module_client: TestClient, clinic: Clinic) -> None:
    found = found_ids(module_client, "Appointment", ("patient.general-practitioner.family", "yang"))
    assert found == names(clinic, "appointments", "a1")
    everyone = found_ids(module_client, "Appointment", ("patient.organization.name", "main street"))
    assert everyone == names(clinic, "appointments", "a1", "a2", "a3")


def test_an_ambiguous_chain_is_refused_naming_the_parameter(module_client: TestClient) -> None:
    response = module_client.get("/fhir/Appointment", params={"actor.family": "karev"})
    assert response.status_code == 400
    issue = outcome_issue(response)
    assert issue["code"] == "not-supported"
    assert issue["expression"] == ["actor.family"]


def test_a_chain_does_not_follow_another_servers_reference(module_client: TestClient, clinic: Clinic) -> None:
    """The referrer is a Practitioner of elsewhere.example.org that happens to share an id with ours."""
    assert found_ids(module_client, "ImagingStudy", ("referrer.family", "yang")) == set()
    assert found_ids(module_client, "ImagingStudy", ("referrer", clinic.id("practitioners", "Yang"))) == set()


def test_a_version_specific_reference_is_found_by_the_resource(module_client: TestClient, clinic: Clinic) -> None:
    karev = clinic.id("practitioners", "Karev")
    expected = names(clinic, "studies", "versioned")
    assert found_ids(module_client, "ImagingStudy", ("interpreter", f"Practitioner/{karev}")) == expected
    assert found_ids(module_client, "ImagingStudy", ("interpreter.family", "karev")) == expected


def test_a_canonical_reference_is_found_by_its_url_with_or_without_version(
    module_client: TestClient, clinic: Clinic
) -> None:
    every = names(clinic, "responses", "anna", "bob", "carl")
    assert found_ids(module_client, "QuestionnaireResponse", ("questionnaire", "http://x.org/q")) == every
    versioned = found_ids(module_client, "QuestionnaireResponse", ("questionnaire", "http://x.org/q|2.0"))
    assert versioned == names(clinic, "responses", "carl")
    assert found_ids(module_client, "QuestionnaireResponse", ("questionnaire", "http://x.org/q|3.0")) == set()
    assert found_ids(module_client, "QuestionnaireResponse", ("questionnaire", "http://x.org")) == set()


def test_a_canonical_reference_leads_to_the_resource_with_that_url(module_client: TestClient, clinic: Clinic) -> None:
    every = names(clinic, "responses", "anna", "bob", "carl")
    assert found_ids(module_client, "QuestionnaireResponse", ("questionnaire.title", "intake")) == every
    assert found_ids(module_client, "QuestionnaireResponse", ("questionnaire.title", "discharge")) == set()
    questionnaire = clinic.questionnaire["id"]
    having = found_ids(
        module_client, "Questionnaire", ("_has:QuestionnaireResponse:questionnaire:status", "in-progress")
    )
    assert having == {questionnaire}
    anna = clinic.id("responses", "anna")
    included = search(
        module_client, "QuestionnaireResponse", [("_id", anna), ("_include", "QuestionnaireResponse:questionnaire")]
    )
    assert _modes(included) == {anna: "match", questionnaire: "include"}
    referring = search(
        module_client, "Questionnaire", [("_id", questionnaire), ("_revinclude", "QuestionnaireResponse:questionnaire")]
    )
    assert _modes(referring) == {questionnaire: "match", **dict.fromkeys(every, "include")}


def test_reverse_chain_finds_resources_referenced_by_matching_ones(module_client: TestClient, clinic: Clinic) -> None:
    found = found_ids(module_client, "Patient", ("_has:Appointment:patient:status", "booked"))
    assert found == names(clinic, "patients", "anna", "carl")
    chained = found_ids(module_client, "Patient", ("_has:Appointment:patient:actor:Practitioner.family", "yang"))
    assert chained == names(clinic, "patients", "bob")
    nested = found_ids(
        module_client, "Practitioner", ("_has:Appointment:actor:_has:QuestionnaireResponse:subject:status", "completed")
    )
    assert nested == set()  # a QuestionnaireResponse's subject is a Patient, never an Appointment


def test_reverse_chain_with_a_parameter_the_source_lacks_is_refused(module_client: TestClient) -> None:
    response = module_client.get("/fhir/Patient", params={"_has:Appointment:patient:bogus": "x"})
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == ["bogus"]


# --- _include and _revinclude --------------------------------------------------------------------------------


def _modes(bundle: Json) -> dict[str, str]:
    return {e["resource"]["id"]: e["search"]["mode"] for e in bundle.get("entry", [])}


def test_include_adds_referenced_resources_as_include_entries(module_client: TestClient, clinic: Clinic) -> None:
    a1 = clinic.id("appointments", "a1")
    bundle = search(module_client, "Appointment", [("_id", a1), ("_include", "Appointment:patient")])
    assert _modes(bundle) == {a1: "match", clinic.id("patients", "anna"): "include"}
    assert bundle["total"] == 1
    typed = search(module_client, "Appointment", [("_id", a1), ("_include", "Appointment:actor:Practitioner")])
    assert _modes(typed) == {a1: "match", clinic.id("practitioners", "Karev"): "include"}
    everything = search(module_client, "Appointment", [("_id", a1), ("_include", "*")])
    assert set(_modes(everything)) == {a1, clinic.id("patients", "anna"), clinic.id("practitioners", "Karev")}


def test_revinclude_adds_referring_resources(module_client: TestClient, clinic: Clinic) -> None:
    anna = clinic.id("patients", "anna")
    bundle = search(module_client, "Patient", [("_id", anna), ("_revinclude", "Appointment:patient")])
    assert _modes(bundle) == {anna: "match", clinic.id("appointments", "a1"): "include"}


def test_revinclude_of_everything_adds_every_referring_resource(module_client: TestClient, clinic: Clinic) -> None:
    anna = clinic.id("patients", "anna")
    modes = _modes(search(module_client, "Patient", [("_id", anna), ("_revinclude", "*")]))
    referring = {clinic.id("appointments", "a1"), clinic.id("responses", "anna"), clinic.id("studies", "versioned")}
    assert modes == {anna: "match", **dict.fromkeys(referring, "include")}


def test_revinclude_ignores_another_servers_references(module_client: TestClient, clinic: Clinic) -> None:
    """The study's referrer and bob's response's author are elsewhere, with ids of ours."""
    yang = clinic.id("practitioners", "Yang")
    assert _modes(search(module_client, "Practitioner", [("_id", yang), ("_revinclude", "ImagingStudy:referrer")])) == {
        yang: "match"
    }
    anna = clinic.id("patients", "anna")
    by_author = search(module_client, "Patient", [("_id", anna), ("_revinclude", "QuestionnaireResponse:author")])
    assert _modes(by_author) == {anna: "match"}


def test_iterate_follows_references_of_included_resources(module_client: TestClient, clinic: Clinic) -> None:
    a1 = clinic.id("appointments", "a1")
    params = [
        ("_id", a1),
        ("_include", "Appointment:patient"),
        ("_include:iterate", "Patient:general-practitioner"),
        ("_revinclude:iterate", "QuestionnaireResponse:subject"),
    ]
    modes = _modes(search(module_client, "Appointment", params))
    assert modes == {
        a1: "match",
        clinic.id("patients", "anna"): "include",
        clinic.id("practitioners", "Yang"): "include",
        clinic.id("responses", "anna"): "include",
    }
    without = _modes(search(module_client, "Appointment", params[:3]))
    assert clinic.id("responses", "anna") not in without


def test_include_of_another_type_without_iterate_is_refused(module_client: TestClient) -> None:
    response = module_client.get("/fhir/Appointment", params={"_include": "Patient:general-practitioner"})
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == ["_include"]


# --- _sort ---------------------------------------------------------------------------------------------------


def _order(client: TestClient, resource_type: str, *params: tuple[str, str]) -> list[str]:
    return ids(search(client, resource_type, list(params)))


def test_sort_by_one_key_ascending_and_descending(module_client: TestClient, clinic: Clinic) -> None:
    people = ("family", "smith,jones")
    anna, bob, carl = (clinic.id("patients", n) for n in ("anna", "bob", "carl"))
    assert _order(module_client, "Patient", people, ("_sort", "family")) == [carl, anna, bob]
    assert _order(module_client, "Patient", people, ("_sort", "-birthdate")) == [carl, bob, anna]
    assert _order(module_client, "Patient", people, ("_sort", "birthdate")) == [anna, bob, carl]


def test_sort_by_several_keys(module_client: TestClient, clinic: Clinic) -> None:
    people = ("family", "smith,jones")
    anna, bob, carl = (clinic.id("patients", n) for n in ("anna", "bob", "carl"))
    assert _order(module_client, "Patient", people, ("_sort", "gender,-family")) == [anna, bob, carl]
    assert _order(module_client, "Patient", people, ("_sort", "-gender,family")) == [carl, bob, anna]


def test_sort_puts_resources_without_the_value_last(module_client: TestClient, clinic: Clinic) -> None:
    found = _order(module_client, "Patient", ("family", "smith,pagewalker"), ("_sort", "birthdate"), ("_count", "100"))
    assert found[:2] == [clinic.id("patients", "anna"), clinic.id("patients", "bob")]
    assert len(found) == 2 + PAGING_PATIENTS


def test_sort_by_an_unknown_parameter_is_refused(module_client: TestClient) -> None:
    response = module_client.get("/fhir/Patient", params={"_sort": "-shoesize"})
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == ["shoesize"]
