"""Proof (issue 3, item 10): every resource the server returns for the demo data is valid FHIR R4.

The demo clinic is seeded (fhir_server.seed.seed_demo), then every resource is fetched the way a client would:
a search of each served type, following every ``next`` link. Each one must pass the structure check of the R4
definitions (fhir_server.fhir.structure_validation: the JSON rules of http://hl7.org/fhir/R4/json.html, no empty
string, array or object, no null but as the placeholder of a primitive array beside its ``_element`` array, every
primitive value matching its type's regex: ids, dates, instants...), the content rules
(fhir_server.fhir.content_rules: required bindings, reference target types, invariants) and every error invariant
strictly (tests.roundtrip.invariants: an invariant fhirpathpy cannot evaluate counts as broken).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.db.engine import Database
from fhir_server.fhir import pipeline
from fhir_server.fhir.content_rules import rule_issues
from fhir_server.fhir.structure import walk
from fhir_server.fhir.terminology import is_published
from fhir_server.fhir.validation import structure_issues
from fhir_server.seed import SeedResult, seed_demo
from fhir_server.settings import load_settings
from mappings.base import reference_target
from mappings.registry import MAPPINGS
from tests.roundtrip.invariants import violations

BASE_URL = "https://demo.example.org/fhir"
TODAY = date(2026, 11, 23)


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


def problems_of(resource: dict[str, Any]) -> list[str]:
    where = f"{resource['resourceType']}/{resource['id']}"
    found = [issue.diagnostics for issue in structure_issues(resource)]
    found += [issue.diagnostics for issue in rule_issues(resource)]
    found += violations(resource)
    return [f"{where}: {problem}" for problem in found]


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
    # the server's own R4 CodeSystems and ValueSets are served beside the clinic's data; they are no demo data
    counts = Counter(r["resourceType"] for r in resources if not is_published(r["resourceType"], r["id"]))
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
