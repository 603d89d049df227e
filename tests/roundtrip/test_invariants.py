"""The invariant checker the generator and the demo proof rest on: it finds what breaks R4's invariants and
passes what keeps them (tests.roundtrip.invariants)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.roundtrip.invariants import violations

PARTICIPANTS = [{"actor": {"reference": "Patient/p"}, "status": "accepted"}]
BROKEN: dict[str, tuple[dict[str, Any], str]] = {
    "a period ending before it starts, across zones": (
        {"resourceType": "Patient",
         "name": [{"period": {"start": "2021-01-01T10:00:00Z", "end": "2021-01-01T12:00:00+05:00"}}]},
        "per-1 at Patient.name[0].period",
    ),
    "a local reference to no contained resource": (
        {"resourceType": "Patient", "link": [{"other": {"reference": "#nobody"}, "type": "seealso"}]},
        "ref-1 at Patient.link[0].other",
    ),
    "a contained resource nothing refers to": (
        {"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o", "name": "x"}]},
        "dom-3 at Patient",
    ),
    "a cancelation reason on a booked appointment": (
        {"resourceType": "Appointment", "status": "booked", "cancelationReason": {"text": "x"},
         "start": "2021-01-01T10:00:00Z", "end": "2021-01-01T11:00:00Z", "participant": PARTICIPANTS},
        "app-4 at Appointment",
    ),
    "a nested display item that is required": (
        {"resourceType": "Questionnaire", "status": "draft",
         "item": [{"linkId": "g", "type": "group", "item": [{"linkId": "d", "type": "display", "required": True}]}]},
        "que-6 at Questionnaire.item[0].item[0]",
    ),
    "an extension with a value and extensions": (
        {"resourceType": "Patient", "_gender": {"extension": [
            {"url": "http://e.org/x", "valueString": "a", "extension": [{"url": "y", "valueBoolean": True}]}]}},
        "ext-1 at Patient.gender.extension[0]",  # FHIRPath names a primitive's extensions under the primitive
    ),
    "a home telecom of an organization": (
        {"resourceType": "Organization", "name": "x", "telecom": [{"system": "phone", "value": "1", "use": "home"}]},
        "org-3 at Organization.telecom[0]",
    ),
}  # fmt: skip
KEPT: dict[str, dict[str, Any]] = {
    "a period across zones in order": {
        "resourceType": "Patient",
        "name": [{"period": {"start": "2021-01-01T10:00:00+05:00", "end": "2021-01-01T06:00:00Z"}}],
    },
    "a reference by identifier only (ref-1 does not apply)": {
        "resourceType": "Patient",
        "generalPractitioner": [{"identifier": {"value": "x"}}],
    },
    "a contained resource referred to from an extension": {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Organization", "id": "o", "name": "x"}],
        "extension": [{"url": "http://e.org/x", "valueReference": {"reference": "#o"}}],
    },
    "a nested extension": {
        "resourceType": "Patient",
        "extension": [{"url": "http://e.org/x", "extension": [{"url": "y", "valueBoolean": True}]}],
    },
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_invariant_is_found_where_it_is_broken(case: str) -> None:
    resource, found = BROKEN[case]
    assert found in violations(resource)


@pytest.mark.parametrize("case", sorted(KEPT))
def test_a_resource_keeping_every_invariant_has_no_violation(case: str) -> None:
    assert violations(KEPT[case]) == []
