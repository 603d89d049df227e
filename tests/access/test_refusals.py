"""Every 403 the access policy answers for what the token's scopes or context permit carries the RFC 6750 challenge
``WWW-Authenticate: Bearer error="insufficient_scope"`` (section 3.1: the client may ask for a token that permits
more), with real tokens through HTTP; ``fhir_server.errors.Kind.FORBIDDEN`` builds them all."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fhir_server.db.engine import Database
from tests.access.test_roles import _user
from tests.auth.conftest import BASE, Clinic, token_for


def _bearer(database: Database, clinic: Clinic, scope: str, email: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(database, clinic, scope, email=email)}"}


def _insufficient_scope(response: Any, diagnostics: str) -> None:
    assert response.status_code == 403, response.text
    [issue] = response.json()["issue"]
    assert issue["code"] == "forbidden" and issue["diagnostics"] == diagnostics
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", error_description="{diagnostics}"'
    )


def test_audit_events_refused_for_the_role_or_the_scopes_carry_the_challenge(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    physician = _bearer(database, clinic, "user/*.cruds")
    refused = client.get(f"{BASE}/AuditEvent", headers=physician)
    _insufficient_scope(refused, "the access token does not permit search-type on AuditEvent")
    officer = _user(database, clinic, "compliance_officer")
    without_scope = _bearer(database, clinic, "user/Patient.rs", email=officer)
    _insufficient_scope(
        client.get(f"{BASE}/AuditEvent", headers=without_scope),
        "the access token does not permit search-type on AuditEvent",
    )
    with_scope = _bearer(database, clinic, "user/AuditEvent.rs", email=officer)
    assert client.get(f"{BASE}/AuditEvent", headers=with_scope).status_code == 200


def test_a_fhir_interaction_the_scopes_do_not_permit_carries_the_challenge(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    readonly = _bearer(database, clinic, "user/Patient.rs")
    _insufficient_scope(
        client.delete(f"{BASE}/Patient/pat-2", headers=readonly), "the access token does not permit delete on Patient"
    )
    searched = client.get(f"{BASE}/Appointment", headers=readonly)
    _insufficient_scope(searched, "the access token does not permit search-type on Appointment")


def test_summarize_without_the_right_to_the_form_carries_the_challenge(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    readonly = _bearer(database, clinic, "user/Patient.rs")
    _insufficient_scope(
        client.post(f"{BASE}/QuestionnaireResponse/qr-1/$summarize", headers=readonly),
        "$summarize needs the right to update QuestionnaireResponse resources",
    )
