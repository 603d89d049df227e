"""The structure check from the R4 StructureDefinitions (http://hl7.org/fhir/R4/json.html): every rule, with its
issue code and the element it names."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.fhir.content_rules import rule_issues
from fhir_server.fhir.structure_validation import structure_issues
from tests.fhir.r4_examples import VALID


def _found(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue.code, issue.expression[0]) for issue in structure_issues(resource)]


def _patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **elements}


@pytest.mark.parametrize("resource", VALID, ids=lambda r: f"{r['resourceType']}/{r.get('id', '')}")
def test_valid_resources_of_many_types_pass(resource: dict[str, Any]) -> None:
    assert structure_issues(resource) == []
    assert rule_issues(resource) == []


# --- primitives: JSON types and formats ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"active": 1}, "Patient.active"),
        ({"active": "yes"}, "Patient.active"),
        ({"active": "true"}, "Patient.active"),
        ({"multipleBirthInteger": "2"}, "Patient.multipleBirthInteger"),
        ({"multipleBirthInteger": 2.5}, "Patient.multipleBirthInteger"),
        ({"multipleBirthInteger": True}, "Patient.multipleBirthInteger"),
        ({"multipleBirthInteger": 2**31}, "Patient.multipleBirthInteger"),
        ({"birthDate": "1990-02-30T10:00:00Z"}, "Patient.birthDate"),
        ({"birthDate": "12/04/1990"}, "Patient.birthDate"),
        ({"birthDate": 1990}, "Patient.birthDate"),
        ({"deceasedDateTime": "2020-01-01T10:00"}, "Patient.deceasedDateTime"),
        ({"gender": "female "}, "Patient.gender"),
        ({"id": "a_b"}, "Patient.id"),
        ({"meta": {"lastUpdated": "2020-01-01"}}, "Patient.meta.lastUpdated"),
        ({"identifier": [{"system": "urn:oid:1.2 3"}]}, "Patient.identifier[0].system"),
        ({"photo": [{"data": "not base64!"}]}, "Patient.photo[0].data"),
        ({"contact": [{"name": {"given": [7]}}]}, "Patient.contact[0].name.given[0]"),
        ({"communication": [{"language": {"text": "fr"}, "preferred": "yes"}]}, "Patient.communication[0].preferred"),
        ({"name": [{"family": "Doe\x00"}]}, "Patient.name[0].family"),
    ],
)
def test_a_primitive_of_the_wrong_json_type_or_format_is_a_value_issue(
    elements: dict[str, Any], expression: str
) -> None:
    assert _found(_patient(**elements)) == [("value", expression)]


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        (
            {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueInteger": 1.5},
            "Observation.valueInteger",
        ),
        (
            {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": "7"}},
            "Observation.valueQuantity.value",
        ),
        (
            {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueTime": "25:00:00"},
            "Observation.valueTime",
        ),
        (
            {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "issued": "2020-01-01T10:00:00"},
            "Observation.issued",
        ),
        (
            {
                "resourceType": "ImagingStudy",
                "status": "available",
                "subject": {"reference": "Patient/1"},
                "numberOfSeries": -1,
            },
            "ImagingStudy.numberOfSeries",
        ),
        (
            {
                "resourceType": "Questionnaire",
                "status": "draft",
                "item": [{"linkId": "1", "type": "string", "maxLength": "5"}],
            },
            "Questionnaire.item[0].maxLength",
        ),
    ],
)
def test_numbers_times_and_instants_follow_their_types(resource: dict[str, Any], expression: str) -> None:
    assert _found(resource) == [("value", expression)]


def test_a_message_never_echoes_a_raw_control_character() -> None:
    (issue,) = structure_issues(_patient(birthDate="\x1b[31m1990\u202e"))
    assert "\x1b" not in issue.diagnostics and "\u202e" not in issue.diagnostics
    assert "\\x1b" in issue.diagnostics


# --- null and empty values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"gender": None}, "Patient.gender"),
        ({"name": None}, "Patient.name"),
        ({"name": [None]}, "Patient.name[0]"),
        ({"name": [{"given": ["Ann", None]}]}, "Patient.name[0].given[1]"),
        ({"name": [{"given": ["Ann", None], "_given": [None, None]}]}, "Patient.name[0].given[1]"),
        ({"name": [{"_given": [None]}]}, "Patient.name[0]._given[0]"),
        ({"gender": ""}, "Patient.gender"),
        ({"name": []}, "Patient.name"),
        ({"name": [{}]}, "Patient.name[0]"),
        ({"meta": {}}, "Patient.meta"),
    ],
)
def test_null_and_empty_values_are_refused(elements: dict[str, Any], expression: str) -> None:
    assert _found(_patient(**elements)) == [("structure", expression)]


def test_null_in_a_primitive_array_is_allowed_where_its_extension_array_has_a_value() -> None:
    extension = {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}
    assert _found(_patient(name=[{"given": ["Ann", None], "_given": [None, extension]}])) == []


# --- unknown elements and _x siblings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"colour": "blue"}, "Patient.colour"),
        ({"name": [{"surname": "Doe"}]}, "Patient.name[0].surname"),
        ({"_colour": {"id": "x"}}, "Patient._colour"),
        ({"_name": {"id": "x"}}, "Patient._name"),
        ({"meta": {"project": "other-server"}}, "Patient.meta.project"),
        ({"_gender": {"colour": "x"}}, "Patient._gender.colour"),
        ({"_gender": "female"}, "Patient._gender"),
        ({"_gender": [{"id": "x"}]}, "Patient._gender"),
        ({"name": [{"given": ["Ann"], "_given": [{"id": "a"}, {"id": "b"}]}]}, "Patient.name[0]._given"),
        ({"name": [{"_given": {"id": "a"}}]}, "Patient.name[0]._given"),
        (
            {"extension": [{"url": "http://example.org/x", "_url": {"id": "u"}, "valueString": "y"}]},
            "Patient.extension[0]._url",
        ),
        ({"deceasedDate": "2020-01-01"}, "Patient.deceasedDate"),
        ({"valueString": "x"}, "Patient.valueString"),
    ],
)
def test_an_unknown_element_or_misshapen_extension_sibling_is_a_structure_issue(
    elements: dict[str, Any], expression: str
) -> None:
    assert _found(_patient(**elements)) == [("structure", expression)]


def test_a_primitive_with_only_its_extension_sibling_is_accepted() -> None:
    absent = {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
    }
    assert _found(_patient(_gender=absent)) == []


# --- cardinality, arrays and choice types -------------------------------------------------------------------


def test_a_repeating_element_given_one_value_and_a_single_one_given_an_array_are_refused() -> None:
    assert _found(_patient(name={"family": "Doe"}, gender=["female"])) == [
        ("structure", "Patient.name"),
        ("structure", "Patient.gender"),
    ]


def test_a_missing_required_element_is_a_required_issue_naming_it() -> None:
    assert _found({"resourceType": "Observation", "code": {"text": "x"}}) == [("required", "Observation.status")]
    assert _found({"resourceType": "Patient", "link": [{"type": "seealso"}]}) == [("required", "Patient.link[0].other")]
    assert _found({"resourceType": "Observation", "status": "final"}) == [("required", "Observation.code")]


def test_a_required_choice_element_is_present_under_any_of_its_names() -> None:
    extension = {"url": "http://example.org/x", "valueBoolean": True}
    answer = {"resourceType": "QuestionnaireResponse", "status": "completed"}
    assert _found({**answer, "item": [{"linkId": "1", "answer": [{"valueCoding": {"code": "y"}}]}]}) == []
    assert _found(_patient(extension=[extension])) == []
    assert (
        _found(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "component": [{"code": {"text": "y"}}],
            }
        )
        == []
    )


def test_a_choice_element_takes_exactly_one_allowed_type() -> None:
    assert _found(_patient(deceasedBoolean=True, deceasedDateTime="2020")) == [
        ("structure", "Patient.deceasedDateTime")
    ]
    assert _found(
        {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueAddress": {"city": "x"}}
    ) == [("structure", "Observation.valueAddress")]


def test_more_values_than_max_are_refused() -> None:
    """Timing.repeat... none in R4 has a max above 1 but *; an array where max is 1 is the case that occurs."""
    assert _found(_patient(multipleBirthBoolean=[True])) == [("structure", "Patient.multipleBirthBoolean")]


# --- nested resources ---------------------------------------------------------------------------------------


def test_a_contained_resource_is_validated_by_its_own_type() -> None:
    resource = _patient(contained=[{"resourceType": "Practitioner", "id": "p", "gender": " x", "colour": 1}])
    assert _found(resource) == [("value", "Patient.contained[0].gender"), ("structure", "Patient.contained[0].colour")]


def test_a_bundle_entry_resource_is_validated_by_its_own_type_naming_the_entry() -> None:
    entries = [{"resource": {"resourceType": "Patient"}}] * 3 + [
        {"resource": {"resourceType": "Patient", "gender": None}}
    ]
    assert _found({"resourceType": "Bundle", "type": "collection", "entry": entries}) == [
        ("structure", "Bundle.entry[3].resource.gender")
    ]


def test_a_parameters_resource_is_validated_by_its_own_type() -> None:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "r", "resource": {"resourceType": "Patient", "active": 1}}],
    }
    assert _found(parameters) == [("value", "Parameters.parameter[0].resource.active")]


@pytest.mark.parametrize("resource_type", ["Resource", "DomainResource", "MetadataResource", "Dog", None])
def test_an_unknown_or_abstract_nested_resource_type_is_refused(resource_type: str | None) -> None:
    resource = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": resource_type}}],
    }
    assert _found(resource) == [("structure", "Bundle.entry[0].resource.resourceType")]


def test_an_unknown_resource_type_is_not_supported() -> None:
    assert _found({"resourceType": "Dog"}) == [("not-supported", "resourceType")]


# --- R4, not R4B --------------------------------------------------------------------------------------------


def test_r4_only_structures_are_accepted_and_r4b_only_ones_refused() -> None:
    """MedicinalProduct exists in R4 (R4B replaced it with MedicinalProductDefinition); R4B's
    ``Observation.performer`` is the same, but ``Meta`` has no elements beyond R4's."""
    assert _found({"resourceType": "MedicinalProduct", "name": [{"productName": "x"}]}) == []
    assert _found({"resourceType": "MedicinalProduct", "name": [{}]}) == [
        ("structure", "MedicinalProduct.name[0]"),
    ]
    assert _found({"resourceType": "MedicinalProductDefinition", "name": [{"productName": "x"}]}) == [
        ("not-supported", "resourceType")
    ]
