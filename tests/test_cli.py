"""The fhir-server command: every subcommand has --help, works on both databases, fails with a message."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from fhir_server.app import create_app
from fhir_server.cli import app
from fhir_server.db import Appointment, Cancellation, IntakeForm, Organization, Patient, Practitioner
from fhir_server.db.engine import Database
from fhir_server.db.store import StoredResource
from fhir_server.fhir import pipeline
from fhir_server.seed import DEMO_CLINIC_ID
from fhir_server.settings import load_settings

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
        ["clinics"],
        ["clinics", "create"],
        ["clinics", "list"],
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
    if empty_database_url.startswith("sqlite"):  # a missing SQLite file is created only by `db upgrade` and `serve`
        assert code == 1 and "no database at" in output
    else:
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


def test_clinics_create_makes_a_clinic_served_through_fhir_and_listed(database_url: str) -> None:
    code, output = run(database_url, "clinics", "create", "--name", "Hilltop Clinic", "--npi", "1245319599",
                       "--timezone", "America/Denver")  # fmt: skip
    assert code == 0, output
    fhir_id = output.split("Organization/")[1].split()[0]
    settings = load_settings(database_url=database_url, auth="disabled")
    with TestClient(create_app(settings)) as client:
        served = client.get(f"/fhir/Organization/{fhir_id}").json()  # versioned
        assert (served["name"], served["meta"]["versionId"]) == ("Hilltop Clinic", "1")
        found = client.get("/fhir/Organization", params={"name": "Hilltop"}).json()  # indexed
        assert [e["resource"]["id"] for e in found["entry"]] == [fhir_id]
        patient = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Doe"}]})
        assert patient.status_code == 201, patient.text  # the only clinic: writes need not name it
    code, output = run(database_url, "users", "create", "--email", "a@hilltop.example.org", "--name", "A",
                       "--role", "owner", "--organization", "1245319599", "--password", "correct horse")  # fmt: skip
    assert code == 0 and "in Hilltop Clinic" in output, output
    code, output = run(database_url, "clinics", "list")
    assert code == 0, output
    assert fhir_id in output and "Hilltop Clinic" in output and "America/Denver" in output
    assert [[c.strip() for c in line.split("│")[6:9]] for line in output.splitlines() if fhir_id in line] == [
        ["1", "0", "1"]
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", " "], "1 to 200 characters"),
        (["--name", "X", "--npi", "12345"], "10 digits"),
        (["--name", "X", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--name", "X", "--npi", "1003000126"], "another clinic has the NPI"),
    ],
)
def test_clinics_create_refuses_bad_input(database_url: str, args: list[str], message: str) -> None:
    run(database_url, "seed", "--demo")  # its clinic has the NPI 1003000126
    code, output = run(database_url, "clinics", "create", *args)
    assert code == 1 and message in output, output


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
