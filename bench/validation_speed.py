"""How long validating one resource takes, per step: ``python -m bench.validation_speed [rounds]``.

Validation runs on every write (http://hl7.org/fhir/R4/validation.html). This times, on realistic resources (the
golden Patient and Appointment of tests/mappings/golden, and a US Core style vital-signs Observation), each step
the write path runs: the structure check from the R4 StructureDefinitions
(:func:`fhir_server.fhir.validation.structure_issues`), the invariants (:func:`fhir_server.fhir.invariants.broken`)
and the required bindings (:func:`fhir_server.fhir.bindings.binding_issues`); and, for comparison, what the
structure check cost before it: fhir.resources' R4B pydantic models (``model_validate``). Figures are the median
microseconds per resource after a warm-up (the definitions loaded, every expression parsed).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
from fhir.resources.R4B import get_fhir_model_class

from fhir_server.fhir.bindings import binding_issues
from fhir_server.fhir.invariants import broken
from fhir_server.fhir.validation import structure_issues
from fhir_server.paths import project_dir

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "bp-1",
    "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure"]},
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                    "display": "Vital Signs",
                }
            ]
        }
    ],
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]},
    "subject": {"reference": "Patient/example"},
    "encounter": {"reference": "Encounter/visit-1"},
    "effectiveDateTime": "2026-11-20T09:30:00+01:00",
    "performer": [{"reference": "Practitioner/dr-1"}],
    "component": [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}]},
            "valueQuantity": {"value": 128, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic"}]},
            "valueQuantity": {"value": 82, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
        },
    ],
}


def golden(name: str) -> dict[str, Any]:
    resource: dict[str, Any] = orjson.loads((project_dir("tests") / "mappings" / "golden" / name).read_bytes())
    return resource


def r4b_models(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


STEPS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "fhir.resources R4B (before)": r4b_models,
    "structure (R4 definitions)": structure_issues,
    "invariants (fhirpathpy)": broken,
    "required bindings": binding_issues,
}


def median_us(step: Callable[[dict[str, Any]], Any], resource: dict[str, Any], rounds: int) -> float:
    step(resource)  # warm-up: definitions loaded, expressions parsed
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        step(resource)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main(rounds: int = 200) -> None:
    resources = [golden("patient-from-client.fhir.json"), golden("appointment-from-client.fhir.json"), OBSERVATION]
    for resource in resources:
        for name, step in STEPS.items():
            print(f"{resource['resourceType']} {name}: {median_us(step, resource, rounds):.0f} us", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
