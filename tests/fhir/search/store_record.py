"""A small clinical record in the resource store, searched by the store's search tests: written once per test module
and database kind (http://hl7.org/fhir/R4/observation-vitalsigns.html shapes the vital signs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of
from tests.fhir.search.search_support import Json, create

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
VITAL_SIGNS = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]
}


@dataclass
class Record:
    """What the module's record holds, by name: the ``clinic``, Practitioner ``doc``, Patients ``ann`` (Stored)
    and ``ben`` (Other), and the store's resources about them."""

    resources: dict[str, Json] = field(default_factory=dict)

    def id(self, name: str) -> str:
        found: str = self.resources[name]["id"]
        return found

    def ids(self, *names: str) -> set[str]:
        return {self.id(n) for n in names}

    def ref(self, name: str) -> dict[str, str]:
        resource = self.resources[name]
        return {"reference": f"{resource['resourceType']}/{resource['id']}"}


def coded(system: str, code: str, display: str | None = None) -> Json:
    coding = {"system": system, "code": code, **({"display": display} if display else {})}
    return {"coding": [coding]}


def quantity(value: float, unit: str) -> Json:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _observation(record: Record, patient: str, code: Json, day: str, **value: Any) -> Json:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [VITAL_SIGNS],
        "code": code,
        "subject": record.ref(patient),
        "performer": [record.ref("doc")],
        "effectiveDateTime": f"2026-{day}T09:00:00Z",
        **value,
    }


def _blood_pressure(record: Record, patient: str, systolic: float, diastolic: float, day: str) -> Json:
    components = [
        {"code": coded(LOINC, "8480-6", "Systolic blood pressure"), "valueQuantity": quantity(systolic, "mm[Hg]")},
        {"code": coded(LOINC, "8462-4", "Diastolic blood pressure"), "valueQuantity": quantity(diastolic, "mm[Hg]")},
    ]
    return _observation(record, patient, coded(LOINC, "85354-9", "Blood pressure panel"), day, component=components)


def _observations(record: Record) -> dict[str, Json]:
    """hr_ann (72/min), hr_ben (95/min), bp_ann (120/80), bp_ben (150/100), blood group of ann (A, a concept),
    last menstrual period of ann (a dateTime value), a note of ben (a string value)."""
    return {
        "hr_ann": _observation(record, "ann", coded(LOINC, "8867-4"), "01-05", valueQuantity=quantity(72, "/min")),
        "hr_ben": _observation(record, "ben", coded(LOINC, "8867-4"), "01-06", valueQuantity=quantity(95, "/min")),
        "bp_ann": _blood_pressure(record, "ann", 120, 80, "01-07"),
        "bp_ben": _blood_pressure(record, "ben", 150, 100, "01-08"),
        "abo_ann": _observation(
            record, "ann", coded(LOINC, "883-9"), "01-09", valueCodeableConcept=coded(SNOMED, "112144000", "Group A")
        ),
        "lmp_ann": _observation(record, "ann", coded(LOINC, "8665-2"), "01-10", valueDateTime="2025-12-20"),
        "note_ben": _observation(record, "ben", coded(LOINC, "8251-1"), "01-11", valueString="Feels dizzy at noon"),
    }


def build_record(client: TestClient) -> Record:
    """The Practitioner, both Patients, the observations (see :func:`_observations`), an Encounter and a Condition
    of ann, a DiagnosticReport of ann whose results are hr_ann and bp_ann, two DocumentReferences of ann (the
    second replaces the first) and a Group whose members are both patients."""
    record = Record()
    record.resources["clinic"] = clinic_of(client)
    clinic = record.ref("clinic")
    record.resources["doc"] = create(
        client, {"resourceType": "Practitioner", "name": [{"family": "Quincy", "given": ["Ray"]}]}
    )
    for name, family in (("ann", "Stored"), ("ben", "Other")):
        body = {
            "resourceType": "Patient",
            "name": [{"family": family, "given": ["Kim"]}],
            "managingOrganization": clinic,
        }
        record.resources[name] = create(client, body)
    for name, body in _observations(record).items():
        record.resources[name] = create(client, body)
    _add_clinical(client, record)
    return record


def _add_clinical(client: TestClient, record: Record) -> None:
    ann = record.ref("ann")
    record.resources["visit"] = create(
        client,
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": ann,
            "participant": [{"individual": record.ref("doc")}],
            "period": {"start": "2026-01-05T08:30:00Z", "end": "2026-01-05T09:30:00Z"},
        },
    )
    record.resources["asthma"] = create(
        client,
        {
            "resourceType": "Condition",
            "code": coded(SNOMED, "195967001", "Asthma"),
            "subject": ann,
            "encounter": record.ref("visit"),
            "onsetDateTime": "2020-04-01",
        },
    )
    record.resources["report"] = create(
        client,
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "code": coded(LOINC, "85353-1", "Vital signs panel"),
            "subject": ann,
            "result": [record.ref("hr_ann"), record.ref("bp_ann")],
        },
    )
    note = {"contentType": "text/plain", "data": "Tm90ZQ=="}
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": ann,
        "content": [{"attachment": note}],
    }
    record.resources["note_v1"] = create(client, document)
    relates = [{"code": "replaces", "target": record.ref("note_v1")}]
    record.resources["note_v2"] = create(client, {**document, "relatesTo": relates})
    members = [{"entity": record.ref("ann")}, {"entity": record.ref("ben")}]
    characteristic = [{"code": coded(SNOMED, "195967001"), "valueBoolean": True, "exclude": False}]
    group = {"resourceType": "Group", "type": "person", "actual": True, "member": members}
    record.resources["cohort"] = create(client, {**group, "characteristic": characteristic})
