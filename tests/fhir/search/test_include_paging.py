"""``_include``/``_revinclude`` across pages and at their limits (http://hl7.org/fhir/R4/search.html#include):

* paging a search with includes (the matches written in one transaction, so every one has the same
  ``lastUpdated``) gives each match once across all pages, and no ``fullUrl`` twice on a page (bdl-7: a resource
  both a match and an include is a match), each page valid for the independent validator;
* nothing is cut silently: includes beyond :data:`~fhir_server.fhir.search.includes.MAX_INCLUDED`, ``:iterate``
  beyond its rounds and a ``_count`` beyond the page limit are said in the Bundle's OperationOutcome entry;
* ``_include``/``_revinclude`` follow canonical references to the resource whose ``url`` (and ``version``, when the
  canonical pins one) matches, for any reference parameter whose element is a canonical.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.fhir.search.includes import MAX_INCLUDED, MAX_ROUNDS
from tests.authorized_client import clinic_of
from tests.fhir.operations.test_everything_paging import full_urls, walk
from tests.fhir.search.search_support import PUBLIC_BASE_URL, Json, create, ids, search
from tests.fhir_validator import validator_errors

CODE = {"coding": [{"system": "http://example.org/codes", "code": "note"}]}


def _transaction(client: TestClient, bodies: list[Json]) -> list[str]:
    """Write ``bodies`` in one transaction; their ids."""
    entries = [{"resource": b, "request": {"method": "POST", "url": b["resourceType"]}} for b in bodies]
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert response.status_code == 200, response.text
    return [e["response"]["location"].split("/_history")[0].rsplit("/", 1)[1] for e in response.json()["entry"]]


def _notes(bundle: Json) -> list[dict[str, Any]]:
    """The issues of the Bundle's OperationOutcome entries."""
    outcomes = [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "outcome"]
    return [issue for outcome in outcomes for issue in outcome["issue"]]


@pytest.fixture(autouse=True)
def clinic(client: TestClient) -> str:
    """The clinic the test's resources belong to."""
    return str(clinic_of(client)["id"])


def _patient(client: TestClient, clinic: str) -> str:
    org = {"reference": f"Organization/{clinic}"}
    return str(create(client, {"resourceType": "Patient", "managingOrganization": org})["id"])


def _basic(author: str) -> Json:
    return {"resourceType": "Basic", "code": CODE, "author": {"reference": author}}


def _chained_observations(patient: str, doctors: list[str], n: int) -> list[Json]:
    """``n`` Observations of ``patient`` for one transaction, each performed by one of ``doctors`` and each but the
    first with the one before as its member (so a match can be another match's include)."""
    bodies: list[Json] = []
    for i in range(n):
        body: Json = {
            "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": CODE,
                "subject": {"reference": f"Patient/{patient}"},
                "performer": [{"reference": f"Practitioner/{doctors[i % len(doctors)]}"}],
            },
            "request": {"method": "POST", "url": "Observation"},
        }
        if i:
            body["resource"]["hasMember"] = [{"reference": bodies[-1]["fullUrl"]}]
        bodies.append(body)
    return bodies


@pytest.mark.parametrize("count", [1, 2, 5])
def test_each_match_once_across_pages_and_no_full_url_twice_on_a_page(
    client: TestClient, clinic: str, tmp_path: Path, count: int
) -> None:
    patient = _patient(client, clinic)
    doctors = [create(client, {"resourceType": "Practitioner"})["id"] for _ in range(3)]
    entries = _chained_observations(patient, doctors, 9)
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert response.status_code == 200, response.text
    written = {e["response"]["location"].split("/_history")[0].rsplit("/", 1)[1] for e in response.json()["entry"]}
    includes = "&".join(f"_include=Observation:{p}" for p in ("has-member", "performer", "subject"))
    pages = walk(client, f"/fhir/Observation?subject=Patient/{patient}&{includes}&_count={count}")
    for page in pages:
        assert [u for u, n in Counter(full_urls(page)).items() if n > 1] == []
    entries = [e for page in pages for e in page.get("entry", [])]
    matches = [e["resource"]["id"] for e in entries if e["search"]["mode"] == "match"]
    assert sorted(matches) == sorted(written)
    included = {e["fullUrl"].removeprefix(PUBLIC_BASE_URL + "/") for e in entries if e["search"]["mode"] == "include"}
    people = {f"Practitioner/{d}" for d in doctors} | {f"Patient/{patient}"}
    assert people <= included <= people | {f"Observation/{i}" for i in written}
    assert validator_errors(pages, tmp_path) == []


def test_includes_beyond_the_limit_are_said(client: TestClient) -> None:
    doctor = create(client, {"resourceType": "Practitioner"})["id"]
    _transaction(client, [_basic(f"Practitioner/{doctor}") for _ in range(MAX_INCLUDED)])
    _transaction(client, [_basic(f"Practitioner/{doctor}")])
    bundle = search(client, "Practitioner", [("_id", doctor), ("_revinclude", "Basic:author")])
    assert len(ids(bundle, "include")) == MAX_INCLUDED
    notes = _notes(bundle)
    assert [(n["code"], n["severity"], n["expression"]) for n in notes] == [("incomplete", "warning", ["_include"])]
    assert str(MAX_INCLUDED) in notes[0]["diagnostics"]
    under = search(client, "Practitioner", [("_id", doctor), ("_revinclude", "Basic:author"), ("_count", "1")])
    assert len(ids(under, "include")) == MAX_INCLUDED  # the cut is per page: smaller pages do not help a single match


def test_iterate_beyond_its_rounds_is_said(client: TestClient) -> None:
    panel = {"resourceType": "Observation", "status": "final", "code": CODE}
    chain = [create(client, panel)["id"]]
    for _ in range(MAX_ROUNDS + 2):
        chain.append(create(client, {**panel, "hasMember": [{"reference": f"Observation/{chain[-1]}"}]})["id"])
    within = search(client, "Observation", [("_id", chain[MAX_ROUNDS]), ("_include:iterate", "Observation:has-member")])
    assert len(ids(within, "include")) == MAX_ROUNDS and _notes(within) == []
    beyond = search(client, "Observation", [("_id", chain[-1]), ("_include:iterate", "Observation:has-member")])
    assert len(ids(beyond, "include")) == MAX_ROUNDS
    notes = _notes(beyond)
    assert [(n["code"], n["severity"]) for n in notes] == [("incomplete", "warning")]
    assert f"{MAX_ROUNDS} rounds" in notes[0]["diagnostics"]


def test_a_count_beyond_the_page_limit_is_said(client: TestClient) -> None:
    bundle = search(client, "Basic", [("_count", "5000")])
    assert "_count=1000" in next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    notes = _notes(bundle)
    assert [(n["code"], n["severity"], n["expression"]) for n in notes] == [
        ("informational", "information", ["_count"])
    ]
    assert search(client, "Basic", [("_count", "1000")]).get("entry", []) == []


QUESTIONNAIRE_URL = "https://forms.example.org/fhir/Questionnaire/intake"  # looks like another server's reference


def test_include_follows_canonical_references_to_the_version_named(client: TestClient, clinic: str) -> None:
    versions = {
        v: create(
            client,
            {"resourceType": "Questionnaire", "status": "active", "url": QUESTIONNAIRE_URL, "version": v},
        )["id"]
        for v in ("2.0", "3.0")
    }
    patient = _patient(client, clinic)
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient}"},
    }
    pinned = create(client, {**response, "questionnaire": f"{QUESTIONNAIRE_URL}|2.0"})["id"]
    unpinned = create(client, {**response, "questionnaire": QUESTIONNAIRE_URL})["id"]
    include = ("_include", "QuestionnaireResponse:questionnaire")
    assert ids(search(client, "QuestionnaireResponse", [("_id", pinned), include]), "include") == [versions["2.0"]]
    every = ids(search(client, "QuestionnaireResponse", [("_id", unpinned), include]), "include")
    assert sorted(every) == sorted(versions.values())
    revinclude = ("_revinclude", "QuestionnaireResponse:questionnaire")
    assert sorted(ids(search(client, "Questionnaire", [("_id", versions["2.0"]), revinclude]), "include")) == sorted(
        [pinned, unpinned]
    )
    assert ids(search(client, "Questionnaire", [("_id", versions["3.0"]), revinclude]), "include") == [unpinned]


def test_include_follows_canonicals_of_any_reference_parameter(client: TestClient) -> None:
    url = "https://defs.example.org/fhir/ActivityDefinition/flu-shot"
    activity = create(client, {"resourceType": "ActivityDefinition", "status": "active", "url": url})["id"]
    plan = create(
        client,
        {"resourceType": "PlanDefinition", "status": "active", "action": [{"definitionCanonical": url}]},
    )["id"]
    included = search(client, "PlanDefinition", [("_id", plan), ("_include", "PlanDefinition:definition")])
    assert ids(included, "include") == [activity]
    referring = search(client, "ActivityDefinition", [("_id", activity), ("_revinclude", "PlanDefinition:definition")])
    assert ids(referring, "include") == [plan]
