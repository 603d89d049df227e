"""The smallest valid instance of any R4 resource type, from its StructureDefinition: every required element (at
any depth) with one plain value, codes of required bindings from their ValueSets, the first type of a choice.

Deterministic and fast (no search), for tests that need one resource of each of ~145 types; the property tests of
tests.roundtrip draw richer ones.
"""

from __future__ import annotations

from typing import Any

from fhir_server.fhir.bindings import required_bindings
from tests.roundtrip.definitions import Element, children, definition, is_primitive

PRIMITIVES: dict[str, Any] = {
    "boolean": True,
    "integer": 1,
    "positiveInt": 1,
    "unsignedInt": 1,
    "decimal": 1,
    "date": "2024-01-02",
    "dateTime": "2024-01-02T03:04:05Z",
    "instant": "2024-01-02T03:04:05Z",
    "time": "03:04:05",
    "uri": "http://example.org/minimal",
    "url": "http://example.org/minimal",
    "canonical": "http://example.org/minimal",
    "oid": "urn:oid:1.2.3",
    "uuid": "urn:uuid:4f3c1d2e-0b5a-4c7e-9a61-2d8f0e6b7c15",
    "id": "minimal",
    "base64Binary": "bWluaW1hbA==",
    "xhtml": '<div xmlns="http://www.w3.org/1999/xhtml">minimal</div>',
}
"""A valid value of each primitive type (any other, such as string, code and markdown: ``"minimal"``)."""
COMPLEX: dict[str, dict[str, Any]] = {
    "CodeableConcept": {"text": "minimal"},
    "Coding": {"system": "http://example.org/codes", "code": "minimal"},
    "Reference": {"display": "minimal"},
    "Identifier": {"system": "http://example.org/ids", "value": "minimal"},
    "Quantity": {"value": 1, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
    "Period": {"start": "2024-01-02T03:04:05Z"},
    "Narrative": {"status": "generated", "div": PRIMITIVES["xhtml"]},
}
"""The value given to a required element of these data types when no binding says more."""
INVARIANTS: dict[str, dict[str, Any]] = {
    "AllergyIntolerance": {
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}
            ]
        }
    },
    "AppointmentResponse": {"actor": {"display": "minimal"}},
    "Appointment": {"status": "proposed", "participant": [{"actor": {"display": "minimal"}, "status": "accepted"}]},
    "CapabilityStatement": {"kind": "requirements", "description": "minimal", "rest": [{"mode": "server"}]},
    "Consent": {"policyRule": {"text": "minimal"}},
    "EventDefinition": {"trigger": [{"type": "named-event", "name": "minimal"}]},
    "ImmunizationRecommendation": {
        "recommendation": [{"forecastStatus": {"text": "minimal"}, "vaccineCode": [{"text": "minimal"}]}]
    },
    "InsurancePlan": {"name": "minimal"},
    "Linkage": {
        "item": [
            {"type": "source", "resource": {"display": "one"}},
            {"type": "alternate", "resource": {"display": "two"}},
        ]
    },
    "TerminologyCapabilities": {"kind": "requirements", "description": "minimal"},
}
"""What a type's invariants require beyond its required elements (``ait-1``, ``app-1``, ``app-3``, ``apr-1``,
``cpb-1``, ``cpb-2``, ``ppc-1``, ``trd-3``, ``imr-1``, ``ipn-1``, ``lnk-1``, ``tcp-2``, ``tcp-4``)."""


def minimal(resource_type: str) -> dict[str, Any]:
    """The smallest valid ``resource_type`` (without ``id``)."""
    return {
        "resourceType": resource_type,
        **_required(resource_type, resource_type),
        **INVARIANTS.get(resource_type, {}),
    }


def _required(owner: str, parent_path: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for element in children(owner, parent_path):
        if element.min == 0 or element.name in {"id", "extension", "modifierExtension"}:
            continue
        type_code = element.types[0] if element.types else "BackboneElement"
        one = _value(owner, element, type_code)
        found[element.member(type_code)] = [one] if element.repeats else one
    return found


def _value(owner: str, element: Element, type_code: str) -> Any:
    codes = required_bindings().by_path.get(element.path)
    concept = sorted(codes.concepts)[0] if codes is not None and codes.concepts else None
    if is_primitive(type_code):
        return concept[1] if concept is not None else PRIMITIVES.get(type_code, "minimal")
    if concept is not None and type_code in {"Coding", "CodeableConcept"}:
        coding = {"system": concept[0], "code": concept[1]}
        return coding if type_code == "Coding" else {"coding": [coding]}
    if element.content_reference is not None:
        return _required(owner, element.content_reference.lstrip("#")) or {"id": "minimal"}
    if type_code in {"BackboneElement", "Element"}:
        return _required(owner, element.path) or {"id": "minimal"}
    if type_code in COMPLEX:
        return dict(COMPLEX[type_code])
    return _required(type_code, type_code) or {"id": "minimal"}


def is_known(resource_type: str) -> bool:
    """True when the StructureDefinitions describe ``resource_type``."""
    try:
        definition(resource_type)
    except KeyError:
        return False
    return True
