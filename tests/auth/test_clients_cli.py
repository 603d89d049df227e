"""`fhir-server clients create|list|revoke` and the demo SMART access of `fhir-server seed --demo`."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from fhir_server.access.digests import digest
from fhir_server.cli import app
from fhir_server.db import OAuthClient, Organization
from fhir_server.db.engine import Database
from fhir_server.seed import DEMO_APP_ID, DEMO_PASSWORD, DEMO_PHYSICIAN_EMAIL

runner = CliRunner()


def run(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"FHIR_SERVER_DATABASE_URL": url})
    return result.exit_code, result.output


def _clinic(database: Database) -> None:
    with database.write() as session:
        session.add(Organization(name="CLI Clinic", fhir_id="cli-clinic"))


def test_create_prints_the_client_with_its_secret_once(database_url: str, database: Database) -> None:
    _clinic(database)
    code, output = run(
        database_url,
        "clients", "create", "--name", "Chart app", "--type", "confidential-symmetric",
        "--redirect-uri", "https://chart.example/cb", "--scope", "launch openid fhirUser user/*.rs",
        "--organization", "cli-clinic",
    )  # fmt: skip
    assert code == 0, output
    created = json.loads(output)
    assert created["type"] == "confidential-symmetric" and created["scope"] == "launch openid fhirUser user/*.rs"
    with database.read() as session:
        row = session.get(OAuthClient, created["client_id"])
        assert row is not None and row.secret_hash == digest(created["client_secret"])
    code, listing = run(database_url, "clients", "list")
    assert code == 0
    listed = json.loads(listing)
    assert [c["client_id"] for c in listed] == [created["client_id"]]
    assert "client_secret" not in listed[0]


def test_an_asymmetric_client_registers_a_jwks_file(database_url: str, database: Database, tmp_path: Path) -> None:
    _clinic(database)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "EC", "crv": "P-384", "x": "a", "y": "b", "kid": "k"}]}))
    code, output = run(
        database_url,
        "clients", "create", "--name", "Bulk", "--type", "confidential-asymmetric",
        "--scope", "system/*.rs", "--jwks-file", str(jwks), "--organization", "cli-clinic",
    )  # fmt: skip
    assert code == 0, output
    created = json.loads(output)
    assert created["jwks"]["keys"][0]["kid"] == "k" and "client_secret" not in created


def test_bad_registrations_fail_with_a_message(database_url: str, database: Database) -> None:
    _clinic(database)
    base = ["clients", "create", "--name", "X", "--organization", "cli-clinic"]
    code, output = run(database_url, *base, "--type", "public", "--scope", "openid")
    assert code == 1 and "redirect-uri" in output
    code, output = run(database_url, *base, "--type", "nonsense", "--scope", "openid")
    assert code == 1 and "--type" in output
    code, output = run(
        database_url, *base, "--type", "public", "--scope", "patient/*.dus", "--redirect-uri", "https://x.example/cb"
    )
    assert code == 1 and "not SMART scopes" in output
    code, output = run(database_url, "clients", "revoke", "nobody")
    assert code == 1 and "no client" in output


def test_revoke_marks_the_client_revoked(database_url: str, database: Database) -> None:
    _clinic(database)
    args = ["--type", "public", "--redirect-uri", "https://x.example/cb", "--scope", "openid"]
    created = json.loads(
        run(database_url, "clients", "create", "--name", "X", "--organization", "cli-clinic", *args)[1]
    )
    code, output = run(database_url, "clients", "revoke", created["client_id"])
    assert code == 0 and "revoked" in output
    assert "revoked_at" in json.loads(run(database_url, "clients", "list")[1])[0]


def test_seed_demo_prints_the_demo_logins_and_app(database_url: str) -> None:
    code, output = run(database_url, "seed", "--demo")
    assert code == 0, output
    assert DEMO_PHYSICIAN_EMAIL in output and DEMO_PASSWORD in output and DEMO_APP_ID in output
    code, again = run(database_url, "seed", "--demo")  # idempotent
    assert code == 0 and DEMO_APP_ID in again


def test_generated_client_ids_are_usable_as_command_line_arguments(database: Database) -> None:
    from fhir_server.auth.clients import register_client

    _clinic(database)
    with database.write() as session:
        clinic = session.scalars(select(Organization).where(Organization.fhir_id == "cli-clinic")).one()
        ids = [
            register_client(
                session, name="X", client_type="public", organization=clinic, scope="openid",
                redirect_uris=["https://x.example/cb"],
            ).client.client_id
            for _ in range(300)
        ]  # fmt: skip
    assert not [i for i in ids if i.startswith("-")]  # `clients revoke -abc` would be read as an option
