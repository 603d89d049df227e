"""Proof (issue 3, item 10): every resource the server returns for the demo data is valid FHIR R4.

The demo clinic is seeded (fhir_server.seed.seed_demo), then every resource is fetched the way a client would:
a search of each served type, following every ``next`` link. Each one must pass fhir.resources (R4B models),
the required-binding checker (fhir_server.fhir.bindings), every error invariant of the R4 definitions
(tests.roundtrip.invariants: ele-1 aside, e.g. app-4, per-1, ref-1, dom-3) and the JSON rules of
http://hl7.org/fhir/R4/json.html that the models do not check: no empty string, array or object, no null but as
the placeholder of a primitive array beside its ``_element`` array (ele-1: every element has a value or
children), and every primitive value matching its type's regex in the definitions (ids, dates, instants...).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.db.engine import Database
from fhir_server.fhir import pipeline
from fhir_server.fhir.bindings import binding_issues
from fhir_server.fhir.structure import walk
from fhir_server.fhir.validation import structure_issues
from fhir_server.seed import SeedResult, seed_demo
from fhir_server.settings import load_settings
from mappings.base import reference_target
from mappings.registry import MAPPINGS
from tests.roundtrip.definitions import is_primitive, regex
from tests.roundtrip.invariants import violations

BASE_URL = "https://demo.example.org/fhir"
TODAY = date(2026, 11, 23)
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "positiveInt": (int,),
    "unsignedInt": (int,),
    "decimal": (int, float),
}


@pytest.fixture(scope="module")
def demo(module_database_url: str) -> Iterator[tuple[TestClient, SeedResult]]:
    """The demo seeded once per module and database kind (the tests only read it)."""
    database = Database(module_database_url, finish=pipeline.finish)
    with database.write() as session:
        seeded = seed_demo(session, today=TODAY)
    database.dispose()
    settings = load_settings(database_url=module_database_url, base_url=BASE_URL, auth="disabled", log_level="warning")
    with TestClient(create_app(settings)) as client:
        yield client, seeded


def searched(client: TestClient, resource_type: str) -> Iterator[dict[str, Any]]:
    """Every resource of a type, as a search and its ``next`` pages serve it."""
    response = client.get(f"/fhir/{resource_type}", params={"_count": "40"})
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        yield from (entry["resource"] for entry in bundle.get("entry", []))
        following = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        if following is None:
            return
        response = client.get("/fhir" + following.removeprefix(BASE_URL))


def served(client: TestClient) -> list[dict[str, Any]]:
    return [resource for resource_type in sorted(MAPPINGS) for resource in searched(client, resource_type)]


# --- the JSON rules ------------------------------------------------------------------------------------------


def json_issues(value: Any, where: str) -> Iterator[str]:
    """Empty values and misplaced nulls (http://hl7.org/fhir/R4/json.html), at any depth."""
    if value in ("", [], {}) or value is None:
        yield f"{where} is empty"
    elif isinstance(value, dict):
        for key, item in value.items():
            partner = value.get(key[1:] if key.startswith("_") else f"_{key}")
            if isinstance(item, list) and isinstance(partner, list):
                if not key.startswith("_"):
                    yield from _aligned(key, item, partner, where)
            else:
                yield from json_issues(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from json_issues(item, f"{where}[{i}]")


def _aligned(key: str, items: list[Any], partner: list[Any], where: str) -> Iterator[str]:
    """A primitive array and its ``_`` array: same length, and no index null in both."""
    if len(items) != len(partner):
        yield f"{where}.{key} and _{key} differ in length"
        return
    for i, (item, other) in enumerate(zip(items, partner, strict=True)):
        if item is None and other is None:
            yield f"{where}.{key}[{i}] is null in both {key} and _{key}"
        for name, part in ((key, item), (f"_{key}", other)):
            if part is not None:
                yield from json_issues(part, f"{where}.{name}[{i}]")


def id_issues(resource: dict[str, Any]) -> Iterator[str]:
    """The ids of the resource and of its contained resources, against the id regex."""
    pattern = regex("id") or ""
    for item in [resource, *resource.get("contained", [])]:
        if not re.fullmatch(pattern, str(item.get("id"))):
            yield f"{item['resourceType']}.id: {item.get('id')!r} is not a valid id"


def primitive_issues(resource: dict[str, Any]) -> Iterator[str]:
    """Primitive values of the wrong JSON type or not matching their type's regex."""
    for node in walk(resource):
        if not is_primitive(node.type) or node.type == "xhtml":
            continue
        expected = _JSON_TYPES.get(node.type, (str,))
        if not isinstance(node.value, expected) or (node.type != "boolean" and isinstance(node.value, bool)):
            yield f"{node.expression}: {node.value!r} is not a JSON {node.type}"
            continue
        pattern = regex(node.type)
        text = str(node.value).lower() if isinstance(node.value, bool) else str(node.value)
        if pattern is not None and not re.fullmatch(pattern, text):
            yield f"{node.expression}: {node.value!r} is not a valid {node.type}"


def problems_of(resource: dict[str, Any]) -> list[str]:
    where = f"{resource['resourceType']}/{resource['id']}"
    found = [issue.diagnostics for issue in structure_issues(resource)]
    found += [issue.diagnostics for issue in binding_issues(resource)]
    found += violations(resource)
    found += list(json_issues(resource, where))
    found += list(id_issues(resource))
    found += list(primitive_issues(resource))
    return found


# --- the tests -----------------------------------------------------------------------------------------------


def test_every_resource_served_for_the_demo_is_valid_r4(demo: tuple[TestClient, SeedResult]) -> None:
    client, _ = demo
    resources = served(client)
    invalid = {f"{r['resourceType']}/{r['id']}": issues for r in resources if (issues := problems_of(r))}
    assert invalid == {}


def test_the_searches_serve_the_whole_demo_once(demo: tuple[TestClient, SeedResult]) -> None:
    client, seeded = demo
    resources = served(client)
    assert len({(r["resourceType"], r["id"]) for r in resources}) == len(resources)
    counts = Counter(r["resourceType"] for r in resources)
    mapped = {t: counts.pop(t, 0) for t in ("Organization", "Practitioner", "Patient", "Appointment")}
    mapped |= {t: counts.pop(t, 0) for t in ("Questionnaire", "QuestionnaireResponse")}
    assert mapped == {
        "Organization": 1,
        "Practitioner": seeded.practitioners,
        "Patient": seeded.patients,
        "Appointment": seeded.appointments,
        "Questionnaire": 1,
        "QuestionnaireResponse": seeded.intake_forms,
    }
    assert all(MAPPINGS[t].stored for t in counts)  # the patients' clinical records, on the resource store
    assert sum(counts.values()) == seeded.clinical_resources


def test_every_reference_in_the_demo_names_a_served_resource(demo: tuple[TestClient, SeedResult]) -> None:
    client, _ = demo
    resources = served(client)
    known = {(r["resourceType"], r["id"]) for r in resources}
    dangling = [
        f"{r['resourceType']}/{r['id']} {node.expression}: {node.value['reference']}"
        for r in resources
        for node in walk(r)
        if node.type == "Reference"
        and isinstance(node.value, dict)
        and (target := reference_target(node.value.get("reference"))) is not None
        and target not in known
    ]
    assert dangling == []


def test_a_read_of_each_demo_resource_serves_what_the_search_served(demo: tuple[TestClient, SeedResult]) -> None:
    client, _ = demo
    differing = []
    for resource in served(client):
        read = client.get(f"/fhir/{resource['resourceType']}/{resource['id']}")
        if read.status_code != 200 or read.json() != resource:
            differing.append(f"{resource['resourceType']}/{resource['id']}: {read.status_code}")
    assert differing == []
