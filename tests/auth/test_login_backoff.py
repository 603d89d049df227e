"""Failed logins: one answer for every failure, the same work whether the account exists or not, and a backoff per
(account name, source) that an attacker cannot turn into a lockout of the account's owner elsewhere."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.auth import login, login_throttle, passwords
from fhir_server.db import LoginThrottle, User
from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, PASSWORD, Clinic

ATTACKER = ("203.0.113.66", 40000)
OWNER = ("198.51.100.7", 40000)
ROUNDS = login_throttle.FREE_FAILURES + 2


@pytest.fixture
def from_source(client: TestClient) -> Callable[[tuple[str, int]], TestClient]:
    """A browser at another network address, talking to the same running app."""

    def make(address: tuple[str, int]) -> TestClient:
        return TestClient(client.app, base_url="https://fhir.example.org", client=address)

    return make


def _sign_in(browser: TestClient, email: str, password: str) -> Any:
    data = {"email": email, "password": password, "next": "manage"}
    return browser.post(f"{BASE}/auth/login", data=data, follow_redirects=False)


def _alert(response: Any) -> str:
    return str(response.text.split('role="alert">')[1].split("<")[0])


def test_failures_from_one_source_do_not_lock_the_owner_out_from_another(
    clinic: Clinic, from_source: Callable[[tuple[str, int]], TestClient]
) -> None:
    attacker, owner = from_source(ATTACKER), from_source(OWNER)
    answers = [_sign_in(attacker, clinic.physician_email, "guess").status_code for _ in range(ROUNDS)]
    assert answers == [401] * login_throttle.FREE_FAILURES + [429] * (ROUNDS - login_throttle.FREE_FAILURES)
    refused = _sign_in(attacker, clinic.physician_email, PASSWORD)  # even the right password, from there, for now
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    signed_in = _sign_in(owner, clinic.physician_email, PASSWORD)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == f"{BASE}/auth/manage"


def test_the_backoff_ends_after_its_delay(
    clinic: Clinic, database: Database, from_source: Callable[[tuple[str, int]], TestClient]
) -> None:
    browser = from_source(ATTACKER)
    for _ in range(login_throttle.FREE_FAILURES):
        _sign_in(browser, clinic.physician_email, "guess")
    assert _sign_in(browser, clinic.physician_email, PASSWORD).status_code == 429
    with database.write() as session:
        for row in session.scalars(select(LoginThrottle)):
            row.last_failure_at -= login_throttle.FIRST_DELAY
    assert _sign_in(browser, clinic.physician_email, PASSWORD).status_code == 303
    with database.read() as session:
        assert session.scalars(select(LoginThrottle)).all() == []  # a success clears its source's count


def test_every_failure_reads_the_same_whether_the_account_exists_or_not(
    clinic: Clinic, database: Database, from_source: Callable[[tuple[str, int]], TestClient]
) -> None:
    with database.write() as session:
        patient = session.scalars(select(User).where(User.email == clinic.patient_email)).one()
        patient.active = False
    answers = {}
    for email in (clinic.physician_email, "nobody@example.org", clinic.patient_email, "not an email"):
        browser = from_source(ATTACKER)
        responses = [_sign_in(browser, email, "wrong password") for _ in range(ROUNDS)]
        answers[email] = [(r.status_code, _alert(r), r.headers.get("retry-after") is not None) for r in responses]
    assert len({tuple(a) for a in answers.values()}) == 1, answers
    first = answers[clinic.physician_email]
    assert first[0] == (401, login.FAILED, False) and first[-1][0] == 429


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The durations of the Argon2 verifications each login makes (the real function, timed)."""
    calls: list[float] = []
    real = passwords.verify_password

    def timed(password_hash: str, password: str) -> bool:
        started = time.perf_counter()
        try:
            return real(password_hash, password)
        finally:
            calls.append(time.perf_counter() - started)

    monkeypatch.setattr(login, "verify_password", timed)
    yield calls


def test_every_login_path_verifies_one_password_hash(
    clinic: Clinic,
    from_source: Callable[[tuple[str, int]], TestClient],
    verifications: list[float],
) -> None:
    browser = from_source(ATTACKER)
    durations: dict[str, list[float]] = {}

    def attempt(kind: str, email: str, password: str) -> None:
        before = len(verifications)
        started = time.perf_counter()
        _sign_in(browser, email, password)
        durations.setdefault(kind, []).append(time.perf_counter() - started)
        assert len(verifications) == before + 1, kind

    login._dummy_hash()  # made once per process; not part of any answer's time
    for _ in range(3):
        attempt("unknown", "nobody@example.org", "wrong password")
        attempt("wrong password", clinic.patient_email, "wrong password")
    attempt("right password", clinic.physician_email, PASSWORD)
    for _ in range(login_throttle.FREE_FAILURES):
        attempt("failing", clinic.physician_email, "guess")
    for _ in range(3):
        attempt("waiting", clinic.physician_email, "guess")
    medians = {kind: statistics.median(times) for kind, times in durations.items()}
    slowest, fastest = max(medians.values()), min(medians.values())
    assert fastest > slowest / 4, medians  # the same order: every path pays one Argon2 verification


def test_concurrent_failures_are_counted_exactly(
    clinic: Clinic, database: Database, from_source: Callable[[tuple[str, int]], TestClient]
) -> None:
    browser = from_source(ATTACKER)
    attempts = 2 * login_throttle.FREE_FAILURES
    with ThreadPoolExecutor(attempts) as pool:
        statuses = sorted(
            pool.map(lambda _: _sign_in(browser, clinic.physician_email, "guess").status_code, range(attempts))
        )
    assert statuses == [401] * login_throttle.FREE_FAILURES + [429] * login_throttle.FREE_FAILURES
    with database.read() as session:
        assert [row.failures for row in session.scalars(select(LoginThrottle))] == [login_throttle.FREE_FAILURES]
