"""Request bodies are bounded in depth (64 levels of objects and arrays: 400 naming the limit, before anything
recursive walks them) on every route that takes JSON, and large ones are parsed off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.fhir.request_body import OFF_LOOP_BYTES, parsed
from fhir_server.fhir.validation import MAX_JSON_DEPTH
from fhir_server.settings import load_settings
from tests.clinics import make_clinic

FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        make_clinic(client, "C")
        yield client


def _extension(levels: int) -> dict[str, Any]:
    """An extension holding an extension, ``levels`` deep: each level is an array and an object."""
    extension: dict[str, Any] = {"url": "http://example.org/x", "valueString": "innermost"}
    for _ in range(levels - 1):
        extension = {"url": "http://example.org/x", "extension": [extension]}
    return extension


def _patient(levels: int, **elements: Any) -> dict[str, Any]:
    """A Patient whose deepest object lies at depth ``2 * levels + 1`` (the resource itself is 1)."""
    name = [{"family": "Doe", "given": ["Jane"]}]
    return {"resourceType": "Patient", "name": name, "extension": [_extension(levels)], **elements}


def _assert_too_deep(response: Any) -> None:
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly"
    assert f"limit of {MAX_JSON_DEPTH} levels" in issue["diagnostics"]


def _routes(client: TestClient, document: Any) -> Iterator[Any]:
    """Every route taking a JSON body, each sent ``document`` (as a resource, inside a Bundle, a Parameters, a
    JSON Patch)."""
    body = orjson.dumps(document)
    yield client.post("/fhir/Patient", content=body, headers=FHIR_JSON)
    yield client.put("/fhir/Patient/p1", content=body, headers=FHIR_JSON)
    yield client.put("/fhir/Patient?identifier=x", content=body, headers=FHIR_JSON)
    yield client.post("/fhir/Patient/$validate", content=body, headers=FHIR_JSON)
    entry = {"resource": document, "request": {"method": "POST", "url": "Patient"}}
    yield client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
    yield client.post("/fhir", json={"resourceType": "Bundle", "type": "batch", "entry": [entry]})
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": document}]}
    yield client.post("/fhir/Patient/$validate", json=parameters)
    patch = [{"op": "add", "path": "/extension/-", "value": document["extension"][0]}]
    yield client.patch("/fhir/Patient/p1", json=patch, headers={"Content-Type": "application/json-patch+json"})


@pytest.mark.parametrize("levels", [33, 100])
def test_a_body_nested_past_the_limit_answers_400_naming_it_on_every_route(client: TestClient, levels: int) -> None:
    for response in _routes(client, _patient(levels)):
        _assert_too_deep(response)


def test_nesting_past_the_json_parsers_own_limit_answers_the_same_400(client: TestClient) -> None:
    body = b'{"resourceType": "Patient", "extension": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    _assert_too_deep(client.post("/fhir/Patient", content=body, headers=FHIR_JSON))


def test_a_resource_just_within_the_limit_is_stored_and_searched(client: TestClient) -> None:
    levels = (MAX_JSON_DEPTH - 1) // 2  # the deepest object at depth 63
    response = client.post("/fhir/Patient", json=_patient(levels, birthDate="1990-01-01"))
    assert response.status_code == 201, response.text
    assert client.get("/fhir/Patient?birthdate=1990").json()["total"] == 1
    _assert_too_deep(client.post("/fhir/Patient", json=_patient(levels + 1)))


def test_a_patch_that_would_nest_a_stored_resource_too_deeply_answers_422(client: TestClient) -> None:
    """The patch itself is shallow; the resource it would make is not (an invalid result: 422, as for any)."""
    levels = (MAX_JSON_DEPTH - 1) // 2
    stored = client.post("/fhir/Patient", json=_patient(levels)).json()
    deep_path = "/extension/0" + "/extension/0" * (levels - 2)  # an object at depth 2 * levels - 1
    patch = [{"op": "add", "path": f"{deep_path}/extension", "value": [_extension(levels)]}]
    response = client.patch(
        f"/fhir/Patient/{stored['id']}", json=patch, headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["code"] == "too-costly"


def test_a_large_body_is_parsed_off_the_event_loop_and_a_small_one_in_place() -> None:
    def parse(body: bytes) -> int:
        return threading.get_ident()

    async def threads() -> tuple[int, int, int]:
        loop_thread = threading.get_ident()
        return loop_thread, await parsed(b" " * OFF_LOOP_BYTES, parse), await parsed(b" " * (OFF_LOOP_BYTES + 1), parse)

    loop_thread, small, large = asyncio.run(threads())
    assert small == loop_thread
    assert large != loop_thread
