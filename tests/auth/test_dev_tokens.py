"""`fhir-server token`: a development token through the token endpoint's own grants (issue 16 item 2), and
`fhir-server clients create --generate-key` / `clients assertion` for a backend service's first token."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from fhir_server.db import AuditEvent, Grant
from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, Clinic

runner = CliRunner()
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def run(database_url: str, *args: str, **env: str) -> tuple[int, str, str]:
    from fhir_server.cli import app

    environment = {"FHIR_SERVER_DATABASE_URL": database_url, "FHIR_SERVER_BASE_URL": BASE, **env}
    result = runner.invoke(app, list(args), env=environment)
    return result.exit_code, result.stdout, " ".join(result.stderr.split())  # the error console wraps lines


def dev_token(database_url: str, *args: str) -> tuple[int, str, str]:
    return run(database_url, "token", *args, FHIR_SERVER_DEV_TOKENS="true")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_dev_token_is_refused_unless_the_setting_allows_it(database_url: str, clinic: Clinic) -> None:
    args = ("token", "--client", clinic.public_client, "--scope", "user/Patient.rs", "--user", clinic.physician_email)
    code, _out, err = run(database_url, *args)
    assert code == 1 and "FHIR_SERVER_DEV_TOKENS=true" in err
    code, _out, err = run(database_url, *args, FHIR_SERVER_DEV_TOKENS="true", FHIR_SERVER_AUTH="disabled")
    assert code == 1 and "authorization is disabled" in err


def test_a_users_dev_token_reads_introspects_revokes_and_is_audited(
    client: TestClient, clinic: Clinic, database: Database, database_url: str
) -> None:
    code, out, err = dev_token(
        database_url,
        "--client", clinic.public_client, "--user", clinic.physician_email,
        "--scope", "launch/patient openid fhirUser patient/Patient.rs system/*.rs", "--patient", "pat-1",
    )  # fmt: skip
    assert code == 0, err
    response = json.loads(out)
    assert response["token_type"] == "Bearer" and response["patient"] == "pat-1"
    assert response["scope"] == "launch/patient openid fhirUser patient/Patient.rs"  # system/ never for a user
    assert "refresh_token" not in response and response["id_token"]
    token = response["access_token"]
    assert client.get(f"{BASE}/Patient/pat-1", headers=bearer(token)).status_code == 200
    assert client.get(f"{BASE}/Patient/pat-2", headers=bearer(token)).status_code in (403, 404)
    introspected = client.post(f"{BASE}/auth/introspect", data={"token": token}, headers=bearer(token)).json()
    assert introspected["active"] is True and introspected["patient"] == "pat-1"
    revoked = client.post(f"{BASE}/auth/revoke", data={"token": token, "client_id": clinic.public_client})
    assert revoked.status_code == 200
    assert client.get(f"{BASE}/Patient/pat-1", headers=bearer(token)).status_code == 401
    with database.read() as session:
        issued = session.scalars(select(AuditEvent).where(AuditEvent.action == "token-issued")).one()
        grant = session.scalars(select(Grant)).one()
    assert issued.client_id == clinic.public_client and issued.user_id == grant.user_id
    assert issued.user_agent is not None and "fhir-server token" in issued.user_agent


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scope", "user/Patient.rs"), "no live client"),
        (("--scope", "patient/Patient.rs", "--user", "doc@example.org"), "add --patient"),
        (("--scope", "patient/Patient.rs", "--user", "pat@example.org", "--patient", "pat-2"), "may not have"),
        (("--scope", "user/Patient.rs offline_access", "--user", "doc@example.org"), "no refresh token"),
        (("--scope", "user/Patient.rs", "--user", "nobody@example.org"), "no active user"),
        (("--scope", "system/Patient.rs"), "without --user only a backend service"),
        (("--scope", "system/*.rs", "--patient", "pat-1"), "--patient puts a patient"),
        (("--scope", "openid", "--user", "doc@example.org", "--patient", "nope"), "Patient/nope"),
    ],
)
def test_a_dev_token_is_refused_where_the_token_endpoint_would_refuse(
    database_url: str, clinic: Clinic, args: tuple[str, ...], message: str
) -> None:
    client_id = "unknown" if message == "no live client" else clinic.public_client
    code, out, err = dev_token(database_url, "--client", client_id, *args)
    assert code == 1 and message in err and out == ""


def test_a_portal_users_dev_token_has_their_own_record_in_context(database_url: str, clinic: Clinic) -> None:
    args = ("--client", clinic.public_client, "--user", clinic.patient_email, "--scope", "patient/*.rs")
    code, out, err = dev_token(database_url, *args)
    assert code == 0, err
    assert json.loads(out)["patient"] == clinic.patient_id


def _backend(database_url: str, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    key = tmp_path / "backend.pem"
    code, out, err = run(
        database_url,
        "clients", "create", "--name", "Backend", "--type", "confidential-asymmetric", "--generate-key",
        "--key-out", str(key), "--scope", "system/*.rs", "--organization", "test-clinic",
    )  # fmt: skip
    assert code == 0, err
    assert str(key) in err
    return json.loads(out), key


def test_generate_key_writes_a_private_key_and_registers_its_public_jwks(
    database_url: str, clinic: Clinic, tmp_path: Path
) -> None:
    created, key = _backend(database_url, tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    (public,) = created["jwks"]["keys"]
    assert public["kty"] == "EC" and public["alg"] == "ES384" and public["kid"] and "d" not in public
    code, _out, err = run(
        database_url,
        "clients", "create", "--name", "Again", "--type", "confidential-asymmetric", "--generate-key",
        "--key-out", str(key), "--scope", "system/*.rs", "--organization", "test-clinic",
    )  # fmt: skip
    assert code == 1 and "not overwriting" in err
    code, out, _err = run(database_url, "clients", "list")
    assert [c["name"] for c in json.loads(out)].count("Again") == 0
    code, _out, err = run(
        database_url,
        "clients", "create", "--name", "X", "--type", "confidential-asymmetric", "--generate-key",
        "--jwks-url", "https://x.example/jwks", "--scope", "system/*.rs", "--organization", "test-clinic",
    )  # fmt: skip
    assert code == 1 and "--generate-key" in err


def test_the_generated_key_signs_an_assertion_the_token_endpoint_accepts(
    client: TestClient, database_url: str, clinic: Clinic, tmp_path: Path
) -> None:
    created, key = _backend(database_url, tmp_path)
    code, signed, err = run(database_url, "clients", "assertion", "--client", created["client_id"], "--key", str(key))
    assert code == 0, err
    form = {
        "grant_type": "client_credentials",
        "scope": "system/Patient.rs",
        "client_assertion_type": ASSERTION,
        "client_assertion": signed.strip(),
    }
    response = client.post(f"{BASE}/auth/token", data=form)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert client.get(f"{BASE}/Patient/pat-1", headers=bearer(token)).status_code == 200
    assert client.post(f"{BASE}/auth/token", data=form).status_code in (400, 401)  # the jti is spent
    code, out, err = dev_token(database_url, "--client", created["client_id"], "--scope", "system/Patient.rs")
    assert code == 0, err
    backend = json.loads(out)
    assert backend["scope"] == "system/Patient.rs" and backend["expires_in"] == 300
    assert client.get(f"{BASE}/Patient?_count=1", headers=bearer(backend["access_token"])).status_code == 200


def test_an_assertion_needs_a_private_key(database_url: str, tmp_path: Path) -> None:
    public = tmp_path / "public.json"
    public.write_text(json.dumps({"kty": "EC", "crv": "P-384", "x": "a", "y": "b"}))
    code, _out, err = run(database_url, "clients", "assertion", "--client", "c", "--key", str(public))
    assert code == 1 and "public.json" in err
    code, _out, err = run(database_url, "clients", "assertion", "--client", "c", "--key", str(tmp_path / "none"))
    assert code == 1 and "cannot read" in err
