"""The work one search may ask for is bounded (issue 12, item 18): hostile queries are refused with 400
``too-costly`` naming the parameter, through every way a search reaches the server, on SQLite and PostgreSQL;
queries at the limits still answer (never a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.settings import load_settings
from mappings.registry import MAPPINGS
from tests.authorized_client import clinic_of
from tests.fhir.search.search_support import PUBLIC_BASE_URL, create, ids, search

Pairs = list[tuple[str, str]]
LIMITS = SearchLimits.defaults()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _chain(depth: int) -> str:
    """``organization.partof....name``: a chain following ``depth`` references from Patient."""
    return "organization" + ".partof" * (depth - 1) + ".name"


def _has(depth: int) -> str:
    """``_has:Patient:link:...family``: ``_has`` nested ``depth`` deep on Patient."""
    return "_has:Patient:link:" * depth + "family"


def _values(prefix: str, count: int) -> str:
    return ",".join(f"{prefix}{i}" for i in range(count))


def _parameters(count: int) -> Pairs:
    """``count`` criteria over four parameters, each repeated at most 8 times (in this order: the last one named
    is the first beyond the limit)."""
    names = ["family", "given", "name", "address"]
    return [(names[i // 8], "x") for i in range(count)]


HOSTILE: dict[str, tuple[Pairs, str]] = {
    "1,000 repeats of one parameter": ([("name:contains", "a")] * 1000, "name:contains"),
    "one repeat too many": ([("name:contains", "a")] * (LIMITS.repeats + 1), "name:contains"),
    "one parameter too many": (_parameters(LIMITS.parameters + 1), _parameters(LIMITS.parameters + 1)[-1][0]),
    "1,000 OR values": ([("_id", _values("p", 1000))], "_id"),
    "one OR value too many": ([("family", _values("f", LIMITS.or_values + 1))], "family"),
    "one OR value too many in all": (
        [("family", _values("f", 100)), ("given", _values("g", 100)), ("name", _values("n", 101))],
        "name",
    ),
    "12-level chain": ([(_chain(12), "x")], _chain(12)),
    "one chain link too many": ([(_chain(LIMITS.chain_depth + 1), "x")], _chain(LIMITS.chain_depth + 1)),
    "10-deep _has": ([(_has(10), "x")], _has(10)),
    "one _has too deep": ([(_has(LIMITS.has_depth + 1), "x")], _has(LIMITS.has_depth + 1)),
    "many includes": (
        [("_include", "Patient:organization"), ("_revinclude", ",".join(["Observation:subject"] * 10))],
        "_include",
    ),
}


def _assert_refused(outcome: dict[str, Any], expression: str) -> None:
    assert outcome["resourceType"] == "OperationOutcome", outcome
    issue = outcome["issue"][0]
    assert issue["code"] == "too-costly", outcome
    assert issue["expression"] == [expression], outcome
    assert "at most" in issue["diagnostics"], outcome


@pytest.fixture(scope="module")
def patient_id(module_client: TestClient) -> str:
    """A patient of the clinic, whose Organization is part of another (one the clinic works with), linked from a
    second patient."""
    clinic = clinic_of(module_client)
    parent = create(module_client, {"resourceType": "Organization", "name": "Parent Health"})
    clinic = {**clinic, "partOf": {"reference": f"Organization/{parent['id']}"}}
    assert module_client.put(f"/fhir/Organization/{clinic['id']}", json=clinic).status_code == 200
    patient = create(
        module_client,
        {
            "resourceType": "Patient",
            "name": [{"family": "Limit", "given": ["Lena"]}],
            "managingOrganization": {"reference": f"Organization/{clinic['id']}"},
        },
    )
    create(
        module_client,
        {
            "resourceType": "Patient",
            "name": [{"family": "Linker"}],
            "managingOrganization": {"reference": f"Organization/{clinic['id']}"},
            "link": [{"other": {"reference": f"Patient/{patient['id']}"}, "type": "seealso"}],
        },
    )
    return str(patient["id"])


@pytest.mark.parametrize(("pairs", "expression"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_search_is_400_naming_the_parameter(module_client: TestClient, pairs: Pairs, expression: str) -> None:
    response = module_client.get("/fhir/Patient", params=tuple(pairs))
    assert response.status_code == 400, response.text[:500]
    _assert_refused(response.json(), expression)


@pytest.mark.parametrize(("pairs", "expression"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_post_search_is_400_naming_the_parameter(
    module_client: TestClient, pairs: Pairs, expression: str
) -> None:
    response = module_client.post("/fhir/Patient/_search", content=urlencode(pairs), headers=FORM)
    assert response.status_code == 400, response.text[:500]
    _assert_refused(response.json(), expression)


@pytest.mark.parametrize(("pairs", "expression"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_search_in_a_batch_fails_that_entry(module_client: TestClient, pairs: Pairs, expression: str) -> None:
    entry = {"request": {"method": "GET", "url": f"Patient?{urlencode(pairs)}"}}
    response = module_client.post("/fhir", json={"resourceType": "Bundle", "type": "batch", "entry": [entry]})
    assert response.status_code == 200, response.text[:500]
    answered = response.json()["entry"][0]["response"]
    assert answered["status"].startswith("400"), answered
    _assert_refused(answered["outcome"], "Bundle.entry[0].request.url")  # the entry; its diagnostics, the parameter
    assert expression in answered["outcome"]["issue"][0]["diagnostics"], answered


def test_every_type_refuses_a_hostile_search(module_client: TestClient) -> None:
    """The limits hold for every served type, not only the ones the other tests use."""
    too_many = _values("i", LIMITS.or_values + 1)
    answers = {t: module_client.get(f"/fhir/{t}", params={"_id": too_many}) for t in sorted(MAPPINGS)}
    wrong = {t: r.status_code for t, r in answers.items() if r.status_code != 400}
    assert not wrong
    for response in answers.values():
        _assert_refused(response.json(), "_id")


AUDIT_HOSTILE = {
    "1,000 repeats": ([("entity", "Patient/x")] * 1000, "entity"),
    "1,000 OR values": ([("agent", _values("Practitioner/p", 1000))], "agent"),
}


@pytest.mark.auth_off_only(reason="a clinic's backend service with system/*.cruds may not search AuditEvent")
@pytest.mark.parametrize(("pairs", "expression"), AUDIT_HOSTILE.values(), ids=AUDIT_HOSTILE.keys())
def test_a_hostile_audit_event_search_is_400(module_client: TestClient, pairs: Pairs, expression: str) -> None:
    """The audit trail's own search holds the same limits."""
    response = module_client.get("/fhir/AuditEvent", params=tuple(pairs))
    assert response.status_code == 400, response.text[:500]
    _assert_refused(response.json(), expression)


def test_a_hostile_compartment_search_is_400(module_client: TestClient, patient_id: str) -> None:
    response = module_client.get(f"/fhir/Patient/{patient_id}/Appointment", params=[("status", "booked")] * 1000)
    assert response.status_code == 400, response.text[:500]
    _assert_refused(response.json(), "status")


CONDITIONAL = [("name:contains", "a")] * 1000


def test_hostile_conditional_create_criteria_are_400(module_client: TestClient) -> None:
    headers = {"If-None-Exist": urlencode(CONDITIONAL)}
    response = module_client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=headers)
    assert response.status_code == 400, response.text[:500]
    _assert_refused(response.json(), "name:contains")


def test_hostile_conditional_update_and_delete_criteria_are_400(module_client: TestClient) -> None:
    query = urlencode(CONDITIONAL)
    updated = module_client.put(f"/fhir/Patient?{query}", json={"resourceType": "Patient"})
    deleted = module_client.delete(f"/fhir/Patient?{query}")
    for response in (updated, deleted):
        assert response.status_code == 400, response.text[:500]
        _assert_refused(response.json(), "name:contains")


def test_hostile_criteria_in_a_transaction_are_400(module_client: TestClient) -> None:
    """A conditional create, and a conditional reference, whose criteria are beyond the limits."""
    query = urlencode(CONDITIONAL)
    conditional_create = {
        "resource": {"resourceType": "Patient"},
        "request": {"method": "POST", "url": "Patient", "ifNoneExist": query},
    }
    conditional_reference = {
        "resource": {
            "resourceType": "Patient",
            "link": [{"other": {"reference": f"Patient?{query}"}, "type": "seealso"}],
        },
        "request": {"method": "POST", "url": "Patient"},
    }
    for entry in (conditional_create, conditional_reference):
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
        response = module_client.post("/fhir", json=bundle)
        assert response.status_code == 400, response.text[:500]
        assert response.json()["issue"][0]["code"] == "too-costly", response.text[:500]


def test_lenient_handling_does_not_drop_the_limits(module_client: TestClient) -> None:
    response = module_client.get("/fhir/Patient", params=tuple(CONDITIONAL), headers={"Prefer": "handling=lenient"})
    assert response.status_code == 400, response.text[:500]
    _assert_refused(response.json(), "name:contains")


AT_THE_LIMITS: dict[str, Pairs] = {
    "the most repeats": [("name:contains", "Lim")] * LIMITS.repeats,
    "the most parameters": [("family", "Limit"), ("given", "Lena"), ("name", "Lim")] * (LIMITS.parameters // 3),
    "the most OR values": [("family", _values("f", LIMITS.or_values - 1) + ",Limit")],
    "the most OR values in all": [
        ("family", _values("f", 99) + ",Limit"),
        ("given", _values("g", 99) + ",Lena"),
        ("name", _values("n", LIMITS.or_values_total - 201) + ",Limit"),
    ],
    "the longest chain": [
        ("family", "Limit"),
        ("organization.partof.name", "Parent"),
        (_chain(LIMITS.chain_depth), "x"),
    ],
    "the deepest _has": [("_has:Patient:link:family", "Linker"), (_has(LIMITS.has_depth), "nobody")],
    "the most OR values in the deepest _has and longest chain": [
        ("_has:Patient:link:family", "Linker"),
        (
            "_has:Patient:link:" * LIMITS.has_depth + _chain(LIMITS.chain_depth),
            _values("n", LIMITS.or_values - 1) + ",x",
        ),
    ],
    "the longest chain in the deepest _has": [
        ("_has:Patient:link:family", "Linker"),
        ("_has:Patient:link:" * LIMITS.has_depth + _chain(LIMITS.chain_depth), "x"),
    ],
    "the most includes": [("family", "Limit"), ("_include", ",".join(["Patient:organization"] * LIMITS.includes))],
}


@pytest.mark.parametrize("pairs", AT_THE_LIMITS.values(), ids=AT_THE_LIMITS.keys())
def test_a_search_at_the_limits_answers(module_client: TestClient, patient_id: str, pairs: Pairs) -> None:
    """At each limit the search runs and finds what it should (the chain and ``_has`` at full depth find nothing:
    the data is not that deep, but the shorter ones beside them do match)."""
    deep = any(value.rsplit(",", 1)[-1] in {"x", "nobody"} for _, value in pairs)
    found = ids(search(module_client, "Patient", pairs))
    assert found == ([] if deep else [patient_id])


def test_the_chain_and_has_at_one_level_less_find_the_patient(module_client: TestClient, patient_id: str) -> None:
    chained = [("family", "Limit"), ("organization.partof.name", "Parent")]
    assert ids(search(module_client, "Patient", chained)) == [patient_id]
    assert ids(search(module_client, "Patient", [("_has:Patient:link:family", "Linker")])) == [patient_id]


@pytest.fixture
def strict_client(database_url: str) -> Iterator[TestClient]:
    """An app configured with lower limits than the defaults."""
    settings = load_settings(
        database_url=database_url,
        base_url=PUBLIC_BASE_URL,
        auth="disabled",
        search_max_repeats=2,
        search_max_chain_depth=1,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_limits_are_settings_published_in_the_capability_statement(strict_client: TestClient) -> None:
    refused = strict_client.get("/fhir/Patient", params=[("family", "a")] * 3)
    assert refused.status_code == 400
    _assert_refused(refused.json(), "family")
    chained = strict_client.get("/fhir/Patient", params={"organization.partof.name": "x"})
    _assert_refused(chained.json(), "organization.partof.name")
    assert strict_client.get("/fhir/Patient", params=[("family", "a")] * 2).status_code == 200
    documentation = strict_client.get("/fhir/metadata").json()["rest"][0]["documentation"]
    assert "each repeated at most 2 times" in documentation
    assert "chains at most 1 references long" in documentation
