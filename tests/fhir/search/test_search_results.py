"""The shape of search results (http://hl7.org/fhir/R4/search.html): _count, _total, _summary, _elements,
strict and lenient handling of what is not understood, POST _search, compartment search and paging links on the
public base URL (http://hl7.org/fhir/R4/http.html#paging)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.fhir.search.search_clinic import PAGING_FAMILY, PAGING_PATIENTS, Clinic, build_clinic, names, outcome_issue
from tests.fhir.search.search_support import PUBLIC_BASE_URL, Json, ids, search


@pytest.fixture(scope="module", autouse=True)
def clinic(module_client: TestClient) -> Clinic:
    return build_clinic(module_client)


# --- _count, _total, _summary, _elements ---------------------------------------------------------------------


def test_count_defaults_to_twenty_and_pages_the_rest(module_client: TestClient) -> None:
    bundle = search(module_client, "Patient", [("family", PAGING_FAMILY)])
    assert len(bundle["entry"]) == 20
    assert "total" not in bundle  # not counted unless asked: fhir_server.fhir.search.totals
    assert {link["relation"] for link in bundle["link"]} >= {"self", "first", "next"}
    small = search(module_client, "Patient", [("family", PAGING_FAMILY), ("_count", "5")])
    assert len(small["entry"]) == 5
    assert len(search(module_client, "Patient", [("family", PAGING_FAMILY), ("_count", "1000")])["entry"]) == 25


@pytest.mark.parametrize("count", ["1001", "5000", "9" * 5000])
def test_count_beyond_the_maximum_is_served_as_the_maximum(module_client: TestClient, count: str) -> None:
    bundle = search(module_client, "Patient", [("family", PAGING_FAMILY), ("_count", count)])
    assert len([e for e in bundle["entry"] if e["search"]["mode"] == "match"]) == PAGING_PATIENTS
    said = [e["resource"]["issue"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]  # issue 15 item 10
    assert [(i["severity"], i["expression"]) for issues in said for i in issues] == [("information", ["_count"])]
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert parse_qs(urlsplit(self_link).query)["_count"] == ["1000"]


@pytest.mark.parametrize("count", ["-1", "ten", "2.5", "\u00b2"])
def test_count_not_a_whole_number_is_refused(module_client: TestClient, count: str) -> None:
    response = module_client.get("/fhir/Patient", params={"_count": count})
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == ["_count"]


def test_count_zero_gives_the_total_only(module_client: TestClient) -> None:
    bundle = search(module_client, "Patient", [("family", PAGING_FAMILY), ("_count", "0")])
    assert bundle["total"] == PAGING_PATIENTS
    assert "entry" not in bundle


def test_total_none_estimate_and_accurate(module_client: TestClient) -> None:
    query = [("family", PAGING_FAMILY), ("_count", "3")]
    assert "total" not in search(module_client, "Patient", [*query, ("_total", "none")])
    assert search(module_client, "Patient", [*query, ("_total", "accurate")])["total"] == PAGING_PATIENTS
    estimate = search(module_client, "Patient", [*query, ("_total", "estimate")])
    assert estimate.get("total", PAGING_PATIENTS) >= 3
    assert module_client.get("/fhir/Patient", params={"_total": "some"}).status_code == 400


SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}


def _only(client: TestClient, clinic: Clinic, *params: tuple[str, str]) -> Json:
    bundle = search(client, "Patient", [("_id", clinic.id("patients", "anna")), *params])
    resource: Json = bundle["entry"][0]["resource"]
    return resource


def _subsetted(resource: Json) -> bool:
    return any(
        t.get("code") == "SUBSETTED" and t.get("system") == SUBSETTED["system"] for t in resource["meta"].get("tag", [])
    )


def test_summary_true_keeps_the_summary_elements(module_client: TestClient, clinic: Clinic) -> None:
    resource = _only(module_client, clinic, ("_summary", "true"))
    assert resource["name"][0]["family"] == "Smith"
    assert resource["birthDate"] == "1980-01-01"
    assert "generalPractitioner" not in resource  # not a summary element of Patient
    assert _subsetted(resource)


@pytest.mark.parametrize("mode", ["true", "text", "data"])
def test_summary_tags_every_match_and_include_subsetted(module_client: TestClient, clinic: Clinic, mode: str) -> None:
    """Tagged even when nothing was left out (a Patient without narrative under ``_summary=data``)."""
    query = [("_id", clinic.id("patients", "anna")), ("_include", "Patient:general-practitioner"), ("_summary", mode)]
    entries = search(module_client, "Patient", query)["entry"]
    assert {entry["search"]["mode"] for entry in entries} == {"match", "include"}
    assert all(_subsetted(entry["resource"]) for entry in entries)


def test_summary_text_data_count_and_false(module_client: TestClient, clinic: Clinic) -> None:
    text = _only(module_client, clinic, ("_summary", "text"))
    assert set(text) <= {"resourceType", "id", "meta", "text"}
    assert _subsetted(text)
    data = _only(module_client, clinic, ("_summary", "data"))
    assert "text" not in data
    assert data["generalPractitioner"]
    full = _only(module_client, clinic, ("_summary", "false"))
    assert not _subsetted(full)
    assert full["generalPractitioner"]
    count = search(module_client, "Patient", [("family", PAGING_FAMILY), ("_summary", "count")])
    assert count["total"] == PAGING_PATIENTS
    assert "entry" not in count
    assert module_client.get("/fhir/Patient", params={"_summary": "maybe"}).status_code == 400


def test_elements_keeps_only_the_named_elements(module_client: TestClient, clinic: Clinic) -> None:
    resource = _only(module_client, clinic, ("_elements", "name,gender"))
    assert set(resource) == {"resourceType", "id", "meta", "name", "gender"}
    assert _subsetted(resource)


# --- strict and lenient handling -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expression"),
    [
        ("shoesize", "42", "shoesize"),
        ("family:sounds-like", "smith", "family:sounds-like"),
        ("birthdate", "xx2020", "birthdate"),
        ("birthdate", "2020-13-45", "birthdate"),
        ("gender:below", "male", "gender:below"),
        ("general-practitioner:Device", "x", "general-practitioner:Device"),
        ("family:missing", "perhaps", "family:missing"),
    ],
)
def test_strict_handling_refuses_what_it_does_not_understand(
    module_client: TestClient, name: str, value: str, expression: str
) -> None:
    response = module_client.get("/fhir/Patient", params={name: value})
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == [expression]


def test_lenient_handling_ignores_and_reports_unknown_parameters(module_client: TestClient, clinic: Clinic) -> None:
    response = module_client.get(
        "/fhir/Patient", params={"family": "smith", "shoesize": "42"}, headers={"Prefer": "handling=lenient"}
    )
    assert response.status_code == 200
    bundle = response.json()
    assert set(ids(bundle)) == names(clinic, "patients", "anna", "bob")
    outcomes = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert len(outcomes) == 1
    issue = outcomes[0]["resource"]["issue"][0]
    assert issue["severity"] == "warning"
    assert issue["expression"] == ["shoesize"]
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "shoesize" not in self_link
    assert self_link == f"{PUBLIC_BASE_URL}/Patient?family=smith"


# --- POST _search and compartments ---------------------------------------------------------------------------


def test_post_search_takes_form_encoded_parameters(module_client: TestClient, clinic: Clinic) -> None:
    response = module_client.post(
        "/fhir/Patient/_search",
        content="family=smith&gender=female",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert set(ids(response.json())) == names(clinic, "patients", "anna")
    in_url = module_client.post(
        "/fhir/Patient/_search?family=smith",
        content="gender=male",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert set(ids(in_url.json())) == names(clinic, "patients", "bob")


def test_post_search_with_a_json_body_is_refused(module_client: TestClient) -> None:
    response = module_client.post("/fhir/Patient/_search", json={"family": "smith"})
    assert response.status_code == 415
    assert outcome_issue(response)["code"] == "not-supported"


def test_compartment_search_finds_the_patients_resources(module_client: TestClient, clinic: Clinic) -> None:
    anna = clinic.id("patients", "anna")
    appointments = search_compartment(module_client, anna, "Appointment")
    assert set(ids(appointments)) == names(clinic, "appointments", "a1")
    booked = search_compartment(module_client, anna, "Appointment", ("status", "cancelled"))
    assert ids(booked) == []
    assert set(ids(search_compartment(module_client, anna, "QuestionnaireResponse"))) == names(
        clinic, "responses", "anna"
    )
    assert set(ids(search_compartment(module_client, anna, "Patient"))) == {anna}
    bob = clinic.id("patients", "bob")  # bob's response, authored by another server's Patient with anna's id
    assert set(ids(search_compartment(module_client, bob, "QuestionnaireResponse"))) == names(
        clinic, "responses", "bob"
    )
    self_link = next(link["url"] for link in appointments["link"] if link["relation"] == "self")
    assert self_link.startswith(f"{PUBLIC_BASE_URL}/Patient/{anna}/Appointment")


def search_compartment(client: TestClient, patient_id: str, resource_type: str, *params: tuple[str, str]) -> Json:
    response = client.get(f"/fhir/Patient/{patient_id}/{resource_type}", params=list(params))
    assert response.status_code == 200, response.text
    bundle: Json = response.json()
    return bundle


def test_compartment_of_a_type_outside_it_is_not_found(module_client: TestClient, clinic: Clinic) -> None:
    response = module_client.get(f"/fhir/Patient/{clinic.id('patients', 'anna')}/Endpoint")
    assert response.status_code == 404, response.text
    issue = response.json()["issue"][0]
    assert (issue["code"], issue["diagnostics"]) == ("not-found", "Endpoint is not in the Patient compartment")


# --- paging links --------------------------------------------------------------------------------------------


def _link(bundle: Json, relation: str) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == relation), None)


def follow(client: TestClient, url: str) -> Json:
    """GET a link of a Bundle (on the public base URL) through the test client."""
    assert url.startswith(PUBLIC_BASE_URL + "/"), url
    response = client.get("/fhir" + url[len(PUBLIC_BASE_URL) :])
    assert response.status_code == 200, response.text
    bundle: Json = response.json()
    return bundle


def test_paging_links_use_the_public_base_and_walk_every_match_once(module_client: TestClient) -> None:
    query = [("family", PAGING_FAMILY), ("_count", "10"), ("_sort", "given"), ("_total", "accurate")]
    bundle = search(module_client, "Patient", query)
    seen = ids(bundle)
    for relation in ("self", "first", "next"):
        assert (_link(bundle, relation) or "").startswith(f"{PUBLIC_BASE_URL}/Patient?")
    while (next_url := _link(bundle, "next")) is not None:
        bundle = follow(module_client, next_url)
        assert bundle["total"] == PAGING_PATIENTS
        seen += ids(bundle)
    assert len(seen) == PAGING_PATIENTS == len(set(seen))
    back = follow(module_client, _link(bundle, "previous") or "")
    assert len(ids(back)) == 10
    assert ids(back) == seen[10:20]


def test_a_tampered_cursor_is_refused(module_client: TestClient) -> None:
    bundle = search(module_client, "Patient", [("family", PAGING_FAMILY), ("_count", "5")])
    next_url = _link(bundle, "next") or ""
    head, _, cursor = next_url.partition("_cursor=")
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    response = module_client.get("/fhir" + (head + "_cursor=" + tampered)[len(PUBLIC_BASE_URL) :])
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == ["_cursor"]


def test_a_cursor_of_another_search_is_refused(module_client: TestClient) -> None:
    bundle = search(module_client, "Patient", [("family", PAGING_FAMILY), ("_count", "5")])
    cursor = (_link(bundle, "next") or "").partition("_cursor=")[2]
    response = module_client.get("/fhir/Patient", params={"family": "smith", "_count": "5", "_cursor": cursor})
    assert response.status_code == 400
    assert outcome_issue(response)["expression"] == ["_cursor"]


# --- dates at the edges of the calendar ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "ap0001",
        "ap9999",
        "gt9999-12-31",
        "le9999-12-31T23:59:59Z",
        "sa0001-01-01T00:00:00+05:00",
        "eb9999-12-31T23:00:00-05:00",
    ],
)
def test_dates_at_the_edges_of_the_calendar_are_searched_not_failed(module_client: TestClient, value: str) -> None:
    response = module_client.get("/fhir/Patient", params={"birthdate": value})
    assert response.status_code == 200, response.text


def test_a_resource_dated_at_the_end_of_the_calendar_is_indexed(module_client: TestClient, clinic: Clinic) -> None:
    body = {
        "resourceType": "Patient",
        "name": [{"family": "Edgeofcalendar", "given": ["Max"]}],
        "birthDate": "9999-12-31",
        "managingOrganization": {"reference": f"Organization/{clinic.org['id']}"},
    }
    created = module_client.post("/fhir/Patient", json=body)
    assert created.status_code == 201, created.text
    found = ids(search(module_client, "Patient", [("family", "edgeofcalendar"), ("birthdate", "9999-12-31")]))
    assert found == [created.json()["id"]]
    assert ids(search(module_client, "Patient", [("family", "edgeofcalendar"), ("birthdate", "lt9999")])) == []
