"""The rules beyond structure, each a 422: reference target types (``targetProfile``), invariants, required
bindings (http://hl7.org/fhir/R4/http.html#create: "violated applicable FHIR profiles")."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.errors import FhirError
from fhir_server.fhir.content_rules import check_rules, invariant_issues, rule_issues, target_issues


def _targets(resource: dict[str, Any]) -> list[str]:
    return [issue.expression[0] for issue in target_issues(resource)]


def test_a_reference_to_a_type_the_element_does_not_allow_names_the_element() -> None:
    patient = {
        "resourceType": "Patient",
        "generalPractitioner": [{"reference": "Practitioner/1"}, {"reference": "Patient/2"}],
    }
    (issue,) = target_issues(patient)
    assert (issue.code, issue.expression) == ("invalid", ("Patient.generalPractitioner[1]",))
    assert "a reference to a Patient is not allowed" in issue.diagnostics
    assert "Organization, Practitioner, PractitionerRole" in issue.diagnostics


@pytest.mark.parametrize(
    "reference",
    [
        "Organization/1",
        "https://other.example.org/fhir/PractitionerRole/7",
        "Practitioner/1/_history/2",
        "#contained",
        "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
        "Practitioner?identifier=x",
    ],
)
def test_allowed_or_untyped_references_pass(reference: str) -> None:
    assert _targets({"resourceType": "Patient", "generalPractitioner": [{"reference": reference}]}) == []


def test_an_absolute_reference_of_a_wrong_type_is_refused_too() -> None:
    patient = {"resourceType": "Patient", "managingOrganization": {"reference": "https://x.example.org/fhir/Patient/1"}}
    assert _targets(patient) == ["Patient.managingOrganization"]


def test_an_element_that_may_refer_to_any_resource_takes_every_type() -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "focus": [{"reference": "Dog/1"}],
    }
    assert _targets(observation) == []
    assert _targets({**observation, "derivedFrom": [{"reference": "Patient/1"}]}) == ["Observation.derivedFrom[0]"]


def test_targets_are_checked_in_contained_resources_and_data_types() -> None:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "note": [{"authorReference": {"reference": "Device/1"}, "text": "n"}],
        "contained": [
            {
                "resourceType": "Patient",
                "id": "p",
                "link": [{"other": {"reference": "Practitioner/1"}, "type": "seealso"}],
            }
        ],
    }
    assert _targets(resource) == ["Observation.note[0].authorReference", "Observation.contained[0].link[0].other"]


def test_an_invariant_issue_names_its_key_and_human_text() -> None:
    (issue,) = invariant_issues({"resourceType": "Patient", "contact": [{"gender": "male"}]})
    assert (issue.code, issue.expression) == ("invariant", ("Patient.contact[0]",))
    assert issue.diagnostics == (
        "Patient.contact[0]: pat-1: SHALL at least contain a contact's details or a reference to an organization"
    )


def test_ref_1_is_left_to_reference_integrity() -> None:
    """A ``#id`` naming no contained resource is reference integrity's to report (not-found, with the others)."""
    patient = {"resourceType": "Patient", "contact": [{"organization": {"reference": "#nowhere"}}]}
    assert invariant_issues(patient) == []


def test_check_rules_answers_422_listing_bindings_targets_and_invariants() -> None:
    patient = {
        "resourceType": "Patient",
        "gender": "dog",
        "generalPractitioner": [{"reference": "Patient/1"}],
        "contact": [{"gender": "male"}],
    }
    with pytest.raises(FhirError) as error:
        check_rules(patient)
    assert error.value.status == 422
    assert [(i.code, i.expression[0]) for i in error.value.issues] == [
        ("code-invalid", "Patient.gender"),
        ("invalid", "Patient.generalPractitioner[0]"),
        ("invariant", "Patient.contact[0]"),
    ]
    assert rule_issues({"resourceType": "Patient", "gender": "other"}) == []
