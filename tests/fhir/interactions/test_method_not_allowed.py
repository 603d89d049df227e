"""A known path answers a method it does not take with 405, an ``Allow`` header listing the methods it does take
(as routing really serves them) and an OperationOutcome ``not-supported``; never 404 (issue 15, item 8). Unknown
paths and unknown types stay 404. HEAD is served wherever GET is; a CORS preflight still answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fhir_validator import validator_errors

READ_ONLY = ("GET", "HEAD")
INSTANCE = ("GET", "HEAD", "PUT", "PATCH", "DELETE")
NOT_ALLOWED: list[tuple[str, str, tuple[str, ...]]] = [
    ("DELETE", "/metadata", READ_ONLY),
    ("POST", "/metadata", READ_ONLY),
    *(
        (method, f"/{type_}", READ_ONLY)
        for type_ in ("AuditEvent", "ConceptMap", "StructureDefinition", "OperationDefinition")
        for method in ("POST", "PUT", "PATCH", "DELETE")
    ),
    *(
        (method, f"/{type_}/some-id", READ_ONLY)
        for type_ in ("AuditEvent", "ConceptMap", "StructureDefinition", "OperationDefinition")
        for method in ("POST", "PUT", "PATCH", "DELETE")
    ),
    ("PUT", "/Patient", ("GET", "HEAD", "POST", "DELETE")),  # no criteria: not a conditional update
    ("DELETE", "/Patient", ("GET", "HEAD", "POST", "PUT")),  # no criteria: not a conditional delete
    ("PATCH", "/Patient", ("GET", "HEAD", "POST", "PUT", "DELETE")),
    ("POST", "/Patient/123", INSTANCE),
    ("GET", "", ("POST",)),
    ("PUT", "", ("POST",)),
    ("DELETE", "", ("POST",)),
    ("DELETE", "/_history", READ_ONLY),
    ("POST", "/_history", READ_ONLY),
    ("PUT", "/Patient/_history", READ_ONLY),
    ("POST", "/Patient/123/_history", READ_ONLY),
    ("DELETE", "/Patient/123/_history/1", READ_ONLY),
    ("GET", "/Patient/_search", ("POST",)),
    ("DELETE", "/Patient/_search", ("POST",)),
    ("POST", "/Patient/123/$everything", READ_ONLY),
    ("GET", "/Patient/$validate", ("POST",)),
    ("PUT", "/Patient/123/$validate", ("POST",)),
    ("POST", "/DocumentReference/$docref", READ_ONLY),
    ("POST", "/.well-known/smart-configuration", READ_ONLY),
    ("DELETE", "/.well-known/openid-configuration", READ_ONLY),
    ("GET", "/auth/token", ("POST",)),
    ("OPTIONS", "/Patient", ("GET", "HEAD", "POST", "PUT", "DELETE")),  # not a CORS preflight: no Origin
]
UNKNOWN = [
    ("GET", "/NoSuchType"),
    ("POST", "/NoSuchType"),
    ("POST", "/NoSuchType/1"),
    ("DELETE", "/NoSuchType/1"),
    ("GET", "/Patient/123/$no-such-operation"),
    ("GET", "/Patient/_no-such-thing"),
    ("PUT", "/Patient/123/_history/1/more"),
]


def test_an_unsupported_method_on_a_known_path_is_405_with_allow(client: TestClient, tmp_path: Path) -> None:
    outcomes: list[dict[str, Any]] = []
    for method, path, allowed in NOT_ALLOWED:
        response = client.request(method, f"/fhir{path}", json={"resourceType": "Parameters"})
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["allow"] == ", ".join(allowed), (method, path)
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "not-supported", (method, path)
        assert method in outcome["issue"][0]["diagnostics"]
        outcomes.append(outcome)
    assert validator_errors(outcomes, tmp_path) == []


@pytest.mark.parametrize(("method", "path"), UNKNOWN)
def test_an_unknown_path_or_type_stays_404(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, f"/fhir{path}")
    assert response.status_code == 404, response.text
    assert response.json()["issue"][0]["code"] == "not-found"
    assert "allow" not in response.headers


def test_the_methods_allowed_are_the_methods_served(client: TestClient, clinic: dict[str, Any]) -> None:
    """Each method an ``Allow`` names is really taken: none of them answers 405 on the same path."""
    patient = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Allow"}]}).json()
    url = f"/fhir/Patient/{patient['id']}"
    allowed = client.post(url).headers["allow"].split(", ")
    assert allowed == list(INSTANCE)
    for method in allowed:
        body = {**patient} if method == "PUT" else None
        headers = {"Content-Type": "application/json-patch+json"} if method == "PATCH" else {}
        content = b"[]" if method == "PATCH" else None
        response = client.request(method, url, json=body, content=content, headers=headers)
        assert response.status_code < 300, (method, response.text)


def test_head_answers_the_headers_of_get_without_a_body(client: TestClient, clinic: dict[str, Any]) -> None:
    patient = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Head"}]}).json()
    for path in (f"/Patient/{patient['id']}", "/Patient", "/metadata", f"/Patient/{patient['id']}/_history"):
        got, head = client.get(f"/fhir{path}"), client.head(f"/fhir{path}")
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-type"] == got.headers["content-type"]
    assert client.head(f"/fhir/Patient/{patient['id']}").headers["etag"] == 'W/"1"'
    assert client.head("/fhir/Patient/no-such-patient").status_code == 404
    assert client.head("/fhir").headers["allow"] == "POST"


def test_a_cors_preflight_of_a_fhir_path_still_answers(client: TestClient) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"}
    response = client.options("/fhir/Patient/123", headers=preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "https://app.example")


def test_audit_events_are_served_with_authorization_off_and_on(client: TestClient, auth_mode: str) -> None:
    """With authorization off anyone reads the trail; with it on the access rules of AuditEvent apply (a backend
    service's token is refused: 403, never a 404 or 405 that would deny the type is served)."""
    assert client.get("/fhir/metadata").status_code == 200  # leaves an event in the trail
    search, read = client.get("/fhir/AuditEvent"), client.get("/fhir/AuditEvent/00000000-0000-0000-0000-000000000000")
    if auth_mode == "off":
        assert search.status_code == 200, search.text
        assert search.json()["type"] == "searchset"
        assert read.status_code == 404  # served: an unknown id
        first = search.json()["entry"][0]["resource"]
        assert client.get(f"/fhir/AuditEvent/{first['id']}").json() == first
    else:
        assert (search.status_code, read.status_code) == (403, 403), search.text
        assert search.json()["issue"][0]["code"] == "forbidden"
