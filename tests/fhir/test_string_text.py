"""A FHIR string holds non-whitespace content and no C0 control character but tab, line feed and carriage return
(R4 datatypes.html#string, json.html), and a uri or code no whitespace, Unicode's included: probing for the fuzz
test (tests/fuzz/), and the fuzz test itself (a uri ending in U+FEFF), found such values stored and served back,
which the independent validator rejects. Now each is 400 naming the element, anywhere in a resource, and nothing is
stored, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of, fhir_client

BAD_TEXT = {
    "spaces": "   ",
    "a byte-order mark": "\ufeff",
    "no-break space and line feed": "\u00a0\n",
    "U+0001": "a\x01b",
    "escape": "\x1b[31mred",
    "vertical tab": "a\x0bb",
}


@pytest.fixture
def client(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode) as client:
        clinic_of(client)
        yield client


def _placed(text: str) -> list[tuple[dict[str, Any], str]]:
    """(resource, expression) pairs holding ``text`` in a string at three depths."""
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}
    return [
        ({"resourceType": "Patient", "name": [{"family": text}]}, "Patient.name[0].family"),
        ({**observation, "note": [{"text": text}]}, "Observation.note[0].text"),
        (
            {**observation, "extension": [{"url": "http://x.org/e", "valueString": text}]},
            "Observation.extension[0].valueString",
        ),
    ]


@pytest.mark.parametrize("text", BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_a_string_of_whitespace_or_with_a_control_character_is_400_naming_it(client: TestClient, text: str) -> None:
    for resource, expression in _placed(text):
        before = client.get(f"/fhir/{resource['resourceType']}").json()["total"]
        response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
        assert response.status_code == 400, response.text
        issue = response.json()["issue"][0]
        assert issue["expression"] == [expression], issue
        assert "whitespace" in issue["diagnostics"] or "control character" in issue["diagnostics"], issue
        assert client.get(f"/fhir/{resource['resourceType']}").json()["total"] == before


def test_a_uri_holding_unicode_whitespace_is_400_naming_it(client: TestClient) -> None:
    extension = {"url": "http://example.org/fhir/StructureDefinition/x\ufeff", "valueString": "x"}
    response = client.post("/fhir/Patient", json={"resourceType": "Patient", "extension": [extension]})
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Patient.extension[0].url"], issue
    assert "U+FEFF" in issue["diagnostics"], issue


def test_tabs_line_breaks_and_other_characters_are_kept(client: TestClient) -> None:
    family = "O'Brien\tline\r\ntwo \x7f\x85 \u00a0 💉"
    response = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
    assert response.status_code == 201, response.text
    assert client.get(f"/fhir/Patient/{response.json()['id']}").json()["name"][0]["family"] == family
