"""The demo patients' vital signs and lab results: Observations shaped as US Core 3.1.1 shapes them.

Vital signs (http://hl7.org/fhir/us/core/STU3.1.1/): category ``vital-signs``, one LOINC code per measurement and
the UCUM unit of the R4 vital-signs profile (heart rate 8867-4 /min, body weight 29463-7 kg, body height 8302-2 cm,
BMI 39156-5 kg/m2, blood pressure 85354-9 with systolic 8480-6 and diastolic 8462-4 components in mm[Hg], body
temperature 8310-5 Cel, respiratory rate 9279-1 /min, oxygen saturation 59408-5 %). Lab results: category
``laboratory``, grouped by a DiagnosticReport of category LAB (built in :mod:`fhir_server.demo.record`).
Deterministic for a given random generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@dataclass(frozen=True)
class Measured:
    """Who was measured, when, and at which encounter: what every Observation of one visit shares."""

    patient: str
    """``Patient/<id>``"""
    encounter: str
    """``Encounter/<id>``"""
    when: str
    """The dateTime of the measurement."""


def codeable(system: str, code: str, display: str) -> dict[str, Any]:
    """A CodeableConcept of one coding, its display as text too."""
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    """A UCUM Quantity (``unit`` is the human-readable form, ``code`` the UCUM code)."""
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def observation(measured: Measured, category: str, code: tuple[str, str], **value: Any) -> dict[str, Any]:
    """A final Observation of ``category`` with the LOINC ``code`` (code, display) and its value elements."""
    label = "Vital Signs" if category == "vital-signs" else "Laboratory"
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [codeable(OBSERVATION_CATEGORY, category, label)],
        "code": codeable(LOINC, *code),
        "subject": {"reference": measured.patient},
        "encounter": {"reference": measured.encounter},
        "effectiveDateTime": measured.when,
        **value,
    }


def _vital(measured: Measured, code: tuple[str, str], value: float, unit: str, ucum: str) -> dict[str, Any]:
    return observation(measured, "vital-signs", code, valueQuantity=quantity(value, unit, ucum))


def blood_pressure(measured: Measured, systolic: int, diastolic: int) -> dict[str, Any]:
    """The blood pressure panel: no value of its own, systolic and diastolic as components."""

    def component(code: str, display: str, value: int) -> dict[str, Any]:
        return {"code": codeable(LOINC, code, display), "valueQuantity": quantity(value, "mmHg", "mm[Hg]")}

    return observation(
        measured,
        "vital-signs",
        ("85354-9", "Blood pressure panel with all children optional"),
        component=[
            component("8480-6", "Systolic blood pressure", systolic),
            component("8462-4", "Diastolic blood pressure", diastolic),
        ],
    )


def vital_signs(rng: random.Random, measured: Measured, *, adult: bool) -> list[dict[str, Any]]:
    """One visit's vital signs: heart rate, weight, height, BMI, blood pressure, temperature, respiratory rate and
    oxygen saturation, plausible for an adult (else a child) and consistent (the BMI is weight / height²)."""
    height = round(rng.uniform(155, 192) if adult else rng.uniform(105, 150), 1)
    bmi = rng.uniform(19, 33) if adult else rng.uniform(14, 21)
    weight = round(bmi * (height / 100) ** 2, 1)
    return [
        _vital(measured, ("8867-4", "Heart rate"), rng.randint(56, 96), "beats/minute", "/min"),
        _vital(measured, ("29463-7", "Body weight"), weight, "kg", "kg"),
        _vital(measured, ("8302-2", "Body height"), height, "cm", "cm"),
        _vital(
            measured,
            ("39156-5", "Body mass index (BMI) [Ratio]"),
            round(weight / (height / 100) ** 2, 1),
            "kg/m2",
            "kg/m2",
        ),
        blood_pressure(measured, rng.randint(108, 152), rng.randint(64, 96)),
        _vital(measured, ("8310-5", "Body temperature"), round(rng.uniform(36.3, 37.4), 1), "C", "Cel"),
        _vital(measured, ("9279-1", "Respiratory rate"), rng.randint(12, 20), "breaths/minute", "/min"),
        _vital(
            measured,
            ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
            rng.randint(94, 100),
            "%",
            "%",
        ),
    ]


@dataclass(frozen=True)
class Analyte:
    """One lab test of a panel: its LOINC code, unit and normal range."""

    code: str
    display: str
    unit: str
    low: float
    high: float


METABOLIC_PANEL = ("51990-0", "Basic metabolic panel - Blood")
PANELS: dict[tuple[str, str], tuple[Analyte, ...]] = {
    METABOLIC_PANEL: (
        Analyte("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 99),
        Analyte("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3),
        Analyte("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145),
        Analyte("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1),
    ),
    ("57698-3", "Lipid panel with direct LDL - Serum or Plasma"): (
        Analyte("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 100, 199),
        Analyte("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 40, 90),
        Analyte("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "mg/dL", 40, 129),
        Analyte("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 40, 149),
    ),
}
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def lab_result(rng: random.Random, measured: Measured, analyte: Analyte) -> dict[str, Any]:
    """One lab Observation of ``analyte``: a value mostly in range, its reference range and interpretation."""
    span = analyte.high - analyte.low
    value = round(rng.uniform(analyte.low - span * 0.15, analyte.high + span * 0.25), 1)
    flag = ("L", "Low") if value < analyte.low else ("H", "High") if value > analyte.high else ("N", "Normal")
    return observation(
        measured,
        "laboratory",
        (analyte.code, analyte.display),
        valueQuantity=quantity(value, analyte.unit, analyte.unit),
        interpretation=[codeable(INTERPRETATION, *flag)],
        referenceRange=[
            {
                "low": quantity(analyte.low, analyte.unit, analyte.unit),
                "high": quantity(analyte.high, analyte.unit, analyte.unit),
            }
        ],
    )
