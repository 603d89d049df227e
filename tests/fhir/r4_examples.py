"""Valid R4 resources of many types, shaped as US Core and real systems send them (for the validation tests)."""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
PATIENT = {"reference": "Patient/example"}


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


VALID: list[dict[str, Any]] = [
    {
        "resourceType": "Patient",
        "id": "example",
        "meta": {"versionId": "2", "lastUpdated": "2026-11-20T09:30:00.123+01:00", "tag": [{"code": "demo"}]},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Chloe Dubois</div>'},
        "extension": [
            {
                "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3"},
                    },
                    {"url": "text", "valueString": "White"},
                ],
            }
        ],
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "2900175123456"}],
        "active": True,
        "name": [{"use": "official", "family": "Dubois", "given": ["Chloé", "Marie"]}],
        "telecom": [{"system": "phone", "value": "+33 1 23 45 67 89", "use": "mobile", "rank": 1}],
        "gender": "female",
        "birthDate": "1990-04-12",
        "_birthDate": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                    "valueDateTime": "1990-04-12T06:15:00+02:00",
                }
            ]
        },
        "multipleBirthInteger": 2,
        "address": [
            {
                "line": ["12 rue de la Paix", None],
                "_line": [None, {"extension": [{"url": "http://example.org/unit", "valueString": "B"}]}],
                "city": "Paris",
                "postalCode": "75002",
                "country": "FR",
            }
        ],
        "contact": [
            {
                "relationship": [_concept("http://terminology.hl7.org/CodeSystem/v2-0131", "N", "Next-of-Kin")],
                "name": {"family": "Dubois"},
            }
        ],
        "generalPractitioner": [{"reference": "Practitioner/dr-1"}],
        "managingOrganization": {"reference": "Organization/clinic"},
    },
    {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "category": [
            _concept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")
        ],
        "code": _concept(LOINC, "85354-9", "Blood pressure panel"),
        "subject": PATIENT,
        "effectiveDateTime": "2026-11-20T09:30:00Z",
        "component": [
            {
                "code": _concept(LOINC, "8480-6", "Systolic"),
                "valueQuantity": {"value": 128, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": _concept(LOINC, "8462-4", "Diastolic"),
                "valueQuantity": {"value": 82.5, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    },
    {
        "resourceType": "Observation",
        "id": "glucose",
        "status": "final",
        "category": [
            _concept("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")
        ],
        "code": _concept(LOINC, "2339-0", "Glucose [Mass/volume] in Blood"),
        "subject": PATIENT,
        "effectivePeriod": {"start": "2026-11-20", "end": "2026-11-20T10:00:00+01:00"},
        "issued": "2026-11-20T11:00:00.000Z",
        "valueQuantity": {"value": 6.3e1, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
        "referenceRange": [
            {
                "low": {"value": 70, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
                "high": {"value": 99, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
            }
        ],
    },
    {
        "resourceType": "DiagnosticReport",
        "id": "panel",
        "status": "final",
        "code": _concept(LOINC, "24323-8", "Comprehensive metabolic panel"),
        "subject": PATIENT,
        "effectiveDateTime": "2026-11-20",
        "result": [{"reference": "Observation/glucose"}, {"reference": "#note"}],
        "contained": [
            {
                "resourceType": "Observation",
                "id": "note",
                "status": "final",
                "code": {"text": "comment"},
                "valueString": "fasting",
            }
        ],
        "presentedForm": [{"contentType": "application/pdf", "url": "Binary/report-1", "title": "Report"}],
    },
    {
        "resourceType": "Condition",
        "id": "diabetes",
        "clinicalStatus": _concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
        "verificationStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"
        ),
        "category": [
            _concept(
                "http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item"
            )
        ],
        "code": _concept(SNOMED, "44054006", "Diabetes mellitus type 2"),
        "subject": PATIENT,
        "onsetAge": {"value": 52, "unit": "a", "system": UCUM, "code": "a"},
    },
    {
        "resourceType": "MedicationRequest",
        "id": "metformin",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": _concept(
            "http://www.nlm.nih.gov/research/umls/rxnorm", "860975", "metformin 500 MG"
        ),
        "subject": PATIENT,
        "authoredOn": "2026-11-20T10:00:00+01:00",
        "requester": {"reference": "Practitioner/dr-1"},
        "dosageInstruction": [
            {
                "text": "500 mg twice a day",
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg", "system": UCUM, "code": "mg"}}],
            }
        ],
    },
    {
        "resourceType": "AllergyIntolerance",
        "id": "penicillin",
        "clinicalStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"
        ),
        "code": _concept(SNOMED, "764146007", "Penicillin"),
        "patient": PATIENT,
        "reaction": [{"manifestation": [_concept(SNOMED, "271807003", "Rash")], "severity": "mild"}],
    },
    {
        "resourceType": "Immunization",
        "id": "flu",
        "status": "completed",
        "vaccineCode": _concept("http://hl7.org/fhir/sid/cvx", "140", "Influenza, seasonal"),
        "patient": PATIENT,
        "occurrenceDateTime": "2026-10-01",
        "primarySource": True,
    },
    {
        "resourceType": "Encounter",
        "id": "visit",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
        "subject": PATIENT,
        "period": {"start": "2026-11-20T09:00:00+01:00", "end": "2026-11-20T09:30:00+01:00"},
    },
    {
        "resourceType": "DocumentReference",
        "id": "note",
        "status": "current",
        "type": _concept(LOINC, "11506-3", "Progress note"),
        "subject": PATIENT,
        "date": "2026-11-20T10:00:00Z",
        "content": [{"attachment": {"contentType": "text/plain", "data": "Tm90ZSB0ZXh0Lg==", "title": "Note"}}],
    },
    {
        "resourceType": "CareTeam",
        "id": "team",
        "status": "active",
        "subject": PATIENT,
        "participant": [
            {
                "role": [_concept(SNOMED, "446050000", "Primary care physician")],
                "member": {"reference": "Practitioner/dr-1"},
            }
        ],
    },
    {"resourceType": "Binary", "id": "report-1", "contentType": "application/pdf", "data": "JVBERi0xLjQK"},
    {
        "resourceType": "MedicinalProduct",
        "id": "r4-only",
        "name": [
            {
                "productName": "Amoxicillin 500 mg capsules",
                "countryLanguage": [{"country": {"text": "FR"}, "language": {"text": "fr"}}],
            }
        ],
    },
    {
        "resourceType": "Bundle",
        "id": "tx",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
                "resource": {"resourceType": "Patient", "name": [{"family": "Doe"}]},
                "request": {"method": "POST", "url": "Patient"},
            },
            {"request": {"method": "DELETE", "url": "Observation/old"}},
        ],
    },
    {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "mode", "valueCode": "create"},
            {"name": "resource", "resource": {"resourceType": "Patient", "gender": "other"}},
            {"name": "nested", "part": [{"name": "count", "valueInteger": -3}]},
        ],
    },
    {
        "resourceType": "Questionnaire",
        "id": "intake",
        "status": "active",
        "item": [
            {
                "linkId": "1",
                "text": "About you",
                "type": "group",
                "item": [{"linkId": "1.1", "text": "Age", "type": "integer", "required": True}],
            },
            {
                "linkId": "2",
                "text": "Smoker?",
                "type": "boolean",
                "enableWhen": [{"question": "1.1", "operator": ">", "answerInteger": 17}],
            },
        ],
    },
    {
        "resourceType": "Appointment",
        "id": "waitlisted",
        "status": "waitlist",
        "participant": [{"actor": PATIENT, "status": "needs-action"}],
    },
]
"""Each one valid R4: accepted by the structure check and every content rule."""
