"""The one table of error kinds: every kind leaves the server with its status, its issue code and, for a kind about
the access token, an RFC 6750 Bearer challenge."""

from __future__ import annotations

import orjson
import pytest

from fhir_server.errors import KINDS, Issue, Kind, bearer_challenge, fail, fail_all, issue_code_for, kind_for
from fhir_server.fhir.outcomes import error_response


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_renders_its_status_and_issue_code(kind: Kind) -> None:
    response = error_response(fail(kind, "what went wrong", "Patient.name"))
    assert response.status_code == KINDS[kind].status
    [issue] = orjson.loads(response.body)["issue"]
    assert issue == {
        "severity": "error",
        "code": KINDS[kind].code,
        "diagnostics": "what went wrong",
        "expression": ["Patient.name"],
    }


@pytest.mark.parametrize("kind", list(Kind))
def test_only_the_kinds_about_the_token_carry_a_bearer_challenge(kind: Kind) -> None:
    challenge = error_response(fail(kind, "no")).headers.get("www-authenticate")
    if KINDS[kind].challenge is None:
        assert challenge is None
    else:
        assert challenge == f'Bearer error="{KINDS[kind].challenge}", error_description="no"'


def test_a_scope_refusal_says_insufficient_scope_and_a_policy_refusal_says_nothing() -> None:
    forbidden = fail(Kind.FORBIDDEN, "the access token does not permit read on Patient")
    refused = fail(Kind.REFUSED, "study 1.2 belongs to another clinic")
    assert forbidden.status == refused.status == 403
    assert forbidden.headers == {
        "WWW-Authenticate": 'Bearer error="insufficient_scope", '
        'error_description="the access token does not permit read on Patient"'
    }
    assert refused.headers == {}


def test_a_call_site_may_name_its_own_code_and_headers() -> None:
    error = fail(Kind.UNAVAILABLE, "busy", code="throttled", headers={"Retry-After": "5"})
    assert (error.status, error.issues[0].code, error.headers) == (503, "throttled", {"Retry-After": "5"})


def test_several_issues_share_one_status_and_the_challenge_quotes_the_first() -> None:
    issues = [Issue("forbidden", "first"), Issue("forbidden", "second")]
    error = fail_all(Kind.FORBIDDEN, issues)
    assert error.status == 403 and error.issues == issues
    assert error.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", error_description="first"'


def test_the_401_challenge_names_the_realm_first() -> None:
    challenge = bearer_challenge("invalid_token", 'the "token" is stale', realm="https://fhir.example.org/fhir")
    assert challenge == (
        'Bearer realm="https://fhir.example.org/fhir", error="invalid_token", '
        "error_description=\"the 'token' is stale\""
    )
    assert bearer_challenge(None) == "Bearer"


def test_a_status_from_elsewhere_finds_its_kind() -> None:
    assert kind_for(409) is Kind.CONFLICT
    assert kind_for(403) is Kind.FORBIDDEN  # the first kind of a status in the table
    assert kind_for(418) is Kind.INVALID
    assert issue_code_for(404) == "not-found" and issue_code_for(418) == "processing"


def test_the_table_holds_every_kind_once() -> None:
    assert set(KINDS) == set(Kind)
