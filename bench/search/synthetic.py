"""Deterministic synthetic data for the search benchmark: patients, practitioners and appointments.

Patient number ``i`` (0-based) is always the same resource, whatever the scale or the order of generation, so the
query script can pick subjects (names, identifiers, birth-date ranges) without asking the server. Names carry
accents (search is accent- and case-insensitive on ``name``: http://hl7.org/fhir/R4/search.html#string), birth
dates spread over 90 years, appointments spread over a date range with one of the practitioners.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

IDENTIFIER_SYSTEM = "urn:oid:2.16.840.1.113883.3.4242.7"  # a made-up OID arc for the benchmark's identifiers
FAMILIES = (
    "Müller",
    "García",
    "Dvořák",
    "Núñez",
    "Ødegård",
    "Łukasiewicz",
    "Bergström",
    "Çelik",
    "Lefèvre",
    "Šimić",
    "O'Brien",
    "Nguyễn",
    "Kowalski",
    "Jørgensen",
    "Márquez",
    "Žáková",
    "Papadopoulos",
    "Åkesson",
    "Schröder",
    "Fernández",
    "Ibáñez",
    "Thérien",
    "Costa",
    "Öztürk",
    "Smith",
    "Johnson",
    "Brown",
    "Tanaka",
    "Okafor",
    "Rossi",
)
GIVENS = (
    "José",
    "Zoë",
    "Anaïs",
    "Björn",
    "Chloé",
    "Renée",
    "Søren",
    "Mateo",
    "Ana",
    "Łucja",
    "Jürgen",
    "Inès",
    "Noémie",
    "Håkon",
    "Émile",
    "Maria",
    "John",
    "Aiko",
    "Chidi",
    "Giulia",
    "Ömer",
    "François",
    "Zoltán",
    "Ella",
)
BIRTH_FIRST = date(1935, 1, 1)
BIRTH_DAYS = 90 * 365  # birth dates over 90 years
APPOINTMENT_FIRST = datetime(2025, 1, 6, tzinfo=UTC)
APPOINTMENT_DAYS = 730  # appointments over two years
PRACTITIONERS = 20


@dataclass(frozen=True)
class SyntheticPatient:
    """What the queries need to know about patient ``number`` without asking the server."""

    number: int
    family: str
    given: str
    birth_date: date
    identifier: str

    @property
    def identifier_token(self) -> str:
        return f"{IDENTIFIER_SYSTEM}|{self.identifier}"


def synthetic_patient(number: int) -> SyntheticPatient:
    """Patient ``number``: the same for every run (seeded by the number alone)."""
    rng = random.Random(number)
    return SyntheticPatient(
        number=number,
        family=rng.choice(FAMILIES),
        given=rng.choice(GIVENS),
        birth_date=BIRTH_FIRST + timedelta(days=rng.randrange(BIRTH_DAYS)),
        identifier=f"B{number:09d}",
    )


def patient_resource(number: int) -> dict[str, Any]:
    """Patient ``number`` as FHIR JSON (http://hl7.org/fhir/R4/patient.html)."""
    subject = synthetic_patient(number)
    return {
        "resourceType": "Patient",
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": subject.identifier}],
        "name": [{"family": subject.family, "given": [subject.given]}],
        "gender": ("female", "male", "other", "unknown")[number % 4],
        "birthDate": subject.birth_date.isoformat(),
    }


def appointment_starts(number: int, count: int) -> list[datetime]:
    """The starts of patient ``number``'s ``count`` appointments: whole half hours in office hours, sorted."""
    rng = random.Random(f"appointments-{number}")
    starts = []
    for _ in range(count):
        day = APPOINTMENT_FIRST + timedelta(days=rng.randrange(APPOINTMENT_DAYS))
        starts.append(day + timedelta(hours=8, minutes=30 * rng.randrange(18)))
    return sorted(starts)


def appointment_resource(patient_reference: str, practitioner_reference: str, start: datetime) -> dict[str, Any]:
    """A booked 30-minute appointment (http://hl7.org/fhir/R4/appointment.html) of the patient with the doctor."""
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "participant": [
            {"actor": {"reference": patient_reference}, "status": "accepted"},
            {"actor": {"reference": practitioner_reference}, "status": "accepted"},
        ],
    }


def practitioner_resource(number: int) -> dict[str, Any]:
    """Practitioner ``number`` (http://hl7.org/fhir/R4/practitioner.html)."""
    rng = random.Random(f"practitioner-{number}")
    return {
        "resourceType": "Practitioner",
        "name": [{"family": rng.choice(FAMILIES), "given": [rng.choice(GIVENS)], "prefix": ["Dr."]}],
    }
