"""A demo patient's clinical record, as FHIR resources of the resource store (issue 14, item 3).

For each demo patient: an annual check-up Encounter (and one for their last completed appointment), its vital signs
and a lab panel (Observations grouped by a DiagnosticReport), conditions on the problem list, the medications that
treat them (MedicationRequest) and one taken over the counter (MedicationStatement), allergies, immunizations, a
clinical note (a DocumentReference with the text as an inline attachment) and the care team of the practitioners
they see. Codes as US Core 3.1.1 uses them: SNOMED CT, LOINC, RxNorm, CVX, UCUM. Deterministic: the same facts give
the same resources, ids included (:func:`record_id`), so the demo seed stays idempotent.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from fhir_server.demo.observations import LOINC, METABOLIC_PANEL, PANELS, Measured, codeable, lab_result, vital_signs

RECORD_NAMESPACE = uuid.UUID("0c6f3c5e-8b0a-4f7e-9d55-2f6a1e9b7c31")
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
_CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
_ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_NOTE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"

CONDITIONS = {  # SNOMED CT disorder -> the RxNorm medication that treats it (code, display, dosage)
    ("38341003", "Hypertensive disorder"): ("314076", "lisinopril 10 MG Oral Tablet", "1 tablet by mouth daily"),
    ("44054006", "Diabetes mellitus type 2"): (
        "861007",
        "metformin hydrochloride 500 MG Oral Tablet",
        "1 tablet twice daily",
    ),
    ("55822004", "Hyperlipidemia"): ("617310", "atorvastatin 20 MG Oral Tablet", "1 tablet by mouth at bedtime"),
    ("195967001", "Asthma"): (
        "745679",
        "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
        "2 puffs every 4 hours as needed",
    ),
    ("35489007", "Depressive disorder"): ("312940", "sertraline 50 MG Oral Tablet", "1 tablet by mouth daily"),
}
_OVER_THE_COUNTER = [("197805", "ibuprofen 400 MG Oral Tablet"), ("308416", "cholecalciferol 1000 UNT Oral Tablet")]
_ALLERGIES = [  # substance, category, reaction (SNOMED CT)
    (("764146007", "Penicillin"), "medication", ("271807003", "Eruption of skin")),
    (("762952008", "Peanut"), "food", ("39579001", "Anaphylaxis")),
    (("111088007", "Latex"), "environment", ("126485001", "Urticaria")),
]
_NO_KNOWN_ALLERGY = ("716186003", "No known allergy")
_VACCINES = {"flu": ("140", "Influenza, seasonal, injectable, preservative free"), "tdap": ("115", "Tdap")}
_VACCINES |= {"zoster": ("187", "zoster vaccine recombinant"), "varicella": ("21", "varicella")}


@dataclass(frozen=True)
class Visit:
    """A completed appointment the patient came to."""

    appointment_id: str
    practitioner_id: str
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class PatientFacts:
    """What the record of one demo patient is built from."""

    key: str
    """Unique per patient: the seed of the record's ids and random draws."""
    patient_id: str
    birth_date: date
    clinic_id: str
    gp_id: str
    seen: tuple[str, ...]
    """The other practitioners the patient has appointments with."""
    checkup: datetime
    """When the annual check-up took place (timezone-aware)."""
    visit: Visit | None = None


@dataclass
class _Record:
    facts: PatientFacts
    rng: random.Random
    resources: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, resource: dict[str, Any]) -> str:
        """Give ``resource`` its id (the n-th of ``kind``) and keep it; its reference."""
        resource["id"] = f"{kind}-{record_id(self.facts.key, kind, self.counts[kind])}"
        self.counts[kind] += 1
        self.resources.append(resource)
        return f"{resource['resourceType']}/{resource['id']}"

    @property
    def patient(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.facts.patient_id}"}


def record_id(key: str, kind: str, number: int) -> str:
    """The stable id part of the ``number``-th resource of ``kind`` in the record of patient ``key``."""
    return uuid.uuid5(RECORD_NAMESPACE, f"{key}/{kind}/{number}").hex[:16]


def patient_record(facts: PatientFacts) -> list[dict[str, Any]]:
    """The clinical record of one patient, each resource with its id, in an order where a resource comes after
    those it references."""
    record = _Record(facts, random.Random(f"record-{facts.key}"))
    adult = _age(facts.birth_date, facts.checkup.date()) >= 18
    conditions = _conditions(record, adult)
    checkup = _encounter(record, facts.checkup, facts.gp_id, "Annual check-up", None)
    measured = Measured(record.patient["reference"], checkup, _instant(facts.checkup))
    vitals = vital_signs(record.rng, measured, adult=adult)
    for vital in vitals:
        record.add("vital", vital)
    _lab_report(record, measured, conditions)
    _medications(record, conditions)
    _allergy(record)
    _immunizations(record, adult)
    _note(record, checkup, conditions, vitals)
    _care_team(record)
    if facts.visit is not None:
        visit = facts.visit
        _encounter(record, visit.start, visit.practitioner_id, visit.reason, visit)
    return record.resources


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _conditions(record: _Record, adult: bool) -> dict[tuple[str, str], str]:
    """One or two problems (asthma only for a child), each a Condition on the problem list; their references."""
    choices = list(CONDITIONS) if adult else [("195967001", "Asthma")]
    chosen = record.rng.sample(choices, k=min(len(choices), record.rng.randint(1, 2)))
    found = {}
    for code, display in chosen:
        onset = max(
            record.facts.checkup.date() - timedelta(days=record.rng.randint(200, 3000)), record.facts.birth_date
        )
        found[code, display] = record.add(
            "condition",
            {
                "resourceType": "Condition",
                "clinicalStatus": codeable(_CONDITION_CLINICAL, "active", "Active"),
                "verificationStatus": codeable(_CONDITION_VERIFICATION, "confirmed", "Confirmed"),
                "category": [codeable(_CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
                "code": codeable(SNOMED, code, display),
                "subject": record.patient,
                "onsetDateTime": onset.isoformat(),
                "recordedDate": onset.isoformat(),
                "recorder": {"reference": f"Practitioner/{record.facts.gp_id}"},
            },
        )
    return found


def _encounter(record: _Record, start: datetime, practitioner: str, reason: str, visit: Visit | None) -> str:
    """A finished ambulatory Encounter with ``practitioner``, an hour long unless it was the ``visit``."""
    end = visit.end if visit is not None else start + timedelta(minutes=30)
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": _ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "type": [codeable(SNOMED, "185349003", "Encounter for check up")],
        "subject": record.patient,
        "participant": [
            {
                "type": [codeable(_PARTICIPATION, "PPRF", "primary performer")],
                "individual": {"reference": f"Practitioner/{practitioner}"},
            }
        ],
        "period": {"start": _instant(start), "end": _instant(end)},
        "reasonCode": [{"text": reason}],
        "serviceProvider": {"reference": f"Organization/{record.facts.clinic_id}"},
    }
    if visit is not None:
        encounter["type"] = [codeable(SNOMED, "390906007", "Follow-up encounter")]
        encounter["appointment"] = [{"reference": f"Appointment/{visit.appointment_id}"}]
    return record.add("encounter", encounter)


def _lab_report(record: _Record, measured: Measured, conditions: dict[tuple[str, str], str]) -> None:
    """A lab panel (the metabolic one for a diabetic, else lipids or metabolic) and its DiagnosticReport."""
    diabetic = ("44054006", "Diabetes mellitus type 2") in conditions
    panel = METABOLIC_PANEL if diabetic else record.rng.choice(list(PANELS))
    results = [record.add("lab", lab_result(record.rng, measured, analyte)) for analyte in PANELS[panel]]
    issued = datetime.fromisoformat(measured.when) + timedelta(hours=record.rng.randint(4, 30))
    record.add(
        "report",
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "category": [codeable("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")],
            "code": codeable(LOINC, *panel),
            "subject": record.patient,
            "encounter": {"reference": measured.encounter},
            "effectiveDateTime": measured.when,
            "issued": _instant(issued),
            "performer": [{"reference": f"Organization/{record.facts.clinic_id}"}],
            "result": [{"reference": reference} for reference in results],
        },
    )


def _medications(record: _Record, conditions: dict[tuple[str, str], str]) -> None:
    """A MedicationRequest (an order) for each condition's medication; one over-the-counter MedicationStatement."""
    for condition, reason in conditions.items():
        code, display, dosage = CONDITIONS[condition]
        record.add(
            "medrx",
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": codeable(RXNORM, code, display),
                "subject": record.patient,
                "authoredOn": record.facts.checkup.date().isoformat(),
                "requester": {"reference": f"Practitioner/{record.facts.gp_id}"},
                "reasonReference": [{"reference": reason}],
                "dosageInstruction": [{"text": dosage}],
            },
        )
    code, display = record.rng.choice(_OVER_THE_COUNTER)
    record.add(
        "medstatement",
        {
            "resourceType": "MedicationStatement",
            "status": "active",
            "medicationCodeableConcept": codeable(RXNORM, code, display),
            "subject": record.patient,
            "dateAsserted": record.facts.checkup.date().isoformat(),
            "informationSource": record.patient,
        },
    )


def _allergy(record: _Record) -> None:
    """An allergy with its reaction, or the statement that the patient has none known."""
    found = record.rng.choice([None, None, *_ALLERGIES])
    allergy: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": codeable(_ALLERGY_CLINICAL, "active", "Active"),
        "verificationStatus": codeable(_ALLERGY_VERIFICATION, "confirmed", "Confirmed"),
        "code": codeable(SNOMED, *_NO_KNOWN_ALLERGY),
        "patient": record.patient,
        "recordedDate": record.facts.checkup.date().isoformat(),
    }
    if found is not None:
        substance, category, reaction = found
        allergy |= {"type": "allergy", "category": [category], "criticality": "high" if category == "food" else "low"}
        allergy["code"] = codeable(SNOMED, *substance)
        allergy["reaction"] = [{"manifestation": [codeable(SNOMED, *reaction)]}]
    record.add("allergy", allergy)


def _immunizations(record: _Record, adult: bool) -> None:
    """This season's influenza shot, and one other vaccine fitting the patient's age."""
    when = record.facts.checkup.date()
    older = _age(record.facts.birth_date, when) >= 50
    other = ("zoster" if older else "tdap") if adult else "varicella"
    for kind, given in (("flu", when), (other, when - timedelta(days=record.rng.randint(400, 1500)))):
        record.add(
            "immunization",
            {
                "resourceType": "Immunization",
                "status": "completed",
                "vaccineCode": codeable(CVX, *_VACCINES[kind]),
                "patient": record.patient,
                "occurrenceDateTime": max(given, record.facts.birth_date).isoformat(),
                "primarySource": True,
            },
        )


def _note(
    record: _Record, encounter: str, conditions: dict[tuple[str, str], str], vitals: list[dict[str, Any]]
) -> None:
    """The check-up's progress note: a DocumentReference with the note as a text/plain attachment."""
    pressure = vitals[4]["component"]
    text = (
        f"Annual check-up.\nBlood pressure {pressure[0]['valueQuantity']['value']}/"
        f"{pressure[1]['valueQuantity']['value']} mmHg, heart rate {vitals[0]['valueQuantity']['value']}/min.\n"
        f"Problems: {', '.join(display for _, display in conditions)}.\nPlan: continue current medications, "
        "labs ordered, follow up in 12 months.\n"
    )
    record.add(
        "note",
        {
            "resourceType": "DocumentReference",
            "status": "current",
            "type": codeable(LOINC, "11506-3", "Progress note"),
            "category": [codeable(_NOTE_CATEGORY, "clinical-note", "Clinical Note")],
            "subject": record.patient,
            "date": _instant(record.facts.checkup + timedelta(minutes=45)),
            "author": [{"reference": f"Practitioner/{record.facts.gp_id}"}],
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": base64.b64encode(text.encode()).decode(),
                        "title": "Annual check-up note",
                    }
                }
            ],
            "context": {"encounter": [{"reference": encounter}]},
        },
    )


def _care_team(record: _Record) -> None:
    """The patient's care team: their primary care physician and the other practitioners they see."""

    def member(practitioner: str, role: tuple[str, str]) -> dict[str, Any]:
        return {"role": [codeable(SNOMED, *role)], "member": {"reference": f"Practitioner/{practitioner}"}}

    participants = [member(record.facts.gp_id, ("446050000", "Primary care physician"))]
    participants += [member(p, ("309343006", "Physician")) for p in record.facts.seen if p != record.facts.gp_id]
    record.add(
        "careteam",
        {
            "resourceType": "CareTeam",
            "status": "active",
            "name": "Care team",
            "subject": record.patient,
            "participant": participants,
            "managingOrganization": [{"reference": f"Organization/{record.facts.clinic_id}"}],
        },
    )
