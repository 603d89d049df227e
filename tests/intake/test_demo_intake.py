"""The demo seed installs the clinic's intake Questionnaire, and its intake forms answer it."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire as R4Questionnaire
from sqlalchemy import select

from fhir_server.db import Appointment, IntakeForm, ResourceHistory
from fhir_server.db.engine import Database
from fhir_server.demo.intake import intake_questionnaire
from fhir_server.fhir import pipeline
from fhir_server.intake.response_validation import response_issues
from fhir_server.seed import INTAKE_QUESTIONNAIRE_URL, seed_demo

TODAY = date(2026, 11, 23)


def current(database: Database, resource_type: str) -> dict[str, dict[str, Any]]:
    """id -> current served resource of a type."""
    with database.read() as session:
        versions = session.scalars(
            select(ResourceHistory).where(
                ResourceHistory.resource_type == resource_type, ResourceHistory.superseded_at.is_(None)
            )
        )
        return {v.resource_id: v.resource for v in versions if v.resource is not None}


def seeded(database: Database) -> Database:
    with database.write() as session:
        seed_demo(session, today=TODAY)
    return database


def test_the_intake_questionnaire_is_valid_r4_under_the_url_the_forms_name() -> None:
    resource = intake_questionnaire()
    assert resource["url"] == INTAKE_QUESTIONNAIRE_URL
    R4Questionnaire.model_validate(resource)
    kinds = {i["linkId"] for i in resource["item"]}
    assert {"reason-for-visit", "symptoms", "medications", "allergies", "conditions", "family-history"} <= kinds
    assert "lifestyle" in kinds


def test_the_seed_serves_the_questionnaire(database: Database) -> None:
    questionnaires = current(seeded(database), "Questionnaire")
    assert list(questionnaires) == ["clinic-intake"]
    served = questionnaires["clinic-intake"]
    assert (served["url"], served["status"], served["item"]) == (
        INTAKE_QUESTIONNAIRE_URL,
        "active",
        intake_questionnaire()["item"],
    )


def test_every_seeded_form_conforms_to_the_questionnaire(database: Database) -> None:
    seeded(database)
    questionnaire = intake_questionnaire()
    responses = current(database, "QuestionnaireResponse")
    assert len(responses) > 10
    statuses = set()
    for fhir_id, resource in responses.items():
        completed = resource["status"] == "completed"
        statuses.add(resource["status"])
        assert response_issues(questionnaire, resource.get("item"), completed=completed) == [], fhir_id
    assert statuses == {"completed", "in-progress"}


def test_seeded_appointments_point_at_their_forms_and_say_their_intake(database: Database) -> None:
    seeded(database)
    appointments = current(database, "Appointment")
    with database.read() as session:
        for form in session.scalars(select(IntakeForm)):
            appointment = session.get(Appointment, form.appointment_id)
            assert appointment is not None
            assert appointment.intake_status == ("completed" if form.status == "submitted" else "sent")
            references = appointments[appointment.fhir_id]["supportingInformation"]
            assert references == [{"reference": f"QuestionnaireResponse/{form.fhir_id}"}]


def test_the_seeded_answers_are_deterministic(database: Database, sqlite_template: Path, tmp_path: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "again.db")
    again = Database(f"sqlite:///{tmp_path / 'again.db'}", finish=pipeline.finish)

    def answers(db: Database) -> dict[Any, Any]:
        with seeded(db).read() as session:
            return {(f.id, f.status): (f.answers, f.extra) for f in session.scalars(select(IntakeForm))}

    try:
        assert answers(database) == answers(again)
    finally:
        again.dispose()
