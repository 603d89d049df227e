"""Each user role caps what a token of that user can ever do (:mod:`fhir_server.access.roles`): at consent the
scopes beyond the role are not offered, and at every request the token's scopes are intersected with the current
role of its user."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from fhir_server.access.roles import ROLE_PERMISSIONS, permissions_of
from fhir_server.db import User
from fhir_server.db.engine import Database
from fhir_server.db.vocab import USER_ROLES
from fhir_server.fhir.terminology import TERMINOLOGY_TYPES
from fhir_server.fhir.types import r4_resource_types
from mappings.registry import MAPPINGS
from tests.auth.conftest import BASE, Browser, Clinic, _row, exchange, password_hash, query_of, token_for

ALL_SCOPES = "openid fhirUser offline_access user/*.cruds"


def _user(database: Database, clinic: Clinic, role: str) -> str:
    """The email of a user of ``role`` in the clinic (the clinic's portal patient for ``patient``)."""
    if role == "patient":
        return clinic.patient_email
    email = f"{role.replace('_', '-')}@example.org"
    with database.write() as session:
        if session.scalar(select(User.id).where(User.email == email)) is None:
            _row(
                session,
                User,
                organization_id=clinic.organization_id,
                email=email,
                password_hash=password_hash(),
                role=role,
            )
    return email


def _offered(page: Any) -> list[str]:
    return [part.split('"')[0] for part in page.text.split('name="scope" value="')[1:]]


def _login_to_consent(browser: Browser, clinic: Clinic, email: str, scope: str) -> tuple[Any, str]:
    from tests.auth.conftest import authorize_params, pkce_pair

    verifier, challenge = pkce_pair()
    page = browser.follow(browser.start(authorize_params(clinic.public_client, scope, challenge)))
    return browser.login(page, email), verifier


def _tokens(client: TestClient, browser: Browser, clinic: Clinic, email: str, scope: str = ALL_SCOPES) -> Any:
    page, verifier = _login_to_consent(browser, clinic, email, scope)
    code = query_of(browser.consent(page).headers["location"])["code"]
    response = exchange(client, code, verifier, clinic.public_client)
    assert response.status_code == 200, response.text
    return response.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _forbidden(response: Any, expression: str) -> None:
    assert response.status_code == 403, response.text
    issue = response.json()["issue"][0]
    assert response.json()["resourceType"] == "OperationOutcome"
    assert issue["code"] == "forbidden" and issue["expression"] == [expression]


def test_a_readonly_user_is_offered_read_scopes_only_and_cannot_delete_a_patient(
    client: TestClient, browser: Browser, database: Database, clinic: Clinic
) -> None:
    email = _user(database, clinic, "readonly")
    page, _verifier = _login_to_consent(browser, clinic, email, ALL_SCOPES)
    assert _offered(page) == ["openid", "fhirUser", "offline_access", "user/*.rs"]
    assert "user/*.cruds" not in page.text
    body = _tokens(client, browser, clinic, email)
    assert body["scope"] == "openid fhirUser offline_access user/*.rs"
    headers = _bearer(body["access_token"])
    assert client.get(f"{BASE}/Patient/pat-2", headers=headers).status_code == 200
    _forbidden(client.delete(f"{BASE}/Patient/pat-2", headers=headers), "Patient")
    assert client.get(f"{BASE}/Patient/pat-2", headers=headers).status_code == 200


def test_a_readonly_users_token_with_write_scopes_still_cannot_delete(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    token = token_for(database, clinic, "user/*.cruds", email=_user(database, clinic, "readonly"))
    _forbidden(client.delete(f"{BASE}/Patient/pat-2", headers=_bearer(token)), "Patient")


def test_a_physician_updates_a_patient_but_cannot_delete_one(
    client: TestClient, browser: Browser, clinic: Clinic
) -> None:
    body = _tokens(client, browser, clinic, clinic.physician_email)
    granted = body["scope"].split()
    assert "user/*.cruds" not in granted and "user/Patient.cruds" not in granted
    assert "user/*.crus" in granted or "user/Patient.crus" in granted
    headers = _bearer(body["access_token"])
    current = client.get(f"{BASE}/Patient/pat-2", headers=headers).json()
    assert client.put(f"{BASE}/Patient/pat-2", json={**current, "gender": "male"}, headers=headers).status_code == 200
    _forbidden(client.delete(f"{BASE}/Patient/pat-2", headers=headers), "Patient")


def test_front_desk_cannot_read_questionnaire_responses(client: TestClient, database: Database, clinic: Clinic) -> None:
    headers = _bearer(token_for(database, clinic, "user/*.cruds", email=_user(database, clinic, "front_desk")))
    _forbidden(client.get(f"{BASE}/QuestionnaireResponse", headers=headers), "QuestionnaireResponse")
    _forbidden(client.get(f"{BASE}/ImagingStudy", headers=headers), "ImagingStudy")
    assert client.get(f"{BASE}/Patient", headers=headers).status_code == 200
    assert client.get(f"{BASE}/Appointment", headers=headers).status_code == 200


def test_a_compliance_officer_reads_the_audit_trail_but_writes_nothing(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = _bearer(token_for(database, clinic, "user/*.cruds", email=_user(database, clinic, "compliance_officer")))
    assert client.get(f"{BASE}/AuditEvent", headers=headers).status_code == 200
    current = client.get(f"{BASE}/Patient/pat-2", headers=headers).json()
    _forbidden(client.put(f"{BASE}/Patient/pat-2", json={**current, "gender": "male"}, headers=headers), "Patient")
    _forbidden(client.post(f"{BASE}/Patient", json={"resourceType": "Patient"}, headers=headers), "Patient")
    _forbidden(client.delete(f"{BASE}/Patient/pat-2", headers=headers), "Patient")


def test_a_role_change_binds_tokens_issued_before_it_and_their_refreshes(
    client: TestClient, browser: Browser, database: Database, clinic: Clinic
) -> None:
    body = _tokens(client, browser, clinic, clinic.physician_email)
    headers = _bearer(body["access_token"])
    current = client.get(f"{BASE}/Patient/pat-2", headers=headers).json()
    with database.write() as session:
        session.execute(update(User).where(User.email == clinic.physician_email).values(role="readonly"))
    _forbidden(client.put(f"{BASE}/Patient/pat-2", json={**current, "gender": "male"}, headers=headers), "Patient")
    data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": clinic.public_client}
    refreshed = client.post(f"{BASE}/auth/token", data=data)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["scope"] == "openid fhirUser offline_access user/*.rs"
    again = _bearer(refreshed.json()["access_token"])
    _forbidden(client.put(f"{BASE}/Patient/pat-2", json={**current, "gender": "male"}, headers=again), "Patient")


# --- the whole table, through HTTP, on every served type --------------------------------------------------------


def _clinic_terminology(resource_type: str) -> str:
    """The canonical URL of the clinic's own CodeSystem or ValueSet the role test stores."""
    return f"http://clinic.example.org/fhir/{resource_type}/role-probe"


def _probe(client: TestClient, headers: dict[str, str], resource_type: str, letter: str) -> Any:
    """A request needing ``letter`` on ``resource_type`` that changes nothing when allowed (unknown ids)."""
    url = f"{BASE}/{resource_type}"
    if letter == "r":
        return client.get(f"{url}/no-such-id", headers=headers)
    if letter == "s" and resource_type in TERMINOLOGY_TYPES:  # the clinic's own, beside the public R4 definitions
        return client.get(url, params={"url": _clinic_terminology(resource_type)}, headers=headers)
    if letter == "s":
        return client.get(url, headers=headers)
    if letter == "c":
        return client.post(f"{url}/$validate?mode=create", json={"resourceType": resource_type}, headers=headers)
    if letter == "u":
        patch = [{"op": "add", "path": "/language", "value": "en"}]
        return client.patch(
            f"{url}/no-such-id", json=patch, headers={**headers, "Content-Type": "application/json-patch+json"}
        )
    return client.delete(f"{url}/no-such-id", headers=headers)


@pytest.mark.parametrize("role", USER_ROLES)
def test_every_role_gets_exactly_its_row_of_the_table_on_every_served_type(
    client: TestClient, database: Database, clinic: Clinic, role: str
) -> None:
    admin = _bearer(token_for(database, clinic, "user/*.cruds", email=_user(database, clinic, "admin")))
    for resource_type in TERMINOLOGY_TYPES:
        stored = {"resourceType": resource_type, "url": _clinic_terminology(resource_type), "status": "draft"}
        stored |= {"content": "not-present"} if resource_type == "CodeSystem" else {}
        assert client.post(f"{BASE}/{resource_type}", json=stored, headers=admin).status_code == 201
    headers = _bearer(token_for(database, clinic, "user/*.cruds", email=_user(database, clinic, role)))
    wrong = []
    probes = [(t, "cruds") for t in sorted(MAPPINGS)] + [("AuditEvent", "rs")]  # the audit trail is read-only
    for resource_type, letters in probes:
        allowed = permissions_of(role).letters(resource_type)
        for letter in letters:
            response = _probe(client, headers, resource_type, letter)
            refused = response.status_code == 403 and response.json()["issue"][0]["code"] == "forbidden"
            if letter == "s" and resource_type in TERMINOLOGY_TYPES:
                # The R4 definitions answer every token (they hold no one's data); the clinic's own only with "s".
                refused = response.status_code == 200 and not response.json().get("entry")
            assert response.status_code < 500, response.text
            if refused == (letter in allowed):
                wrong.append(f"{resource_type}.{letter}: {response.status_code}")
    assert wrong == []


def test_the_table_names_only_r4_resource_types_and_every_role() -> None:
    assert set(ROLE_PERMISSIONS) == set(USER_ROLES)
    named = {t for permissions in ROLE_PERMISSIONS.values() for t in permissions.types}
    assert named <= r4_resource_types()
    letters = {c for p in ROLE_PERMISSIONS.values() for s in (p.default, *p.types.values()) for c in s}
    assert letters <= set("cruds")


def test_a_patient_scope_the_role_cannot_hold_asks_no_patient_to_be_picked(
    browser: Browser, database: Database, clinic: Clinic
) -> None:
    email = _user(database, clinic, "front_desk")
    page, _verifier = _login_to_consent(
        browser, clinic, email, "openid patient/QuestionnaireResponse.rs user/Patient.rs"
    )
    assert "pick-patient" not in page.text
    assert _offered(page) == ["openid", "user/Patient.rs"]
