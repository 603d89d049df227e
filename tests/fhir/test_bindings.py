"""Required terminology bindings (http://hl7.org/fhir/R4/terminologies.html#required), from the official data."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.fhir.bindings import Binding, binding_issues, expand, required_bindings, violation
from fhir_server.fhir.structure import ElementDef, Node, definitions
from mappings.registry import MAPPINGS

MIMETYPES = "http://hl7.org/fhir/ValueSet/mimetypes"
CURRENCIES = "http://hl7.org/fhir/ValueSet/currencies"
UCUM = "http://hl7.org/fhir/ValueSet/ucum-units"
COMBINATION = "http://hl7.org/fhir/ValueSet/characteristic-combination"


def _expressions(resource: dict[str, Any]) -> list[str]:
    return [expression for issue in binding_issues(resource) for expression in issue.expression]


# --- the table ----------------------------------------------------------------------------------------------


def test_skips_only_the_bindings_whose_external_code_systems_the_data_does_not_enumerate() -> None:
    """A known, visible decision: MIME types (urn:ietf:bcp:13), currencies (ISO 4217) and UCUM units are not
    checked, nor the two value sets the R4 data cannot expand offline (characteristic-combination, LOINC LL379-9)."""
    assert dict(required_bindings().skipped) == {
        "Attachment.contentType": MIMETYPES,
        "Binary.contentType": MIMETYPES,
        "CapabilityStatement.format": MIMETYPES,
        "CapabilityStatement.patchFormat": MIMETYPES,
        "EffectEvidenceSynthesis.effectEstimate.unitOfMeasure": UCUM,
        "ElementDefinition.mapping.language": MIMETYPES,
        "Endpoint.payloadMimeType": MIMETYPES,
        "EvidenceVariable.characteristic.definitionByCombination.code": COMBINATION,
        "MolecularSequence.structureVariant.variantType": "http://loinc.org/vs/LL379-9",
        "Money.currency": CURRENCIES,
        "ResearchElementDefinition.characteristic.unitOfMeasure": UCUM,
        "RiskEvidenceSynthesis.riskEstimate.unitOfMeasure": UCUM,
        "Signature.sigFormat": MIMETYPES,
        "Signature.targetFormat": MIMETYPES,
        "Subscription.channel.payload": MIMETYPES,
        "TestScript.setup.action.assert.contentType": MIMETYPES,
        "TestScript.setup.action.operation.accept": MIMETYPES,
        "TestScript.setup.action.operation.contentType": MIMETYPES,
    }


@pytest.mark.parametrize("type_name", [*sorted(MAPPINGS), "HumanName", "ContactPoint", "Address", "Quantity"])
def test_checks_every_other_required_binding_of_the_served_types_and_their_data_types(type_name: str) -> None:
    table = required_bindings()
    required = [e.path for e in definitions().elements[type_name].values() if e.binding_strength == "required"]
    checked = [path for path in required if path not in table.skipped]
    assert all(table.by_path[path].codes for path in checked)
    assert len(table.by_path) + len(table.skipped) == sum(
        e.binding_strength == "required" for elements in definitions().elements.values() for e in elements.values()
    )


def test_value_sets_drawing_explicit_concepts_from_an_absent_code_system_are_expanded() -> None:
    """units-of-time lists its UCUM codes explicitly: UCUM itself need not be present."""
    binding = required_bindings().by_path["Timing.repeat.durationUnit"]
    assert binding.codes == {"s", "min", "h", "d", "wk", "mo", "a"}


def test_nested_concepts_belong_to_a_whole_system_value_set() -> None:
    assert "maiden" in required_bindings().by_path["HumanName.use"].codes  # under "old"
    assert "string" in required_bindings().by_path["Questionnaire.item.type"].codes  # under "question"


def test_not_selectable_concepts_are_not_valid_codes() -> None:
    assert "question" not in required_bindings().by_path["Questionnaire.item.type"].codes


# --- expansion of synthetic value sets ----------------------------------------------------------------------

SYSTEM = "http://example.org/cs"
CODE_SYSTEM = {
    "resourceType": "CodeSystem",
    "url": SYSTEM,
    "content": "complete",
    "concept": [
        {"code": "a", "concept": [{"code": "a1", "concept": [{"code": "a11"}]}, {"code": "a2"}]},
        {"code": "b", "property": [{"code": "kind", "valueCode": "x"}]},
        {"code": "g", "property": [{"code": "notSelectable", "valueBoolean": True}]},
    ],
}


def _expand(*includes: dict[str, Any], exclude: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    compose: dict[str, Any] = {"include": list(includes)}
    if exclude:
        compose["exclude"] = exclude
    value_sets = {"http://example.org/vs": {"url": "http://example.org/vs", "compose": compose}, **extra}
    codes = expand("http://example.org/vs", value_sets, {SYSTEM: CODE_SYSTEM})
    return None if codes is None else {code for _, code in codes}


def test_a_whole_system_brings_every_selectable_concept_at_every_depth() -> None:
    assert _expand({"system": SYSTEM}) == {"a", "a1", "a11", "a2", "b"}


@pytest.mark.parametrize(
    ("op", "value", "codes"),
    [
        ("is-a", "a1", {"a1", "a11"}),
        ("descendent-of", "a", {"a1", "a11", "a2"}),
        ("is-not-a", "a", {"b", "g"}),
    ],
)
def test_hierarchy_filters_select_by_nesting(op: str, value: str, codes: set[str]) -> None:
    rule = {"system": SYSTEM, "filter": [{"property": "concept", "op": op, "value": value}]}
    assert _expand(rule) == codes - {"g"}


def test_a_property_filter_selects_by_value() -> None:
    assert _expand({"system": SYSTEM, "filter": [{"property": "kind", "op": "=", "value": "x"}]}) == {"b"}


def test_excludes_remove_and_imports_intersect() -> None:
    imported: dict[str, Any] = {
        "url": "http://example.org/imp",
        "compose": {"include": [{"system": SYSTEM, "concept": [{"code": "b"}]}]},
    }
    assert _expand({"system": SYSTEM}, exclude=[{"system": SYSTEM, "concept": [{"code": "a11"}]}]) == {
        "a",
        "a1",
        "a2",
        "b",
    }
    imports: dict[str, Any] = {"http://example.org/imp": imported}
    assert _expand({"system": SYSTEM, "valueSet": ["http://example.org/imp"]}, **imports) == {"b"}


@pytest.mark.parametrize(
    "rule",
    [
        {"system": "http://example.org/unknown"},
        {"system": SYSTEM, "filter": [{"property": "concept", "op": "regex", "value": "a.*"}]},
        {"valueSet": ["http://example.org/missing"]},
    ],
    ids=["absent code system", "unsupported filter", "absent imported value set"],
)
def test_a_value_set_the_data_cannot_expand_is_unknown_rather_than_empty(rule: dict[str, Any]) -> None:
    assert _expand(rule) is None


def test_a_code_system_that_is_only_a_fragment_cannot_be_expanded_whole() -> None:
    fragment = {**CODE_SYSTEM, "content": "fragment"}
    value_sets = {"http://example.org/vs": {"compose": {"include": [{"system": SYSTEM}]}}}
    assert expand("http://example.org/vs", value_sets, {SYSTEM: fragment}) is None


# --- Coding and CodeableConcept (no base R4 element binds them as required; profiles do) ---------------------

BINDING = Binding("X.code", "http://example.org/vs", frozenset({(SYSTEM, "a"), (SYSTEM, "b")}))


def _node(type_code: str, value: Any) -> Node:
    return Node("X.code", ElementDef("X.code", (type_code,)), type_code, value)


def test_a_coding_must_be_one_of_the_value_sets_concepts_system_and_code_together() -> None:
    assert violation(BINDING, _node("Coding", {"system": SYSTEM, "code": "a"})) is None
    assert violation(BINDING, _node("Coding", {"system": SYSTEM, "code": "zz"})) is not None
    assert violation(BINDING, _node("Coding", {"system": "http://other.org", "code": "a"})) is not None
    assert violation(BINDING, _node("Coding", {"code": "a"})) is not None


def test_a_codeable_concept_needs_at_least_one_coding_from_the_value_set() -> None:
    translated = {"coding": [{"system": "http://other.org", "code": "q"}, {"system": SYSTEM, "code": "b"}]}
    assert violation(BINDING, _node("CodeableConcept", translated)) is None
    outside = {"coding": [{"system": "http://other.org", "code": "q"}]}
    assert "none of the codings" in str(violation(BINDING, _node("CodeableConcept", outside)))
    assert violation(BINDING, _node("CodeableConcept", {"text": "just words"})) is not None


# --- resources ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        ({"resourceType": "Patient", "gender": "dog"}, "Patient.gender"),
        ({"resourceType": "Patient", "contact": [{"gender": "cat"}]}, "Patient.contact[0].gender"),
        (
            {"resourceType": "Patient", "link": [{"other": {"reference": "Patient/1"}, "type": "x"}]},
            "Patient.link[0].type",
        ),
        ({"resourceType": "Practitioner", "gender": "M"}, "Practitioner.gender"),
        ({"resourceType": "Organization", "telecom": [{"system": "beeper"}]}, "Organization.telecom[0].system"),
        ({"resourceType": "Patient", "telecom": [{"system": "phone", "use": "cell"}]}, "Patient.telecom[0].use"),
        ({"resourceType": "Patient", "name": [{}, {"use": "offical"}]}, "Patient.name[1].use"),
        ({"resourceType": "Patient", "identifier": [{"use": "primary"}]}, "Patient.identifier[0].use"),
        ({"resourceType": "Patient", "address": [{"use": "house"}]}, "Patient.address[0].use"),
        ({"resourceType": "Patient", "address": [{"type": "email"}]}, "Patient.address[0].type"),
        ({"resourceType": "Patient", "text": {"status": "done", "div": "<div/>"}}, "Patient.text.status"),
        (
            {"resourceType": "Patient", "identifier": [{"assigner": {"identifier": {"use": "x"}}}]},
            "Patient.identifier[0].assigner.identifier.use",
        ),
        ({"resourceType": "Appointment", "status": "confirmed"}, "Appointment.status"),
        (
            {"resourceType": "Appointment", "participant": [{"status": "accepted"}, {"status": "maybe"}]},
            "Appointment.participant[1].status",
        ),
        ({"resourceType": "Appointment", "participant": [{"required": "yes"}]}, "Appointment.participant[0].required"),
        ({"resourceType": "Endpoint", "status": "on"}, "Endpoint.status"),
        ({"resourceType": "ImagingStudy", "status": "done"}, "ImagingStudy.status"),
        ({"resourceType": "Questionnaire", "status": "published"}, "Questionnaire.status"),
        ({"resourceType": "Questionnaire", "subjectType": ["Patient", "Human"]}, "Questionnaire.subjectType[1]"),
        ({"resourceType": "Questionnaire", "item": [{"type": "question"}]}, "Questionnaire.item[0].type"),
        (
            {
                "resourceType": "Questionnaire",
                "item": [{"type": "group", "item": [{"type": "text", "item": [{"type": "txt"}]}]}],
            },
            "Questionnaire.item[0].item[0].item[0].type",
        ),
        (
            {"resourceType": "Questionnaire", "item": [{"enableWhen": [{"operator": "~"}]}]},
            "Questionnaire.item[0].enableWhen[0].operator",
        ),
        (
            {"resourceType": "Questionnaire", "item": [{"enableBehavior": "some"}]},
            "Questionnaire.item[0].enableBehavior",
        ),
        (
            {"resourceType": "Questionnaire", "item": [{"initial": [{"valueQuantity": {"comparator": "~"}}]}]},
            "Questionnaire.item[0].initial[0].valueQuantity.comparator",
        ),
        ({"resourceType": "QuestionnaireResponse", "status": "done"}, "QuestionnaireResponse.status"),
        (
            {"resourceType": "Patient", "extension": [{"url": "http://x", "valueAddress": {"use": "flat"}}]},
            "Patient.extension[0].valueAddress.use",
        ),
        (
            {"resourceType": "Patient", "extension": [{"url": "http://x", "valueAge": {"comparator": "about"}}]},
            "Patient.extension[0].valueAge.comparator",
        ),
        (
            {
                "resourceType": "Patient",
                "_birthDate": {"extension": [{"url": "http://x", "valueContactPoint": {"system": "fax2"}}]},
            },
            "Patient.birthDate.extension[0].valueContactPoint.system",
        ),
        (
            {"resourceType": "Patient", "contained": [{"resourceType": "Practitioner", "gender": "dog"}]},
            "Patient.contained[0].gender",
        ),
    ],
)
def test_a_code_outside_its_required_value_set_is_named_by_its_path(resource: dict[str, Any], expression: str) -> None:
    issues = binding_issues(resource)
    assert [i.expression for i in issues] == [(expression,)]
    assert issues[0].code == "code-invalid"
    assert "http://hl7.org/fhir/ValueSet/" in issues[0].diagnostics


def test_valid_codes_at_every_depth_pass() -> None:
    resource = {
        "resourceType": "Patient",
        "text": {"status": "generated", "div": "<div xmlns='http://www.w3.org/1999/xhtml'>x</div>"},
        "gender": "female",
        "name": [{"use": "maiden", "family": "Doe"}],
        "telecom": [{"system": "pager", "use": "mobile"}, {"system": "sms"}],
        "address": [{"use": "home", "type": "both"}],
        "identifier": [{"use": "official"}],
        "extension": [{"url": "http://x", "valueQuantity": {"comparator": ">="}}],
        "contained": [{"resourceType": "Practitioner", "id": "p", "gender": "unknown"}],
    }
    assert binding_issues(resource) == []


def test_questionnaire_item_types_nested_under_a_grouping_concept_are_valid() -> None:
    items = [{"linkId": str(i), "type": t} for i, t in enumerate(["group", "display", "string", "choice", "boolean"])]
    assert binding_issues({"resourceType": "Questionnaire", "status": "active", "item": items}) == []


def test_every_violation_is_listed_at_once() -> None:
    resource = {"resourceType": "Appointment", "status": "confirmed", "participant": [{"status": "x", "required": "y"}]}
    assert sorted(_expressions(resource)) == [
        "Appointment.participant[0].required",
        "Appointment.participant[0].status",
        "Appointment.status",
    ]


def test_a_skipped_binding_lets_any_code_through() -> None:
    """Endpoint.payloadMimeType is bound to MIME types, which the data cannot enumerate (see the skip list)."""
    assert binding_issues({"resourceType": "Endpoint", "status": "active", "payloadMimeType": ["x-made/up"]}) == []


def test_codes_are_case_sensitive() -> None:
    assert _expressions({"resourceType": "Patient", "gender": "Female"}) == ["Patient.gender"]
