"""The authorization server's metrics: token requests by grant type and outcome, and failed sign-ins, as
``GET /metrics`` shows them (labels from fixed sets: a made-up grant type is counted as ``other``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.auth import login_throttle
from fhir_server.db import Organization
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings
from tests import backend_services
from tests.auth.conftest import BASE, Browser, Clinic, exchange
from tests.backend_services import RS384, register_backend
from tests.metrics.scrape import SECRET, Scrape, scrape

TOKENS = "fhir_server_oauth_token_requests_total"
LOGIN_FAILURES = "fhir_server_login_failures_total"
TOKEN_URL = f"{BASE}/auth/token"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """The SMART tests' server (authorization on), with metrics on."""
    settings = load_settings(database_url=database_url, base_url=BASE, auth="enabled", metrics_token=SECRET)
    with TestClient(create_app(settings), base_url="https://fhir.example.org") as client:
        yield client


def moved(client: TestClient, act: Callable[[], object], name: str, **labels: str) -> float:
    """How much the sample ``name`` with ``labels`` moved while ``act`` ran."""
    before = scrape(client)
    act()
    return scrape(client).value(name, **labels) - before.value(name, **labels)


def test_an_issued_authorization_code_token_is_counted(client: TestClient, clinic: Clinic) -> None:
    code, verifier, _ = Browser(client).code_for(clinic.public_client, "launch/patient patient/*.rs", "pat@example.org")

    def redeem() -> None:
        assert exchange(client, code, verifier, clinic.public_client).status_code == 200

    assert moved(client, redeem, TOKENS, grant_type="authorization_code", outcome="issued") == 1

    def replay() -> None:
        assert exchange(client, code, verifier, clinic.public_client).status_code == 400

    assert moved(client, replay, TOKENS, grant_type="authorization_code", outcome="invalid_grant") == 1


def test_backend_service_tokens_are_counted_issued_and_refused(
    client: TestClient, clinic: Clinic, database: Database
) -> None:
    with database.write() as session:
        organization = session.get_one(Organization, clinic.organization_id)
        backend = register_backend(session, organization, "system/*.rs")

    def request(**claims: object) -> int:
        signed = backend_services.assertion(backend, RS384, "RS384", TOKEN_URL, **claims)
        return int(backend_services.request_token(client, TOKEN_URL, signed, "system/*.rs").status_code)

    before = scrape(client)
    assert request() == 200
    assert request(aud="https://elsewhere.example.org/token") in (400, 401)
    after = scrape(client)
    counted = {
        outcome: _moved(before, after, TOKENS, "client_credentials", outcome)
        for outcome in ("issued", "invalid_client")
    }
    assert counted == {"issued": 1, "invalid_client": 1}


def _moved(before: Scrape, after: Scrape, name: str, grant_type: str, outcome: str) -> float:
    return after.value(name, grant_type=grant_type, outcome=outcome) - before.value(
        name, grant_type=grant_type, outcome=outcome
    )


def test_a_made_up_grant_type_is_counted_as_other(client: TestClient, clinic: Clinic) -> None:
    def post() -> None:
        assert client.post(TOKEN_URL, data={"grant_type": "made-up-grant-4711"}).status_code == 400

    assert moved(client, post, TOKENS, grant_type="other", outcome="unsupported_grant_type") == 1
    assert "made-up-grant-4711" not in scrape(client).text


def test_failed_sign_ins_are_counted_rejected_then_throttled(client: TestClient, clinic: Clinic) -> None:
    def sign_in(password: str) -> int:
        data = {"email": clinic.physician_email, "password": password, "next": "manage"}
        return int(client.post(f"{BASE}/auth/login", data=data, follow_redirects=False).status_code)

    before = scrape(client)
    answers = [sign_in("wrong guess") for _ in range(login_throttle.FREE_FAILURES + 1)]
    assert answers == [401] * login_throttle.FREE_FAILURES + [429]
    after = scrape(client)
    rejected = after.value(LOGIN_FAILURES, reason="rejected") - before.value(LOGIN_FAILURES, reason="rejected")
    throttled = after.value(LOGIN_FAILURES, reason="throttled") - before.value(LOGIN_FAILURES, reason="throttled")
    assert (rejected, throttled) == (login_throttle.FREE_FAILURES, 1)
    assert clinic.physician_email not in after.text
