"""Search values that become LIKE patterns (string, ``:contains``, token ``:text``, uri ``:below``) match their
characters literally: a client's ``%`` or ``_`` is no wildcard, so no value can widen a match or make one costlier
than a literal of its length (issue 12, item 5: client-supplied patterns). Parameters that would carry a client
expression (``_filter``, ``_text``, ``_content``, ``_query``) are refused, never evaluated or silently ignored."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of
from tests.fhir.search.search_clinic import outcome_issue
from tests.fhir.search.search_support import ids, search

FAMILIES = ["Per%cent", "Perxcent", "Under_score", "Underxscore"]


@pytest.fixture
def patients(client: TestClient) -> dict[str, str]:
    """A clinic and one patient per family name, each with a profile and an identifier type text like its name;
    family -> id."""
    clinic_of(client)
    found = {}
    for family in FAMILIES:
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "meta": {"profile": [f"http://example.org/profiles/{family}/v1"]},
            "name": [{"family": family}],
            "identifier": [{"system": "urn:ids", "value": family, "type": {"text": f"{family} card"}}],
        }
        response = client.post("/fhir/Patient", json=resource)
        assert response.status_code == 201, response.text
        found[family] = response.json()["id"]
    return found


def _found(client: TestClient, name: str, value: str) -> set[str]:
    return set(ids(search(client, "Patient", [(name, value)])))


@pytest.mark.parametrize(
    ("name", "value", "family"),
    [
        ("family", "Per%", "Per%cent"),
        ("family:contains", "r%c", "Per%cent"),
        ("family:contains", "r_s", "Under_score"),
        ("name", "Under_", "Under_score"),
        ("identifier:text", "Per%", "Per%cent"),
        ("identifier:text", "Under_", "Under_score"),
        ("_profile:below", "http://example.org/profiles/Per%", "Per%cent"),
        ("_profile:below", "http://example.org/profiles/Under_", "Under_score"),
    ],
)
def test_wildcard_characters_in_a_value_match_only_themselves(
    client: TestClient, patients: dict[str, str], name: str, value: str, family: str
) -> None:
    assert _found(client, name, value) == {patients[family]}


@pytest.mark.parametrize("name", ["family:contains", "identifier:text", "_profile:below"])
def test_a_long_pattern_is_answered_without_error(client: TestClient, patients: dict[str, str], name: str) -> None:
    assert _found(client, name, "%_" * 2000) == set()


@pytest.mark.parametrize("name", ["_filter", "_text", "_content", "_query"])
def test_expression_parameters_are_refused(client: TestClient, name: str) -> None:
    response = client.get("/fhir/Patient", params={name: "name co 'a' or matches('^(a+)+$')"})
    assert response.status_code == 400, response.text
    assert name in outcome_issue(response)["diagnostics"]
