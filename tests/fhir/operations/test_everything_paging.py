"""Patient/$everything pages: every resource of the record (the compartment, then what it references) exactly once
across all pages, whatever the page size, with the record written in one transaction (every resource the same
``lastUpdated``); each page a valid Bundle (bdl-7: a ``fullUrl`` once), checked by the independent validator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of, fhir_client
from tests.fhir.search.search_support import PUBLIC_BASE_URL, Json, create
from tests.fhir_validator import validator_errors

OBSERVATIONS, ENCOUNTERS, DOCTORS = 17, 5, 3


@pytest.fixture(scope="module")
def module_client(module_database_url: str, module_auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(module_database_url, module_auth_mode, base_url=PUBLIC_BASE_URL) as client:
        yield client


def _observation(patient: str, performer: str, n: int) -> Json:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": patient},
        "performer": [{"reference": performer}],
        "valueQuantity": {"value": 60 + n, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }


def _encounter(patient: str, doctor: str) -> Json:
    return {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": patient},
        "participant": [{"individual": {"reference": doctor}}],
    }


@pytest.fixture(scope="module")
def record(module_client: TestClient) -> set[str]:
    """A patient, three practitioners, and one transaction of observations and encounters of the patient, each
    naming a practitioner: the full URLs of the whole record (with the clinic the patient names)."""
    clinic = clinic_of(module_client)
    org = f"Organization/{clinic['id']}"
    patient = create(module_client, {"resourceType": "Patient", "managingOrganization": {"reference": org}})
    doctors = [
        create(module_client, {"resourceType": "Practitioner", "name": [{"family": f"Doc{i}"}]})["id"]
        for i in range(DOCTORS)
    ]
    subject = f"Patient/{patient['id']}"
    bodies = [_observation(subject, f"Practitioner/{doctors[n % DOCTORS]}", n) for n in range(OBSERVATIONS)]
    bodies += [_encounter(subject, f"Practitioner/{doctors[n % DOCTORS]}") for n in range(ENCOUNTERS)]
    entries = [{"resource": b, "request": {"method": "POST", "url": b["resourceType"]}} for b in bodies]
    response = module_client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert response.status_code == 200, response.text
    created = [e["response"]["location"].split("/_history")[0] for e in response.json()["entry"]]
    return {f"{PUBLIC_BASE_URL}/{path}" for path in [subject, org, *(f"Practitioner/{d}" for d in doctors)]} | {
        f"{PUBLIC_BASE_URL}/{c.removeprefix(PUBLIC_BASE_URL + '/')}" for c in created
    }


def walk(client: TestClient, url: str) -> list[Json]:
    """Every page of a searchset, following the ``next`` links."""
    pages: list[Json] = []
    while url:
        response = client.get(url.replace(PUBLIC_BASE_URL, "/fhir"))
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = next((link["url"] for link in pages[-1]["link"] if link["relation"] == "next"), "")
        assert len(pages) <= 100, "the next links never end"
    return pages


def full_urls(page: Json) -> list[str]:
    return [e["fullUrl"] for e in page.get("entry", []) if "fullUrl" in e]


def _patient_of(record: set[str]) -> str:
    return next(u for u in record if "/Patient/" in u).rsplit("/", 1)[1]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 25, 100])
def test_every_resource_of_the_record_appears_once_across_the_pages(
    module_client: TestClient, record: set[str], count: int
) -> None:
    pages = walk(module_client, f"/fhir/Patient/{_patient_of(record)}/$everything?_count={count}")
    every = [u for page in pages for u in full_urls(page)]
    repeated = {u: n for u, n in Counter(every).items() if n > 1}
    assert repeated == {}
    assert set(every) == record
    assert all(len(page.get("entry", [])) <= count for page in pages)


@pytest.mark.parametrize("count", [2, 100])
def test_a_record_narrowed_to_one_type_names_each_referenced_resource_once(
    module_client: TestClient, record: set[str], count: int
) -> None:
    """Only Encounters: the practitioners they name (one referenced type, many references to each) come once."""
    pages = walk(module_client, f"/fhir/Patient/{_patient_of(record)}/$everything?_type=Encounter&_count={count}")
    every = [u for page in pages for u in full_urls(page)]
    assert {u: n for u, n in Counter(every).items() if n > 1} == {}
    assert {u.rsplit("/", 2)[-2] for u in every} == {"Encounter", "Practitioner"}


def test_everything_pages_are_valid_bundles(module_client: TestClient, record: set[str], tmp_path: Path) -> None:
    pages = walk(module_client, f"/fhir/Patient/{_patient_of(record)}/$everything?_count=4")
    assert validator_errors(pages, tmp_path) == []


def test_a_count_beyond_the_page_limit_is_said(module_client: TestClient, record: set[str]) -> None:
    bundle = module_client.get(f"/fhir/Patient/{_patient_of(record)}/$everything?_count=5000").json()
    outcomes = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    issues: list[Any] = [i for o in outcomes for i in o["issue"] if i.get("expression") == ["_count"]]
    assert len(issues) == 1 and "1000" in issues[0]["diagnostics"]
    assert issues[0]["severity"] == "information"
    assert set(full_urls(bundle)) == record
