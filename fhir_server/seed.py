"""Demo data: one clinic with practitioners, patients, appointments (some cancelled, some no-shows), its intake
Questionnaire (fhir_server/demo/clinic-intake.questionnaire.json) and intake forms answering it, and each patient's
clinical record on the resource store (fhir_server/demo/record.py, clinical.py), written through the write pipeline.
Deterministic (fixed ids and random seed) and idempotent: a second run finds the clinic and adds nothing.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.db import Appointment, Cancellation, IntakeForm, Organization, Patient, Practitioner, Questionnaire
from fhir_server.db.mrn import allocate_mrn
from fhir_server.db.store import StoredResource
from fhir_server.demo.clinical import seed_records
from fhir_server.demo.intake import QUESTIONNAIRE_ID, completed_intake, intake_questionnaire
from fhir_server.fhir import pipeline
from mappings.questionnaire import QuestionnaireMapping
from mappings.questionnaire_response import flat_answers

DEMO_NAMESPACE = uuid.UUID("5b0f7a8e-3c2d-4e61-9a57-1f4e2b8c9d10")
DEMO_CLINIC_ID = uuid.uuid5(DEMO_NAMESPACE, "clinic")
DEMO_TIMEZONE = "America/New_York"
INTAKE_QUESTIONNAIRE_URL = "http://clinic.example.org/fhir/Questionnaire/clinic-intake"

_PRACTITIONERS = [
    ("Amelia", "Hart", "Family Medicine", "#1f77b4", "1234567893"),
    ("Rafael", "Moreno", "Internal Medicine", "#ff7f0e", "1245319599"),
    ("Priya", "Natarajan", "Cardiology", "#2ca02c", "1376609297"),
    ("Jonas", "Lindqvist", "Dermatology", "#d62728", "1497758544"),
    ("Grace", "Okafor", "Pediatrics", "#9467bd", "1588667638"),
]
_GIVEN = {
    "female": ["Olivia", "Sofia", "Mei", "Amara", "Chloé", "Hannah", "Lucía", "Zoë", "Fatima", "Ingrid"],
    "male": ["Liam", "Mateo", "Kenji", "Omar", "José", "Noah", "Dmitri", "Kwame", "Elias", "Arjun"],
}
_FAMILY = [
    "Nguyen",
    "García",
    "Smith",
    "Okonkwo",
    "Müller",
    "Kowalski",
    "Haddad",
    "Johansson",
    "Silva",
    "O'Brien",
    "Tanaka",
    "Patel",
    "Rossi",
    "Dubois",
    "Cohen",
]
_STREETS = ["Maple Ave", "Oak St", "Elm St", "Cedar Ln", "Harbor Rd", "Pine Ct"]
_REASONS = [
    "Annual physical",
    "Persistent cough",
    "Blood pressure follow-up",
    "Skin rash",
    "Knee pain",
    "Medication review",
    "Chest discomfort on exertion",
    "Child wellness visit",
    "Headaches",
]
_MEDICATIONS = ["none", "lisinopril 10 mg daily", "metformin 500 mg twice daily", "atorvastatin 20 mg"]
_ALLERGIES = ["none known", "penicillin", "peanuts", "latex"]


@dataclass(frozen=True)
class SeedResult:
    created: bool
    organization_id: uuid.UUID
    practitioners: int
    patients: int
    appointments: int
    intake_forms: int
    clinical_resources: int


def seed_demo(session: Session, today: date | None = None) -> SeedResult:
    """Install the demo clinic unless it is already there."""
    existing = session.get(Organization, DEMO_CLINIC_ID)
    if existing is not None:
        return _count(session, created=False)
    rng = random.Random(20261122)
    clinic = _clinic()
    session.add(clinic)
    pipeline.flush(session)
    practitioners = _practitioners(session)
    _intake_questionnaire(session)
    patients = _patients(session, rng, practitioners, today or date.today())
    _appointments(session, rng, practitioners, patients, today or date.today())
    pipeline.flush(session)
    seed_records(session, clinic, patients, today or date.today())
    pipeline.flush(session)
    return _count(session, created=True)


def _demo_id(kind: str, n: int) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"{kind}-{n}")


def _clinic() -> Organization:
    return Organization(
        id=DEMO_CLINIC_ID,
        organization_id=DEMO_CLINIC_ID,  # a clinic: its own tenant
        fhir_id="demo-clinic",
        name="Riverside Family Clinic",
        timezone=DEMO_TIMEZONE,
        type="clinic",
        npi="1003000126",
        phone="+1 555 0100",
        address={
            "line": ["100 River Rd"],
            "city": "Springfield",
            "state": "MA",
            "postalCode": "01101",
            "country": "US",
        },
    )


def _intake_questionnaire(session: Session) -> None:
    """The clinic's intake form, under the canonical URL its intake forms name."""
    resource = intake_questionnaire()
    row = Questionnaire(id=_demo_id("questionnaire", 0), fhir_id=QUESTIONNAIRE_ID, organization_id=DEMO_CLINIC_ID)
    QuestionnaireMapping.apply(row, QuestionnaireMapping.from_fhir(resource), session)
    session.add(row)


def _practitioners(session: Session) -> list[Practitioner]:
    rows = [
        Practitioner(
            id=_demo_id("practitioner", n),
            fhir_id=f"demo-practitioner-{n + 1}",
            organization_id=DEMO_CLINIC_ID,
            given_name=given,
            family_name=family,
            prefix="Dr.",
            suffix="MD",
            initials=given[0] + family[0],
            specialty=specialty,
            npi=npi,
            calendar_color=color,
            phone=f"+1 555 01{n + 10:02d}",
            email=f"{given.lower()}.{family.lower()}@clinic.example.org",
        )
        for n, (given, family, specialty, color, npi) in enumerate(_PRACTITIONERS)
    ]
    session.add_all(rows)
    return rows


def _patients(session: Session, rng: random.Random, gps: list[Practitioner], today: date) -> list[Patient]:
    rows = []
    for n in range(50):
        gender = "female" if n % 2 == 0 else "male"
        given, family = rng.choice(_GIVEN[gender]), rng.choice(_FAMILY)
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 80))
        patient = Patient(
            id=_demo_id("patient", n),
            organization_id=DEMO_CLINIC_ID,
            mrn=allocate_mrn(session, DEMO_CLINIC_ID, today.year),
            given_name=given,
            family_name=family,
            birth_date=birth,
            gender=gender,
            phone=f"+1 555 2{n:03d}",
            email=f"{given.lower()}.{n}@mail.example.org".replace("é", "e").replace("í", "i"),
            address={
                "line": [f"{rng.randrange(1, 999)} {rng.choice(_STREETS)}"],
                "city": "Springfield",
                "state": "MA",
                "postalCode": "01103",
                "country": "US",
            },
            preferred_language=rng.choice(["en", "en", "en", "es", "fr"]),
            general_practitioner_id=gps[n % len(gps)].id,
        )
        session.add(patient)
        rows.append(patient)
    return rows


def _appointments(
    session: Session,
    rng: random.Random,
    practitioners: list[Practitioner],
    patients: list[Patient],
    today: date,
) -> None:
    zone = ZoneInfo(DEMO_TIMEZONE)
    n = 0
    for offset in range(-14, 28):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for practitioner in practitioners:
            for hour in rng.sample([9, 10, 11, 13, 14, 15, 16], k=rng.randint(0, 2)):
                start = datetime.combine(day, time(hour), zone).astimezone(UTC)
                _add_appointment(session, rng, n, practitioner, rng.choice(patients), start, past=offset < 0)
                n += 1


def _add_appointment(
    session: Session,
    rng: random.Random,
    n: int,
    practitioner: Practitioner,
    patient: Patient,
    start: datetime,
    *,
    past: bool,
) -> None:
    minutes = rng.choice([30, 30, 60])
    virtual = rng.random() < 0.3
    status = _status(rng, past)
    appointment = Appointment(
        id=_demo_id("appointment", n),
        organization_id=DEMO_CLINIC_ID,
        patient_id=patient.id,
        practitioner_id=practitioner.id,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        duration_minutes=minutes,
        visit_type="virtual" if virtual else "in-clinic",
        visit_category=rng.choice(["new-patient", "follow-up", "follow-up"]),
        status=status,
        intake_status="missing",
        arrived_at=start - timedelta(minutes=10) if status in {"arrived", "completed"} else None,
        meeting_url=f"https://meet.example.org/demo-{n}" if virtual else None,
        reason=rng.choice(_REASONS),
    )
    session.add(appointment)
    if status == "cancelled":
        kind = rng.choice(["patient-cancelled", "clinic-cancelled", "rescheduled-externally"])
        session.add(
            Cancellation(
                appointment_id=appointment.id,
                type=kind,
                note="Demo cancellation",
                cancelled_at=start - timedelta(days=1),
            )
        )
    if status == "no-show":
        session.add(Cancellation(appointment_id=appointment.id, type="no-show", cancelled_at=start))
    if status != "cancelled" and rng.random() < 0.5:
        _add_intake(session, rng, n, appointment, start, submitted=past or rng.random() < 0.5)


def _status(rng: random.Random, past: bool) -> str:
    if past:
        return rng.choices(["completed", "no-show", "cancelled"], weights=[8, 1, 1])[0]
    return rng.choices(["confirmed", "unconfirmed", "cancelled"], weights=[6, 3, 1])[0]


def _add_intake(
    session: Session, rng: random.Random, n: int, appointment: Appointment, start: datetime, *, submitted: bool
) -> None:
    appointment.intake_status = "completed" if submitted else "sent"
    items = []
    if submitted:  # the same draws of the clinic's generator as ever; the rest from the form's own generator
        medication, allergy, smoker = rng.choice(_MEDICATIONS), rng.choice(_ALLERGIES), rng.random() < 0.2
        visit = start.astimezone(ZoneInfo(DEMO_TIMEZONE)).date()
        own = random.Random(f"intake-{n}")
        items = completed_intake(
            own, reason=appointment.reason, medication=medication, allergy=allergy, smoker=smoker, visit=visit
        )
    session.add(
        IntakeForm(
            id=_demo_id("intake", n),
            organization_id=DEMO_CLINIC_ID,
            patient_id=appointment.patient_id,
            appointment_id=appointment.id,
            questionnaire=INTAKE_QUESTIONNAIRE_URL,
            answers=flat_answers(items),
            extra={"item": items} if items else {},
            status="submitted" if submitted else "pending",
            submitted_at=start - timedelta(days=1) if submitted else None,
        )
    )


def _count(session: Session, *, created: bool) -> SeedResult:
    def count(model: type[Practitioner | Patient | Appointment | IntakeForm | StoredResource]) -> int:
        return len(session.scalars(select(model.id).where(model.organization_id == DEMO_CLINIC_ID)).all())

    return SeedResult(
        created,
        DEMO_CLINIC_ID,
        count(Practitioner),
        count(Patient),
        count(Appointment),
        count(IntakeForm),
        count(StoredResource),
    )


# --- demo SMART access: users with logins and a registered app -----------------------------------------------

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - the published password of the demo logins
DEMO_PHYSICIAN_EMAIL = "amelia.hart@clinic.example.org"
DEMO_PATIENT_EMAIL = "portal.patient@mail.example.org"
DEMO_APP_ID = "demo-smart-app"
DEMO_APP_REDIRECT_URIS = ("http://127.0.0.1:9000/callback", "http://localhost:9000/callback")
DEMO_APP_SCOPE = (
    "launch launch/patient openid fhirUser profile offline_access online_access patient/*.cruds user/*.cruds"
)


@dataclass(frozen=True)
class DemoAccess:
    """The demo logins and app, printed by ``fhir-server seed --demo`` (demo data only: never in production)."""

    physician_email: str
    patient_email: str
    password: str
    app_client_id: str
    app_redirect_uris: tuple[str, ...]


def seed_demo_access(session: Session) -> DemoAccess:
    """Add a physician and a portal patient with logins, and a public demo SMART app, unless already there."""
    from fhir_server.auth.clients import register_client
    from fhir_server.auth.users import create_user
    from fhir_server.db import OAuthClient, User

    clinic = session.get(Organization, DEMO_CLINIC_ID)
    if clinic is None:
        raise ValueError("install the demo clinic first")
    if session.scalar(select(User.id).where(User.email == DEMO_PHYSICIAN_EMAIL)) is None:
        create_user(
            session,
            organization=clinic,
            email=DEMO_PHYSICIAN_EMAIL,
            password=DEMO_PASSWORD,
            role="physician",
            full_name="Dr. Amelia Hart",
            practitioner_id=_demo_id("practitioner", 0),
        )
    if session.scalar(select(User.id).where(User.email == DEMO_PATIENT_EMAIL)) is None:
        patient = session.get(Patient, _demo_id("patient", 0))
        create_user(
            session,
            organization=clinic,
            email=DEMO_PATIENT_EMAIL,
            password=DEMO_PASSWORD,
            role="patient",
            full_name=f"{patient.given_name} {patient.family_name}" if patient else "Portal Patient",
            patient_id=_demo_id("patient", 0),
        )
    if session.get(OAuthClient, DEMO_APP_ID) is None:
        register_client(
            session,
            client_id=DEMO_APP_ID,
            name="Demo SMART app",
            client_type="public",
            organization=clinic,
            scope=DEMO_APP_SCOPE,
            redirect_uris=list(DEMO_APP_REDIRECT_URIS),
            launch_uri="http://127.0.0.1:9000/launch",
        )
    return DemoAccess(DEMO_PHYSICIAN_EMAIL, DEMO_PATIENT_EMAIL, DEMO_PASSWORD, DEMO_APP_ID, DEMO_APP_REDIRECT_URIS)
