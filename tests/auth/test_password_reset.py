"""Password reset by a one-time link: asked for on the "forgot password" page (the same answer whatever the email,
throttled), sent by email through a real SMTP server (aiosmtpd, in this process), or made by the CLI; the link works
once, expires, and the new password ends the user's sessions and grants."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from fhir_server.app import create_app
from fhir_server.auth.password_reset import MAX_LIVE_LINKS
from fhir_server.cli import app as cli_app
from fhir_server.db import AuditEvent, PasswordResetToken, User
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
from fhir_server.settings import load_settings
from tests.auth.conftest import BASE, PASSWORD, Clinic, form_value, token_for

NEW_PASSWORD = "a brand new passphrase"
SAME_ORIGIN = {"Origin": "https://fhir.example.org", "Sec-Fetch-Site": "same-origin"}


class Inbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, _class=EmailMessage, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"

    def links(self) -> list[str]:
        return [re.findall(r"https://\S+", m.get_content())[0] for m in self.messages]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def client(database_url: str, inbox: tuple[Inbox, int]) -> Iterator[TestClient]:
    """The auth tests' client, with an SMTP server configured (overrides the conftest's)."""
    settings = load_settings(
        database_url=database_url,
        base_url=BASE,
        auth="enabled",
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_tls="none",
        smtp_from="clinic@example.org",
    )
    with TestClient(create_app(settings), base_url="https://fhir.example.org") as client:
        yield client


def _ask(client: TestClient, address: str) -> Any:
    page = client.post(f"{BASE}/auth/forgot-password", data={"email": address})
    assert page.status_code == 200, page.text
    return page


def _token(link: str) -> str:
    return link.split("token=", 1)[1]


def _reset(client: TestClient, token: str, password: str = NEW_PASSWORD, again: str | None = None) -> Any:
    data = {"token": token, "password": password, "password_again": password if again is None else again}
    return client.post(f"{BASE}/auth/reset-password", data=data)


def _signs_in(client: TestClient, address: str, password: str) -> bool:
    data = {"email": address, "password": password, "next": "manage"}
    return client.post(f"{BASE}/auth/login", data=data, follow_redirects=False).status_code == 303


def _actions(database: Database) -> list[str]:
    with database.read() as session:
        return [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.recorded_at))]


def test_a_link_by_email_sets_a_new_password_once(
    client: TestClient, clinic: Clinic, inbox: tuple[Inbox, int], database: Database
) -> None:
    login = client.get(f"{BASE}/auth/manage")
    assert "Forgot your password?" in login.text
    answer = _ask(client, "Doc@Example.org")
    assert "is on its way" in answer.text
    (message,) = inbox[0].messages
    assert message["To"] == clinic.physician_email and "Test Clinic" in message["Subject"]
    (link,) = inbox[0].links()
    assert link.startswith(f"{BASE}/auth/reset-password?token=")
    form = client.get(link)
    assert form.status_code == 200 and clinic.physician_email in form.text
    with database.read() as session:  # only the hash is kept
        assert session.scalars(select(PasswordResetToken.token_hash)).one() != _token(link)
    done = _reset(client, form_value(form.text, "token"))
    assert done.status_code == 200 and "Your password was changed" in done.text
    assert not _signs_in(client, clinic.physician_email, PASSWORD)
    assert _signs_in(client, clinic.physician_email, NEW_PASSWORD)
    again = client.get(link)
    assert again.status_code == 400 and "used already" in again.text
    assert _reset(client, _token(link), "yet another password").status_code == 400
    assert _signs_in(client, clinic.physician_email, NEW_PASSWORD)
    assert {"password-reset-requested", "password-reset"} <= set(_actions(database))


def test_an_unknown_email_gets_the_same_answer_and_no_email(
    client: TestClient, clinic: Clinic, inbox: tuple[Inbox, int]
) -> None:
    known, unknown = _ask(client, clinic.physician_email), _ask(client, "nobody@example.org")
    assert known.text == unknown.text
    assert len(inbox[0].messages) == 1


def test_asking_is_throttled_per_account_and_source(
    client: TestClient, clinic: Clinic, inbox: tuple[Inbox, int], database: Database
) -> None:
    answers = {_ask(client, clinic.admin_email).text for _ in range(MAX_LIVE_LINKS + 1)}
    assert len(answers) == 1 and len(inbox[0].messages) == MAX_LIVE_LINKS  # at most this many live links
    for _ in range(3):  # with the links spent, the source's backoff still bounds the requests
        with database.write() as session:
            session.execute(update(PasswordResetToken).values(used_at=utcnow()))
        _ask(client, clinic.admin_email)
    assert len(inbox[0].messages) == MAX_LIVE_LINKS + 1  # five requests, then nothing for a while


def test_an_expired_or_wrong_link_changes_nothing(
    client: TestClient, clinic: Clinic, inbox: tuple[Inbox, int], database: Database
) -> None:
    _ask(client, clinic.physician_email)
    (link,) = inbox[0].links()
    with database.write() as session:
        session.execute(update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    for token in (_token(link), "not-a-token", "x" * 500, ""):
        page = client.get(f"{BASE}/auth/reset-password", params={"token": token})
        assert page.status_code == 400 and "expired" in page.text
        assert _reset(client, token).status_code == 400
    assert _signs_in(client, clinic.physician_email, PASSWORD)


def test_the_new_password_follows_the_rules_and_the_link_survives_a_mistake(
    client: TestClient, clinic: Clinic, inbox: tuple[Inbox, int]
) -> None:
    _ask(client, clinic.physician_email)
    token = _token(inbox[0].links()[0])
    short = _reset(client, token, "short")
    assert short.status_code == 400 and "at least 8 characters" in short.text
    differ = _reset(client, token, NEW_PASSWORD, "something else")
    assert differ.status_code == 400 and "differ" in differ.text
    huge = _reset(client, token, "x" * 5000)
    assert huge.status_code == 400 and "at most" in huge.text
    assert _reset(client, token).status_code == 200
    assert _signs_in(client, clinic.physician_email, NEW_PASSWORD)


def test_a_reset_ends_the_users_sessions_and_tokens(
    client: TestClient, clinic: Clinic, inbox: tuple[Inbox, int], database: Database
) -> None:
    assert _signs_in(client, clinic.physician_email, PASSWORD)
    assert client.get(f"{BASE}/auth/manage").status_code == 200
    session_cookie = dict(client.cookies)
    access = token_for(database, clinic, "user/Patient.rs")
    assert client.get(f"{BASE}/Patient/pat-1", headers={"Authorization": f"Bearer {access}"}).status_code == 200
    _ask(client, clinic.physician_email)
    assert _reset(client, _token(inbox[0].links()[0])).status_code == 200
    client.cookies.update(session_cookie)  # even a browser that kept the cookie is signed out
    assert client.get(f"{BASE}/auth/manage").status_code == 401
    assert client.get(f"{BASE}/Patient/pat-1", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_the_reset_forms_refuse_cross_site_posts(client: TestClient, clinic: Clinic, inbox: tuple[Inbox, int]) -> None:
    forged = client.post(
        f"{BASE}/auth/forgot-password",
        data={"email": clinic.physician_email},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403 and forged.json()["issue"][0]["code"] == "forbidden"
    assert inbox[0].messages == []
    _ask(client, clinic.physician_email)
    token = _token(inbox[0].links()[0])
    data = {"token": token, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    forged = client.post(f"{BASE}/auth/reset-password", data=data, headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403
    assert _signs_in(client, clinic.physician_email, PASSWORD)
    own = client.post(f"{BASE}/auth/reset-password", data=data, headers=SAME_ORIGIN)
    assert own.status_code == 200


def test_without_smtp_nothing_is_sent_and_the_log_names_the_cli(
    database_url: str, clinic: Clinic, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(database_url=database_url, base_url=BASE, auth="enabled")
    with (
        TestClient(create_app(settings), base_url="https://fhir.example.org") as plain,
        caplog.at_level(logging.WARNING),
    ):
        answer = _ask(plain, clinic.physician_email)
    assert "is on its way" in answer.text
    assert "fhir-server users reset-password" in caplog.text
    with database.read() as session:
        assert session.scalars(select(PasswordResetToken)).all() == []


runner = CliRunner()


def _cli(database_url: str, *args: str, text: str | None = None) -> tuple[int, str]:
    env = {"FHIR_SERVER_DATABASE_URL": database_url, "FHIR_SERVER_BASE_URL": BASE}
    result = runner.invoke(cli_app, ["users", "reset-password", *args], env=env, input=text)
    return result.exit_code, result.output


def test_the_cli_prints_a_one_time_link(client: TestClient, database_url: str, clinic: Clinic) -> None:
    code, output = _cli(database_url, clinic.physician_email)
    assert code == 0, output
    link = re.findall(r"https://\S+", output)[0]
    assert client.get(link).status_code == 200
    assert _reset(client, _token(link)).status_code == 200
    assert _signs_in(client, clinic.physician_email, NEW_PASSWORD)
    code, output = _cli(database_url, "nobody@example.org")
    assert code == 1 and "no active account" in output


def test_the_cli_sets_a_password_typed_twice(
    client: TestClient, database_url: str, clinic: Clinic, database: Database
) -> None:
    code, output = _cli(database_url, clinic.physician_email, "--set", text=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert code == 0, output
    assert _signs_in(client, clinic.physician_email, NEW_PASSWORD)
    code, output = _cli(database_url, clinic.physician_email, "--set", text="short\nshort\n")
    assert code == 1 and "at least 8 characters" in output
    with database.read() as session:
        user = session.scalars(select(User).where(User.email == clinic.physician_email)).one()
        assert user.active
