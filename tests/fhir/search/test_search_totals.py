"""``Bundle.total`` under each ``_total`` (http://hl7.org/fhir/R4/search.html#total), with the estimate's count
limit lowered so that a few patients cross it: accurate counts everything, the default gives only the total a
first page holding every match knows, estimate counts up to the limit and never says fewer than it counted, none
says nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fhir_server.fhir.search import totals
from tests.fhir.search.search_clinic import PAGING_FAMILY, PAGING_PATIENTS, Clinic, build_clinic
from tests.fhir.search.search_support import PUBLIC_BASE_URL, search

LIMIT = 4
QUERY = [("family", PAGING_FAMILY), ("_count", "3")]


@pytest.fixture(scope="module", autouse=True)
def clinic(module_client: TestClient) -> Clinic:
    return build_clinic(module_client)


@pytest.fixture(autouse=True)
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(totals, "COUNT_LIMIT", LIMIT)


def test_accurate_counts_every_match_beyond_the_limit(module_client: TestClient) -> None:
    assert PAGING_PATIENTS > LIMIT
    assert search(module_client, "Patient", [*QUERY, ("_total", "accurate")])["total"] == PAGING_PATIENTS


def test_default_gives_no_total_when_the_first_page_does_not_hold_every_match(module_client: TestClient) -> None:
    bundle = search(module_client, "Patient", QUERY)
    assert "total" not in bundle
    assert len(bundle["entry"]) == 3
    assert "next" in {link["relation"] for link in bundle["link"]}


def test_estimate_counts_exactly_up_to_the_limit(module_client: TestClient, clinic: Clinic) -> None:
    some = [clinic.id("patients", name) for name in ("anna", "bob")]
    bundle = search(module_client, "Patient", [("_id", ",".join(some)), ("_count", "1"), ("_total", "estimate")])
    assert bundle["total"] == 2
    assert len(bundle["entry"]) == 1


def test_a_first_page_holding_every_match_gives_its_length(module_client: TestClient) -> None:
    bundle = search(module_client, "Patient", [("family", PAGING_FAMILY), ("_count", "1000")])
    assert bundle["total"] == len(bundle["entry"]) == PAGING_PATIENTS


def test_estimate_never_says_fewer_than_it_counted(module_client: TestClient) -> None:
    estimate = search(module_client, "Patient", [*QUERY, ("_total", "estimate")])["total"]
    assert estimate > LIMIT
    exact = search(module_client, "Patient", [("family", PAGING_FAMILY), ("_total", "estimate"), ("_count", "1000")])
    assert exact["total"] == PAGING_PATIENTS


def test_none_gives_no_total(module_client: TestClient) -> None:
    assert "total" not in search(module_client, "Patient", [*QUERY, ("_total", "none")])


@pytest.mark.parametrize("only_the_count", [("_summary", "count"), ("_count", "0")])
def test_asking_only_for_the_count_counts_every_match(
    module_client: TestClient, only_the_count: tuple[str, str]
) -> None:
    bundle = search(module_client, "Patient", [("family", PAGING_FAMILY), only_the_count])
    assert bundle["total"] == PAGING_PATIENTS
    assert "entry" not in bundle


@pytest.mark.parametrize(("asked", "expected"), [("accurate", PAGING_PATIENTS), (None, None)])
def test_a_later_page_keeps_the_rule(module_client: TestClient, asked: str | None, expected: int | None) -> None:
    first = search(module_client, "Patient", [*QUERY, *([("_total", asked)] if asked else [])])
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    page = module_client.get("/fhir" + following[len(PUBLIC_BASE_URL) :]).json()
    assert page.get("total") == expected


# --- _totalMethod: fhirpy's count() (https://github.com/beda-software/fhir-py: `_count=0&_totalMethod=count`) ------


def test_fhirpys_count_request_answers_the_count(module_client: TestClient) -> None:
    bundle = search(module_client, "Patient", [("family", PAGING_FAMILY), ("_count", "0"), ("_totalMethod", "count")])
    assert bundle["total"] == PAGING_PATIENTS
    assert "entry" not in bundle
    assert "_total=accurate" in bundle["link"][0]["url"]  # the self link says how it was understood


@pytest.mark.parametrize(("method", "expected"), [("count", PAGING_PATIENTS), ("none", None)])
def test_total_method_reads_as_total(module_client: TestClient, method: str, expected: int | None) -> None:
    assert search(module_client, "Patient", [*QUERY, ("_totalMethod", method)]).get("total") == expected


def test_an_unknown_total_method_is_400_naming_it_and_a_warning_when_lenient(module_client: TestClient) -> None:
    query = (("family", PAGING_FAMILY), ("_totalMethod", "guess"))
    strict = module_client.get("/fhir/Patient", params=query)
    assert strict.status_code == 400, strict.text
    assert strict.json()["issue"][0]["expression"] == ["_totalMethod"]
    lenient = module_client.get("/fhir/Patient", params=query, headers={"Prefer": "handling=lenient"})
    assert lenient.status_code == 200, lenient.text
    outcome = [e["resource"] for e in lenient.json()["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome[0]["issue"][0]["severity"] == "warning"
    assert outcome[0]["issue"][0]["expression"] == ["_totalMethod"]
