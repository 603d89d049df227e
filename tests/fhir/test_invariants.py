"""The invariants of the R4 definitions (http://hl7.org/fhir/R4/conformance-rules.html#constraints), evaluated
with fhirpathpy, and the few checked in Python instead."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.fhir.invariants import IN_PYTHON, UNCOUNTED, Declared, broken, declarations, holds, unparsed
from fhir_server.fhir.structure import Constraint, definitions


def _keys(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(constraint.key, where) for constraint, where in broken(resource)]


def _constraint(type_name: str, key: str) -> Constraint:
    return next(c for c in definitions().elements[type_name][type_name].constraints if c.key == key)


def test_fhirpathpy_parses_every_error_invariant_of_r4() -> None:
    assert unparsed() == []


def test_an_invariant_of_a_resource_is_reported_with_its_key() -> None:
    booked = {
        "resourceType": "Appointment",
        "status": "booked",
        "participant": [{"status": "accepted", "type": [{"text": "x"}]}],
    }
    assert _keys(booked) == [("app-3", "Appointment")]
    assert _keys({**booked, "status": "waitlist"}) == []


def test_a_code_with_extensions_is_compared_by_its_value() -> None:
    """fhirpathpy takes ``"use": "home"`` beside ``"_use"`` as unequal to 'home': the view without the sibling."""
    extended = {"extension": [{"url": "http://example.org/why", "valueString": "moved"}]}
    home = {"resourceType": "Organization", "name": "x", "address": [{"use": "home", "_use": extended}]}
    assert _keys(home) == [("org-2", "Organization.address[0]")]
    work = {**home, "address": [{"use": "work", "_use": extended}]}
    assert _keys(work) == []
    bare = {**home, "_name": {"extension": [{"url": "http://example.org/why"}]}}
    assert ("ext-1", "Organization.name.extension[0]") in _keys(bare)


def test_an_invariant_of_a_backbone_element_names_the_element() -> None:
    patient = {"resourceType": "Patient", "contact": [{"gender": "male"}]}
    assert _keys(patient) == [("pat-1", "Patient.contact[0]")]


def test_an_invariant_of_a_data_type_is_checked_wherever_the_type_is_used() -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "valueQuantity": {"value": 1, "code": "mg"},
        "effectivePeriod": {"start": "2020-02-01", "end": "2020-01-01"},
    }
    assert sorted(_keys(observation)) == [
        ("per-1", "Observation.effectivePeriod"),
        ("qty-3", "Observation.valueQuantity"),
    ]


def test_an_invariant_of_a_content_reference_is_checked_at_every_depth() -> None:
    item = {"linkId": "1.1", "type": "display", "required": True}
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [{"linkId": "1", "type": "group", "item": [item]}],
    }
    assert ("que-6", "Questionnaire.item[0].item[0]") in _keys(questionnaire)


def test_a_contained_resource_sees_itself_as_resource_and_its_container_as_root() -> None:
    """obs-7 reads %resource (the contained Observation), ref-1 %rootResource (the container)."""
    code_2 = {"coding": [{"system": "http://loinc.org", "code": "2"}]}
    patient = {"resourceType": "Patient", "id": "p"}
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1"}]},
        "valueString": "x",
        "component": [{"code": code_2}],
        "subject": {"reference": "#p"},
    }
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": code_2,
        "contained": [observation, patient],
        "result": [{"reference": "#o"}],
        "subject": {"reference": "#p"},
    }
    assert _keys(report) == []
    assert _keys({**report, "subject": {"reference": "#nobody"}}) == [("ref-1", "DiagnosticReport.subject")]
    clashing = {**observation, "code": code_2}
    assert _keys({**report, "contained": [clashing, patient]}) == [("obs-7", "DiagnosticReport.contained[0]")]


def test_dom_invariants_on_contained_resources() -> None:
    nested = {
        "resourceType": "Patient",
        "id": "p",
        "meta": {"versionId": "1"},
        "contained": [{"resourceType": "Patient", "id": "q"}],
    }
    report = {"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "x"}, "contained": [nested]}
    assert sorted(_keys(report)) == [
        ("dom-2", "DiagnosticReport"),
        ("dom-3", "DiagnosticReport"),
        ("dom-3", "DiagnosticReport.contained[0]"),  # the nested one is referenced from nowhere either
        ("dom-4", "DiagnosticReport"),
    ]


def test_a_bundle_invariant_is_checked() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Patient"}}]}
    assert ("bdl-3", "Bundle") in _keys(bundle)


# --- the invariants checked in Python answer as fhirpathpy does -----------------------------------------------

_SAME_AS_FHIRPATHPY: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("Reference", "ref-1", {"reference": "Patient/1"}, {}),
    ("Reference", "ref-1", {"reference": "#p"}, {"contained": [{"resourceType": "Patient", "id": "p"}]}),
    ("Reference", "ref-1", {"reference": "#q"}, {"contained": [{"resourceType": "Patient", "id": "p"}]}),
    ("Reference", "ref-1", {"display": "x"}, {}),
    ("Extension", "ext-1", {"url": "u", "valueString": "x"}, {}),
    ("Extension", "ext-1", {"url": "u", "extension": [{"url": "v", "valueString": "x"}]}, {}),
    ("Extension", "ext-1", {"url": "u"}, {}),
    ("Extension", "ext-1", {"url": "u", "valueString": "x", "extension": [{"url": "v", "valueString": "x"}]}, {}),
    ("Quantity", "qty-3", {"value": 1, "code": "mg", "system": "http://unitsofmeasure.org"}, {}),
    ("Quantity", "qty-3", {"value": 1, "code": "mg"}, {}),
    ("Quantity", "qty-3", {"value": 1}, {}),
    ("DomainResource", "dom-2", {"resourceType": "Patient", "contained": [{"resourceType": "Patient", "id": "q"}]}, {}),
    (
        "DomainResource",
        "dom-2",
        {
            "resourceType": "Patient",
            "contained": [{"resourceType": "Patient", "id": "q", "contained": [{"resourceType": "Patient"}]}],
        },
        {},
    ),
    (
        "DomainResource",
        "dom-4",
        {
            "resourceType": "Patient",
            "contained": [{"resourceType": "Patient", "meta": {"lastUpdated": "2020-01-01T00:00:00Z"}}],
        },
        {},
    ),
    (
        "DomainResource",
        "dom-4",
        {"resourceType": "Patient", "contained": [{"resourceType": "Patient", "meta": {"tag": [{"code": "x"}]}}]},
        {},
    ),
    (
        "DomainResource",
        "dom-5",
        {"resourceType": "Patient", "contained": [{"resourceType": "Patient", "meta": {"security": [{"code": "R"}]}}]},
        {},
    ),
    ("DomainResource", "dom-5", {"resourceType": "Patient"}, {}),
]


@pytest.mark.parametrize(("type_name", "key", "value", "root"), _SAME_AS_FHIRPATHPY)
def test_an_invariant_checked_in_python_answers_as_fhirpathpy(
    type_name: str, key: str, value: dict[str, Any], root: dict[str, Any]
) -> None:
    constraint = _constraint(type_name, key)
    root = root or value
    at = Declared((constraint,), value, type_name, type_name, root, root)
    in_python = holds(constraint, at)
    by_fhirpathpy = IN_PYTHON.pop(key)
    try:
        assert holds(constraint, at, strict=True) == in_python
    finally:
        IN_PYTHON[key] = by_fhirpathpy


def test_ref_1_takes_a_reference_to_the_container() -> None:
    """``#`` names the container (references.html#contained); R4's ref-1 expression alone would refuse it."""
    mother = {"resourceType": "RelatedPerson", "id": "mum", "patient": {"reference": "#"}}
    assert _keys({"resourceType": "Patient", "contained": [mother]}) == []
    orphan = {**mother, "patient": {"reference": "#nobody"}}
    assert ("ref-1", "Patient.contained[0].patient") in _keys({"resourceType": "Patient", "contained": [orphan]})


def test_que_7_takes_a_fhir_boolean_answer_as_a_boolean() -> None:
    """fhirpathpy answers ``answerBoolean is Boolean`` with false; FHIRPath converts FHIR boolean to Boolean."""

    def questionnaire(when: dict[str, Any]) -> dict[str, Any]:
        first = {"linkId": "1", "type": "boolean"}
        return {
            "resourceType": "Questionnaire",
            "status": "draft",
            "item": [first, {**first, "linkId": "2", "enableWhen": [when]}],
        }

    assert _keys(questionnaire({"question": "1", "operator": "exists", "answerBoolean": True})) == []
    assert _keys(questionnaire({"question": "1", "operator": "exists", "answerString": "x"})) == [
        ("que-7", "Questionnaire.item[1].enableWhen[0]")
    ]


@pytest.mark.parametrize(
    ("member", "kept"),
    [
        ("Practitioner/1", True),
        ("RelatedPerson/1", False),
        ("#pr", True),
        ("#rp", False),
        ("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", True),
    ],
)
def test_ctm_1_reads_the_member_type_off_its_reference(member: str, kept: bool) -> None:
    """fhirpathpy has no resolve(); a member acting on behalf of an organization must be a Practitioner."""
    participant = {"member": {"reference": member}, "onBehalfOf": {"reference": "Organization/o"}}
    contained = [
        {"resourceType": "Practitioner", "id": "pr"},
        {"resourceType": "RelatedPerson", "id": "rp", "patient": {"reference": "Patient/p"}},
    ]
    team = {"resourceType": "CareTeam", "contained": contained, "participant": [participant]}
    found = [key for key in _keys(team) if key[0] == "ctm-1"]  # dom-3: the contained ones are not all referenced
    assert found == ([] if kept else [("ctm-1", "CareTeam.participant[0]")])


def test_que_13_takes_an_item_without_repeats_as_not_repeating() -> None:
    """fhirpathpy answers empty for ``repeats=true or ...`` when repeats is absent; the HL7 validators take it as
    false."""
    initial = [{"valueString": "a"}, {"valueString": "b"}]
    item = {"linkId": "1", "type": "string", "initial": initial}
    questionnaire = {"resourceType": "Questionnaire", "status": "active", "item": [item]}
    assert _keys(questionnaire) == [("que-13", "Questionnaire.item[0]")]
    assert _keys({**questionnaire, "item": [{**item, "repeats": False}]}) == [("que-13", "Questionnaire.item[0]")]
    assert _keys({**questionnaire, "item": [{**item, "repeats": True}]}) == []
    assert _keys({**questionnaire, "item": [{**item, "initial": initial[:1]}]}) == []


def test_python_checks_cover_what_fhirpathpy_gets_wrong() -> None:
    """per-1 compares dateTimes with their zones; values of different precision that overlap are not refused."""
    period = _constraint("Period", "per-1")

    def ordered(start: str, end: str) -> bool:
        value = {"start": start, "end": end}
        return holds(period, Declared((period,), value, "Period", "Period", value, value))

    assert ordered("2020-01-01T10:00:00+02:00", "2020-01-01T09:00:00Z")
    assert not ordered("2020-01-01T10:00:00Z", "2020-01-01T09:00:00Z")
    assert ordered("2020-01", "2020-01-15")
    assert not ordered("2021", "2020-12-31")


# --- cost ---------------------------------------------------------------------------------------------------


def test_declarations_are_counted_once_per_object() -> None:
    patient = {"resourceType": "Patient", "contact": [{"gender": "male"}] * 3}
    assert [d.expression for d in declarations(patient)] == ["Patient", *(f"Patient.contact[{i}]" for i in range(3))]


def test_a_large_resource_is_checked_within_the_step_budget() -> None:
    """More than UNCOUNTED objects: evaluated under the step budget, and still checked."""
    contacts = [{"name": {"family": f"N{i}"}} for i in range(UNCOUNTED)] + [{"gender": "male"}]
    assert _keys({"resourceType": "Patient", "contact": contacts}) == [("pat-1", f"Patient.contact[{UNCOUNTED}]")]
