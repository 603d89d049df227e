"""The search indexer's path walker indexes what a general FHIRPath engine (fhirpathpy) would, for every official
expression of every served type that it handles, on generated valid resources (tests.roundtrip.generator).

Compared are the index rows each engine's values give (fhirpathpy drops some empty members of complex values, such
as a coding holding only an extension, which index nothing either way)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.models import models
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fhir_server.fhir.search.fhirpath import evaluate, is_fast
from fhir_server.fhir.search.indexer import extracted_rows
from fhir_server.fhir.search.registry import parameters_for
from tests.roundtrip.generator import SAMPLED, Clinic, resources

CLINIC = Clinic.of({t: ["a1", "b2"] for t in SAMPLED}, base_url="http://example.org/fhir")
FAST = {t: [p for p in parameters_for(t).values() if p.expression and is_fast(p.expression)] for t in SAMPLED}


def _general(resource: dict[str, Any], expression: str) -> list[Any]:
    general: Callable[..., list[Any]] = compile_fhirpath(expression, models["r4"])
    return [v for v in general(_without_primitive_extensions(resource)) if v is not None]


def _without_primitive_extensions(node: Any) -> Any:
    """``node`` without the ``_element`` siblings of primitives. fhirpathpy 2.2 compares a primitive that carries
    an extension as unequal to its own value (``telecom.where(system='email')`` finds nothing when ``_system`` is
    present), while FHIRPath compares the primitive's value (https://hl7.org/fhirpath/#equality); no search
    expression reads those siblings, so without them both engines must agree."""
    if isinstance(node, list):
        return [_without_primitive_extensions(item) for item in node]
    if isinstance(node, dict):
        return {k: _without_primitive_extensions(v) for k, v in node.items() if not k.startswith("_")}
    return node


def test_the_appointment_and_subject_reference_filters_run_on_the_walker() -> None:
    assert is_fast(
        "Appointment.participant.actor.where(reference.startsWith('Patient/') or reference.contains('/Patient/'))"
    )
    assert is_fast("ImagingStudy.subject.where(reference.startsWith('Patient/') or reference.contains('/Patient/'))")


def test_a_typed_reference_filter_keeps_only_references_to_that_type() -> None:
    appointment = {
        "resourceType": "Appointment",
        "participant": [
            {"actor": {"reference": "Patient/p1"}},
            {"actor": {"reference": "Practitioner/d1"}},
            {"actor": {"reference": "http://example.org/fhir/Patient/p2"}},
        ],
    }
    expression = (
        "Appointment.participant.actor.where(reference.startsWith('Patient/') or reference.contains('/Patient/'))"
    )
    assert [a["reference"] for a in evaluate(appointment, expression)] == [
        "Patient/p1",
        "http://example.org/fhir/Patient/p2",
    ]


@pytest.mark.parametrize("resource_type", sorted(SAMPLED))
@settings(
    max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate]
)
@given(data=st.data())
def test_the_walker_agrees_with_fhirpathpy(resource_type: str, data: st.DataObject) -> None:
    resource = data.draw(resources(resource_type, CLINIC))
    for param in FAST[resource_type]:
        try:
            general = _general(resource, param.expression)
        except ValueError:  # fhirpathpy refuses ``(x as T)`` on several items; indexing takes each of them
            continue
        walked = extracted_rows(param, evaluate(resource, param.expression))
        assert walked == extracted_rows(param, general), param.expression
