"""The fhir-server command: every subcommand has --help, works on both databases, fails with a message."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from fhir_server.cli import app
from fhir_server.db import Appointment, Cancellation, IntakeForm, Organization, Patient, Practitioner
from fhir_server.db.engine import Database
from fhir_server.db.store import StoredResource
from fhir_server.fhir import pipeline
from fhir_server.seed import DEMO_CLINIC_ID

runner = CliRunner()


def run(url: str, *args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"FHIR_SERVER_DATABASE_URL": url}, input=input)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["seed"],
        ["users"],
        ["users", "create"],
        ["users", "list"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


@pytest.mark.parametrize(
    "empty_database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_db_upgrade_then_current(empty_database_url: str) -> None:
    code, output = run(empty_database_url, "db", "current")
    assert code == 0 and "behind" in output
    code, output = run(empty_database_url, "db", "upgrade")
    assert code == 0 and "revision" in output
    code, output = run(empty_database_url, "db", "current")
    assert code == 0 and "up to date" in output


def test_seed_demo_installs_the_clinic_once(database_url: str) -> None:
    code, first = run(database_url, "seed", "--demo")
    assert code == 0, first
    assert "installed: 5 practitioners, 50 patients" in first
    code, output = run(database_url, "seed", "--demo")
    assert code == 0 and "already present" in output
    db = Database(database_url, finish=pipeline.finish)
    with db.read() as session:

        def count(model: type) -> int:
            return session.scalar(select(func.count()).select_from(model)) or 0

        assert count(Organization) == 1
        assert count(Practitioner) == 5
        assert count(Patient) == 50
        assert count(Appointment) > 50
        assert count(IntakeForm) > 0
        records = count(StoredResource)
        assert records > 50 * 10 and f"{records} resources of the patients' clinical records" in first
        statuses = set(session.scalars(select(Appointment.status)))
        assert {"cancelled", "no-show", "confirmed"} <= statuses
        assert count(Cancellation) == len(
            session.scalars(select(Appointment.id).where(Appointment.status.in_(["cancelled", "no-show"]))).all()
        )
        mrns = session.scalars(select(Patient.mrn).where(Patient.organization_id == DEMO_CLINIC_ID)).all()
        assert len(set(mrns)) == 50 and all(m.startswith("CLI-") for m in mrns)
    db.dispose()


def test_seed_without_a_kind_fails(database_url: str) -> None:
    code, output = run(database_url, "seed")
    assert code == 1 and "--demo" in output


def test_users_create_and_list(database_url: str) -> None:
    run(database_url, "seed", "--demo")
    code, output = run(
        database_url,
        "users",
        "create",
        "--email",
        "Nurse.Joy@Clinic.example.org",
        "--name",
        "Joy Park",
        "--role",
        "nurse",
        "--organization",
        "Riverside Family Clinic",
        "--password",
        "correct horse",
    )
    assert code == 0, output
    code, output = run(database_url, "users", "list")
    assert code == 0 and "nurse.joy@clinic.example.org" in output and "Joy Park" in output


def test_users_create_asks_for_the_password(database_url: str) -> None:
    run(database_url, "seed", "--demo")
    code, output = run(
        database_url,
        "users",
        "create",
        "--email",
        "a@clinic.example.org",
        "--name",
        "A",
        "--role",
        "admin",
        "--organization",
        "demo-clinic",
        input="long password\nlong password\n",
    )
    assert code == 0, output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "doctor", "--organization", "demo-clinic"], "unknown role"),
        (["--role", "nurse", "--organization", "nowhere"], "no clinic matches"),
    ],
)
def test_users_create_refuses_bad_input(database_url: str, args: list[str], message: str) -> None:
    run(database_url, "seed", "--demo")
    code, output = run(
        database_url,
        "users",
        "create",
        "--email",
        "b@clinic.example.org",
        "--name",
        "B",
        "--password",
        "long password",
        *args,
    )
    assert code == 1 and message in output


def test_a_short_password_is_refused(database_url: str) -> None:
    run(database_url, "seed", "--demo")
    code, output = run(
        database_url,
        "users",
        "create",
        "--email",
        "c@clinic.example.org",
        "--name",
        "C",
        "--role",
        "nurse",
        "--organization",
        "demo-clinic",
        "--password",
        "short",
    )
    assert code == 1 and "at least 8 characters" in output


def test_an_unreachable_database_is_a_clear_failure() -> None:
    code, output = run("postgresql+psycopg://nobody@127.0.0.1:1/none", "db", "current")
    assert code == 1 and "cannot reach the database" in output


def test_a_bad_setting_is_a_clear_failure() -> None:
    code, output = run("mysql://x/y", "db", "current")
    assert code == 1 and "FHIR_SERVER_DATABASE_URL" in output
