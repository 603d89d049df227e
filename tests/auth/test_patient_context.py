"""A portal patient (a user with role ``patient``) is only ever in context as themselves: they pick no other patient,
never reach the EHR launcher, make no launch handle, and no code or token of theirs names another patient."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from fhir_server.auth.audit_events import Origin
from fhir_server.auth.launch import create_launch
from fhir_server.auth.routes import router as auth_router
from fhir_server.db import AuthorizationCode, AuthorizationRequest, Grant, LaunchContext, Patient, User
from fhir_server.db.engine import Database
from tests.auth.conftest import (
    BASE,
    PASSWORD,
    Browser,
    Clinic,
    authorize_params,
    exchange,
    form_value,
    pkce_pair,
    query_of,
    token_for,
)

SCOPE = "launch launch/patient openid fhirUser patient/*.rs"
OTHER_NAME = "Zzotherpatient"
"""The other patient's family name: a page that shows it lists them."""


@pytest.fixture
def other_patient(database: Database, clinic: Clinic) -> str:
    """The clinic's second patient, renamed so any page that shows them is caught."""
    with database.write() as session:
        session.execute(
            update(Patient).where(Patient.fhir_id == clinic.other_patient_id).values(family_name=OTHER_NAME)
        )
    return clinic.other_patient_id


def _portal_consent_page(browser: Browser, clinic: Clinic) -> tuple[Any, str, dict[str, str]]:
    """A portal patient's authorization request, logged in: (its consent page, verifier, params)."""
    verifier, challenge = pkce_pair()
    params = authorize_params(clinic.public_client, SCOPE, challenge)
    page = browser.follow(browser.start(params))
    if 'name="password"' in page.text:
        page = browser.login(page, clinic.patient_email)
    assert "Allow Public App" in page.text, page.text
    return page, verifier, params


def test_a_portal_patient_cannot_pick_another_patient(
    client: TestClient, browser: Browser, clinic: Clinic, other_patient: str
) -> None:
    page, verifier, _params = _portal_consent_page(browser, clinic)
    picked = browser.pick(page, other_patient)
    assert picked.status_code == 403
    assert OTHER_NAME not in picked.text
    done = browser.consent(page)
    body = exchange(client, query_of(done.headers["location"])["code"], verifier, clinic.public_client).json()
    assert body["patient"] == clinic.patient_id
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get(f"{BASE}/Patient/{other_patient}", headers=headers).status_code == 404
    assert client.get(f"{BASE}/Patient/{clinic.patient_id}", headers=headers).status_code == 200


def _log_in(client: TestClient, email: str) -> None:
    response = client.post(
        f"{BASE}/auth/login", data={"email": email, "password": PASSWORD, "next": "launch"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def test_a_portal_patient_never_reaches_the_ehr_launcher(
    client: TestClient, database: Database, clinic: Clinic, other_patient: str
) -> None:
    _log_in(client, clinic.patient_email)
    page = client.get(f"{BASE}/auth/launch")
    assert page.status_code == 403
    assert OTHER_NAME not in page.text and "M2" not in page.text
    started = client.post(
        f"{BASE}/auth/launch",
        data={"client_id": clinic.public_client, "patient": other_patient},
        follow_redirects=False,
    )
    assert started.status_code == 403
    assert OTHER_NAME not in started.text
    with database.read() as session:
        assert session.scalars(select(LaunchContext)).all() == []


def test_a_token_of_a_portal_patient_serves_only_their_own_record_whatever_its_grant_says(
    client: TestClient, database: Database, clinic: Clinic, other_patient: str
) -> None:
    token = token_for(database, clinic, "patient/*.rs", email=clinic.patient_email, patient=other_patient)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{BASE}/Patient/{other_patient}", headers=headers).status_code == 404
    assert client.get(f"{BASE}/Patient/{clinic.patient_id}", headers=headers).status_code == 200


def test_the_token_endpoint_refuses_a_portal_patients_code_naming_another_patient(
    client: TestClient, browser: Browser, database: Database, clinic: Clinic, other_patient: str
) -> None:
    page, verifier, _params = _portal_consent_page(browser, clinic)
    code = query_of(browser.consent(page).headers["location"])["code"]
    with database.write() as session:  # as if a flaw before the token endpoint had bound another patient
        row = session.scalars(select(AuthorizationCode)).one()
        row.context = {**row.context, "patient": other_patient}
    response = exchange(client, code, verifier, clinic.public_client)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


# --- the class: every route of the authorization server, driven by a portal login aimed at another patient -------


def _routes(routes: Iterable[Any], prefix: str) -> Iterator[tuple[str, str]]:
    """(method, path) of every route of the authorization server's router, included routers walked."""
    for route in routes:
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and hasattr(inner, "routes"):
            yield from _routes(inner.routes, prefix + getattr(inner, "prefix", ""))
        elif hasattr(route, "methods"):
            yield from ((method, prefix + route.path) for method in sorted(route.methods) if method != "HEAD")


AUTH_ROUTES = sorted(set(_routes(auth_router.routes, auth_router.prefix)))


def test_the_route_walk_finds_the_routes_that_take_a_patient() -> None:
    assert {("POST", "/fhir/auth/pick-patient"), ("GET", "/fhir/auth/launch"), ("POST", "/fhir/auth/launch")} <= set(
        AUTH_ROUTES
    )
    assert ("GET", "/fhir/auth/authorize") in AUTH_ROUTES and ("POST", "/fhir/auth/consent") in AUTH_ROUTES


def _clinician_launch(database: Database, clinic: Clinic, patient_id: str) -> str:
    """A live launch handle a physician made for ``patient_id`` (what a portal patient must not ride on)."""
    with database.write() as session:
        physician = session.scalars(select(User).where(User.email == clinic.physician_email)).one()
        patient = session.scalars(select(Patient).where(Patient.fhir_id == patient_id)).one()
        return create_launch(
            session,
            user=physician,
            client_id=clinic.public_client,
            patient=patient,
            base_url=BASE,
            lifetime_seconds=600,
            origin=Origin(),
        ).handle


def _bound_to(database: Database, clinic: Clinic, patient_id: str) -> list[str]:
    """Whatever the portal patient's login has bound to ``patient_id``: requests, launches, codes, grants."""
    with database.read() as session:
        user = session.scalars(select(User).where(User.email == clinic.patient_email)).one()
        requests = session.scalars(select(AuthorizationRequest).where(AuthorizationRequest.user_id == user.id)).all()
        codes = session.scalars(select(AuthorizationCode).where(AuthorizationCode.user_id == user.id)).all()
        grants = session.scalars(select(Grant).where(Grant.user_id == user.id)).all()
        launches = session.scalars(select(LaunchContext).where(LaunchContext.user_id == user.id)).all()
        found = [f"request {r.patient_id}" for r in requests if r.patient_id == patient_id]
        found += [f"code {c.context}" for c in codes if c.context.get("patient") == patient_id]
        found += [f"grant {g.context}" for g in grants if g.context.get("patient") == patient_id]
        return found + [f"launch {launch.patient_id}" for launch in launches]


@pytest.mark.parametrize(("method", "path"), AUTH_ROUTES)
def test_no_route_puts_another_patient_in_a_portal_patients_context(
    client: TestClient,
    browser: Browser,
    database: Database,
    clinic: Clinic,
    other_patient: str,
    method: str,
    path: str,
) -> None:
    page, verifier, params = _portal_consent_page(browser, clinic)
    launch = _clinician_launch(database, clinic, other_patient)
    aimed = {
        **params,
        "request": form_value(page.text, "request"),
        "patient": other_patient,
        "patient_id": other_patient,
        "launch": launch,
        "decision": "allow",
        "scope": SCOPE,
        "client_id": clinic.public_client,
        "grant": "00000000-0000-0000-0000-000000000000",
    }
    url = f"https://fhir.example.org{path}"
    if method == "GET":
        response = client.get(url, params=aimed, follow_redirects=False)
    else:
        response = client.post(url, data=aimed, follow_redirects=False)
    assert response.status_code < 500, response.text
    assert OTHER_NAME not in response.text
    code = query_of(response.headers.get("location", "")).get("code")
    if code is not None:  # a code came back: its token must carry the portal patient's own record
        body = exchange(client, code, verifier, clinic.public_client).json()
        assert body.get("patient") in (None, clinic.patient_id)
    assert _bound_to(database, clinic, other_patient) == []


def test_a_portal_login_without_a_patient_record_gets_no_patient_context(
    browser: Browser, database: Database, clinic: Clinic, other_patient: str
) -> None:
    with database.write() as session:
        session.execute(update(User).where(User.email == clinic.patient_email).values(patient_id=None))
    _verifier, challenge = pkce_pair()
    page = browser.follow(browser.start(authorize_params(clinic.public_client, SCOPE, challenge)))
    page = browser.login(page, clinic.patient_email)
    assert page.status_code == 403
    assert OTHER_NAME not in page.text and "pick-patient" not in page.text
