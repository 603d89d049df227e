"""A realistic US Core 3.1.1 style patient record as one transaction Bundle (http://hl7.org/fhir/R4/http.html#transaction):
a patient, their practitioner, the lab (an Organization that is data, not a clinic), a location, an encounter,
conditions, an allergy, a medication and its order, vital signs and lab results with their report, a clinical note,
immunizations, a care team, a procedure, a goal and the provenance of it all; entries reference each other by
``urn:uuid:`` full URLs, which the server rewrites to the ids it assigns.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from fhir_server.demo.observations import LOINC, Measured, blood_pressure, codeable, observation, quantity

SNOMED = "http://snomed.info/sct"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
NOTE_TEXT = "Follow-up for hypertension.\nBP 132/84 mmHg on lisinopril. Continue, recheck in 3 months.\n"


def urn(name: str) -> str:
    """The ``urn:uuid:`` full URL of the entry called ``name`` (stable within a run)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'us-core-record/{name}')}"


def ref(name: str) -> dict[str, str]:
    return {"reference": urn(name)}


def _patient(mrn: str) -> dict[str, Any]:
    race = [{"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3"}}]
    ethnicity = [{"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2186-5"}}]
    return {
        "resourceType": "Patient",
        "extension": [
            {"url": f"{US_CORE}/us-core-race", "extension": [*race, {"url": "text", "valueString": "White"}]},
            {
                "url": f"{US_CORE}/us-core-ethnicity",
                "extension": [*ethnicity, {"url": "text", "valueString": "Not Hispanic or Latino"}],
            },
            {"url": f"{US_CORE}/us-core-birthsex", "valueCode": "F"},
        ],
        "identifier": [{"system": "http://hospital.example.org/mrn", "value": mrn}],
        "name": [{"family": "Shaw", "given": ["Amy", "V."]}],
        "telecom": [{"system": "phone", "value": "+1 555 0199", "use": "home"}],
        "gender": "female",
        "birthDate": "1987-02-20",
        "address": [
            {"line": ["49 Meadow St"], "city": "Mounds", "state": "OK", "postalCode": "74047", "country": "US"}
        ],
        "communication": [{"language": codeable("urn:ietf:bcp:47", "en-US", "English (United States)")}],
    }


def _clinicians() -> dict[str, dict[str, Any]]:
    return {
        "practitioner": {
            "resourceType": "Practitioner",
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "9941339108"}],
            "name": [{"family": "Bone", "given": ["Ronald"], "prefix": ["Dr"]}],
        },
        "lab": {
            "resourceType": "Organization",
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1144221847"}],
            "active": True,
            "type": [codeable(f"{TERMINOLOGY}/organization-type", "prov", "Healthcare Provider")],
            "name": "Acme Reference Laboratory",
            "telecom": [{"system": "phone", "value": "+1 555 0142"}],
        },
        "location": {
            "resourceType": "Location",
            "status": "active",
            "name": "Riverside Clinic, Room 12",
            "address": {"line": ["100 River Rd"], "city": "Springfield", "state": "MA", "postalCode": "01101"},
            "managingOrganization": ref("lab"),
        },
        "medication": {
            "resourceType": "Medication",
            "code": codeable("http://www.nlm.nih.gov/research/umls/rxnorm", "314076", "lisinopril 10 MG Oral Tablet"),
        },
    }


def _visit() -> dict[str, dict[str, Any]]:
    patient = ref("patient")
    return {
        "encounter": {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": f"{TERMINOLOGY}/v3-ActCode", "code": "AMB"},
            "type": [codeable(SNOMED, "390906007", "Follow-up encounter")],
            "subject": patient,
            "participant": [{"individual": ref("practitioner")}],
            "period": {"start": "2026-10-05T09:00:00-04:00", "end": "2026-10-05T09:30:00-04:00"},
            "location": [{"location": ref("location")}],
        },
        "condition": {
            "resourceType": "Condition",
            "clinicalStatus": codeable(f"{TERMINOLOGY}/condition-clinical", "active", "Active"),
            "verificationStatus": codeable(f"{TERMINOLOGY}/condition-ver-status", "confirmed", "Confirmed"),
            "category": [codeable(f"{TERMINOLOGY}/condition-category", "problem-list-item", "Problem List Item")],
            "code": codeable(SNOMED, "38341003", "Hypertensive disorder"),
            "subject": patient,
            "onsetDateTime": "2019-04-01",
        },
        "resolved-condition": {
            "resourceType": "Condition",
            "clinicalStatus": codeable(f"{TERMINOLOGY}/condition-clinical", "resolved", "Resolved"),
            "category": [
                codeable(
                    f"{TERMINOLOGY}/condition-category",
                    "encounter-diagnosis",
                    "Encounter Diagnosis",
                )
            ],
            "code": codeable(SNOMED, "444814009", "Viral sinusitis"),
            "subject": patient,
            "encounter": ref("encounter"),
            "abatementDateTime": "2026-10-20",
        },
        "allergy": {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": codeable(f"{TERMINOLOGY}/allergyintolerance-clinical", "active", "Active"),
            "verificationStatus": codeable(f"{TERMINOLOGY}/allergyintolerance-verification", "confirmed", "Confirmed"),
            "category": ["medication"],
            "code": codeable(SNOMED, "764146007", "Penicillin"),
            "patient": patient,
            "reaction": [{"manifestation": [codeable(SNOMED, "271807003", "Eruption of skin")]}],
        },
        "medication-request": {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationReference": ref("medication"),
            "subject": patient,
            "encounter": ref("encounter"),
            "authoredOn": "2026-10-05",
            "requester": ref("practitioner"),
            "reasonReference": [ref("condition")],
            "dosageInstruction": [{"text": "1 tablet by mouth daily"}],
        },
    }


def _results() -> dict[str, dict[str, Any]]:
    measured = Measured(urn("patient"), urn("encounter"), "2026-10-05T09:10:00-04:00")
    labs = Measured(urn("patient"), urn("encounter"), "2026-10-05T09:20:00-04:00")
    lab = {"performer": [ref("lab")]}
    return {
        "blood-pressure": blood_pressure(measured, 132, 84),
        "heart-rate": observation(
            measured, "vital-signs", ("8867-4", "Heart rate"), valueQuantity=quantity(71, "beats/minute", "/min")
        ),
        "body-weight": observation(
            measured, "vital-signs", ("29463-7", "Body weight"), valueQuantity=quantity(68.2, "kg", "kg")
        ),
        "glucose": observation(
            labs,
            "laboratory",
            ("2345-7", "Glucose [Mass/volume] in Serum or Plasma"),
            valueQuantity=quantity(104, "mg/dL", "mg/dL"),
            **lab,
        ),
        "potassium": observation(
            labs,
            "laboratory",
            ("2823-3", "Potassium [Moles/volume] in Serum or Plasma"),
            valueQuantity=quantity(4.2, "mmol/L", "mmol/L"),
            **lab,
        ),
        "report": {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "category": [codeable(f"{TERMINOLOGY}/v2-0074", "LAB", "Laboratory")],
            "code": codeable(LOINC, "51990-0", "Basic metabolic panel - Blood"),
            "subject": ref("patient"),
            "encounter": ref("encounter"),
            "effectiveDateTime": "2026-10-05T09:20:00-04:00",
            "issued": "2026-10-06T08:00:00-04:00",
            "performer": [ref("lab")],
            "result": [ref("glucose"), ref("potassium")],
        },
    }


def _care() -> dict[str, dict[str, Any]]:
    patient = ref("patient")
    note = base64.b64encode(NOTE_TEXT.encode()).decode()
    return {
        "note": {
            "resourceType": "DocumentReference",
            "status": "current",
            "type": codeable(LOINC, "11506-3", "Progress note"),
            "category": [
                codeable(
                    "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                    "clinical-note",
                    "Clinical Note",
                )
            ],
            "subject": patient,
            "date": "2026-10-05T09:45:00-04:00",
            "author": [ref("practitioner")],
            "content": [{"attachment": {"contentType": "text/plain", "data": note}}],
            "context": {"encounter": [ref("encounter")], "period": {"start": "2026-10-05T09:00:00-04:00"}},
        },
        "immunization": {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": codeable("http://hl7.org/fhir/sid/cvx", "140", "Influenza, seasonal, injectable"),
            "patient": patient,
            "encounter": ref("encounter"),
            "occurrenceDateTime": "2026-10-05T09:25:00-04:00",
            "primarySource": True,
            "location": ref("location"),
        },
        "care-team": {
            "resourceType": "CareTeam",
            "status": "active",
            "subject": patient,
            "participant": [
                {"role": [codeable(SNOMED, "446050000", "Primary care physician")], "member": ref("practitioner")},
                {"role": [codeable(SNOMED, "116154003", "Patient")], "member": patient},
            ],
        },
        "procedure": {
            "resourceType": "Procedure",
            "status": "completed",
            "code": codeable(SNOMED, "46973005", "Blood pressure taking"),
            "subject": patient,
            "encounter": ref("encounter"),
            "performedDateTime": "2026-10-05T09:10:00-04:00",
            "performer": [{"actor": ref("practitioner")}],
        },
        "goal": {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": {"text": "Blood pressure below 130/80 mmHg"},
            "subject": patient,
            "target": [{"measure": codeable(LOINC, "85354-9", "Blood pressure panel"), "dueDate": "2027-01-05"}],
            "addresses": [ref("condition")],
        },
    }


def record_entries(mrn: str = "MRN-0419") -> dict[str, dict[str, Any]]:
    """The record's resources by entry name (every one but the Provenance)."""
    return {"patient": _patient(mrn), **_clinicians(), **_visit(), **_results(), **_care()}


def provenance(names: list[str]) -> dict[str, Any]:
    """Who recorded the entries called ``names``, and when."""
    return {
        "resourceType": "Provenance",
        "target": [ref(name) for name in names],
        "recorded": "2026-10-05T10:00:00-04:00",
        "agent": [
            {
                "type": codeable(f"{TERMINOLOGY}/provenance-participant-type", "author", "Author"),
                "who": ref("practitioner"),
            }
        ],
    }


def record_bundle(mrn: str = "MRN-0419") -> dict[str, Any]:
    """The transaction Bundle of the whole record: each entry a POST with its ``urn:uuid:`` full URL."""
    resources = record_entries(mrn)
    resources["provenance"] = provenance([n for n in resources if n not in ("lab", "medication", "location")])
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": urn(name), "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
            for name, resource in resources.items()
        ],
    }
