"""Fixtures of the SMART tests: an app with authorization enabled, a clinic with a physician, a portal patient and
registered clients, and helpers that walk the authorization code flow the way a browser does."""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.auth.clients import register_client
from fhir_server.auth.passwords import hash_password
from fhir_server.db import Organization, Patient, Practitioner, User
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings

BASE = "https://fhir.example.org/fhir"
REDIRECT = "https://app.example.org/callback"
PASSWORD = "correct horse battery"
APP_SCOPE = "launch launch/patient openid fhirUser profile offline_access online_access patient/*.cruds user/*.cruds"


@dataclass
class Clinic:
    """What the tests' clinic holds: ids and the secrets of its registered clients."""

    organization_id: uuid.UUID
    patient_id: str
    other_patient_id: str
    practitioner_id: str
    physician_email: str
    patient_email: str
    public_client: str
    confidential_client: str
    confidential_secret: str
    admin_email: str = "admin@example.org"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(load_settings(database_url=database_url, base_url=BASE, auth="enabled"))
    with TestClient(app, base_url="https://fhir.example.org") as client:
        yield client


@functools.cache
def password_hash() -> str:
    """One real Argon2 hash of PASSWORD for every test user (hashing costs about a second here)."""
    return hash_password(PASSWORD)


def _user_id(session: Any, email: str) -> Any:
    return session.scalar(select(User.id).where(User.email == email))


def _row(session: Any, model: type[Any], **values: Any) -> Any:
    if model is User:
        values.setdefault("full_name", values["email"].split("@")[0].title())
    row = model(**values)
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def clinic(client: TestClient, database: Database) -> Clinic:
    with database.write() as session:
        org = _row(session, Organization, name="Test Clinic", fhir_id="test-clinic")
        doc = _row(session, Practitioner, organization_id=org.id, given_name="Ann", family_name="Doc", fhir_id="doc-1")
        pat = _row(
            session, Patient, organization_id=org.id, mrn="M1", given_name="Pat", family_name="Ient", fhir_id="pat-1"
        )
        _row(session, Patient, organization_id=org.id, mrn="M2", given_name="Oth", family_name="Er", fhir_id="pat-2")
        hashed = password_hash()
        _row(session, User, organization_id=org.id, email="doc@example.org", password_hash=hashed, role="physician")
        session.get_one(User, _user_id(session, "doc@example.org")).practitioner_id = doc.id
        _row(session, User, organization_id=org.id, email="admin@example.org", password_hash=hashed, role="admin")
        _row(session, User, organization_id=org.id, email="pat@example.org", password_hash=hashed, role="patient")
        session.get_one(User, _user_id(session, "pat@example.org")).patient_id = pat.id
        public = register_client(
            session,
            name="Public App",
            client_type="public",
            organization=org,
            scope=APP_SCOPE,
            redirect_uris=[REDIRECT],
            launch_uri="https://app.example.org/launch",
        )
        confidential = register_client(
            session,
            name="Confidential App",
            client_type="confidential-symmetric",
            organization=org,
            scope=APP_SCOPE,
            redirect_uris=[REDIRECT],
        )
        assert confidential.secret is not None
        return Clinic(
            org.id,
            "pat-1",
            "pat-2",
            "doc-1",
            "doc@example.org",
            "pat@example.org",
            public.client.client_id,
            confidential.client.client_id,
            confidential.secret,
        )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(client_id: str, scope: str, challenge: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "st-" + secrets.token_hex(4),
        "aud": BASE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def form_value(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@dataclass
class Browser:
    """Walks the authorization pages like a user: login, picker, consent."""

    client: TestClient

    def start(self, params: dict[str, str], method: str = "GET") -> Any:
        if method == "POST":
            return self.client.post(f"{BASE}/auth/authorize", data=params, follow_redirects=False)
        return self.client.get(f"{BASE}/auth/authorize", params=params, follow_redirects=False)

    def follow(self, response: Any) -> Any:
        return self.client.get(response.headers["location"], follow_redirects=False)

    def login(self, page: Any, email: str, password: str = PASSWORD) -> Any:
        handle = form_value(page.text, "request")
        data = {"request": handle, "email": email, "password": password}
        return self.client.post(f"{BASE}/auth/login", data=data, follow_redirects=False)

    def pick(self, page: Any, patient_id: str) -> Any:
        data = {"request": form_value(page.text, "request"), "patient": patient_id}
        return self.client.post(f"{BASE}/auth/pick-patient", data=data, follow_redirects=False)

    def consent(self, page: Any, scopes: list[str] | None = None, decision: str = "allow") -> Any:
        offered = [part.split('"')[0] for part in page.text.split('name="scope" value="')[1:]]
        data: dict[str, Any] = {"request": form_value(page.text, "request"), "decision": decision}
        data["scope"] = offered if scopes is None else scopes
        return self.client.post(f"{BASE}/auth/consent", data=data, follow_redirects=False)

    def code_for(
        self, client_id: str, scope: str, email: str, patient: str | None = None, **extra: str
    ) -> tuple[str, str, dict[str, str]]:
        """Run the whole flow; returns (code, verifier, authorize params)."""
        verifier, challenge = pkce_pair()
        params = authorize_params(client_id, scope, challenge, **extra)
        page = self.follow(self.start(params))
        page = self.login(page, email)
        if "pick-patient" in page.text:
            page = self.pick(page, patient or "pat-1")
        done = self.consent(page)
        assert done.status_code == 302, done.text
        query = query_of(done.headers["location"])
        assert query["state"] == params["state"]
        return query["code"], verifier, params


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


def exchange(client: TestClient, code: str, verifier: str, client_id: str, **extra: Any) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    return client.post(f"{BASE}/auth/token", data=data, **extra)


def token_for(
    database: Database, clinic: Clinic, scope: str, email: str | None = None, patient: str | None = None
) -> str:
    """A live access token for ``scope``, issued the way the token endpoint does (grant + token rows), to the
    clinic's physician unless ``email`` names another user (the user's role caps what the scopes grant)."""
    from fhir_server.auth.grants import create_grant, issue_access_token

    with database.write() as session:
        user = session.scalars(select(User).where(User.email == (email or clinic.physician_email))).one()
        context = {"patient": patient} if patient else {}
        grant = create_grant(
            session,
            client_id=clinic.public_client,
            user_id=user.id,
            organization_id=user.organization_id,
            grant_type="authorization_code",
            scope=scope,
            context=context,
        )
        token, _ = issue_access_token(session, grant, scope, 600)
    return token
