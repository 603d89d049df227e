"""Dates at and past the ends of what Python and the databases hold, in search values and in resources: a value
that is no date answers 400 naming the parameter, one at the edge of the calendar (year 1, year 9999, the
furthest zone offsets) is searched or stored like any other; never a 500, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from fhir_server.fhir.search.registry import parameters_for
from tests.authorized_client import clinic_of

PREFIXES = ["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]
NOT_DATES = [
    "0000",
    "0000-01",
    "0000-01-01",
    "0000-01-01T00:00:00Z",
    "2020-13",
    "2020-00",
    "2020-02-30",
    "2020-01-32",
    "2020-01-01T24:00:00Z",
    "2020-01-01T00:60:00Z",
    "2020-01-01T00:00:00+24:00",
    "10000",
    "99999-01-01",
    "-0001",
]
CALENDAR_EDGES = [
    "0001",
    "0001-01",
    "0001-01-01",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999",
    "9999-12",
    "9999-12-31",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59.999999Z",
]
DATE_PARAMETERS = [
    (resource_type, code)
    for resource_type in ("Patient", "Appointment")
    for code, parameter in sorted(parameters_for(resource_type).items())
    if parameter.type == "date"
]


@pytest.fixture(scope="module")
def client(module_client: TestClient) -> Iterator[TestClient]:
    """The module's client, on a database holding a patient born on the last day of the calendar and their
    appointment, so that every search compares real rows."""
    clinic_of(module_client)
    patient = _created(module_client, _patient(birthDate="9999-12-31", deceasedDateTime="0001-01-01T00:00:00Z"))
    practitioner = _created(module_client, {"resourceType": "Practitioner", "name": [{"family": "D", "given": ["A"]}]})
    last_day = _appointment(patient["id"], practitioner["id"], "9999-12-31T10:00:00Z", "9999-12-31T10:30:00Z")
    _created(module_client, last_day)
    yield module_client


def _created(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _patient(**elements: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": "Doe", "given": ["Jane"]}], **elements}


def _appointment(patient: str, practitioner: str, start: str, end: str | None = None) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": start,
        "end": end or start,
        "participant": [
            {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{practitioner}"}, "status": "accepted"},
        ],
    }


def test_every_date_parameter_of_patient_and_appointment_is_in_the_table() -> None:
    assert {("Patient", "birthdate"), ("Patient", "death-date"), ("Appointment", "date")} <= set(DATE_PARAMETERS)


@pytest.mark.parametrize("value", NOT_DATES)
def test_a_search_value_that_is_no_date_answers_400_naming_the_parameter(client: TestClient, value: str) -> None:
    for resource_type, code in DATE_PARAMETERS:
        for prefix in PREFIXES:
            response = client.get(f"/fhir/{resource_type}?{code}={quote(prefix + value)}")
            assert response.status_code == 400, (resource_type, code, prefix, value, response.text)
            assert response.json()["issue"][0]["diagnostics"].startswith(f"{code}: ")


@pytest.mark.parametrize("value", CALENDAR_EDGES)
def test_a_search_value_at_the_edge_of_the_calendar_is_searched(client: TestClient, value: str) -> None:
    for resource_type, code in DATE_PARAMETERS:
        for prefix in PREFIXES:
            response = client.get(f"/fhir/{resource_type}?{code}={quote(prefix + value)}")
            assert response.status_code == 200, (resource_type, code, prefix, value, response.text)


@pytest.mark.parametrize("value", ["0000", "0000-01-01T00:00:00Z", "2020-13", *CALENDAR_EDGES[:3]])
def test_history_since_and_at_take_the_same_dates(client: TestClient, value: str) -> None:
    for name in ("_since", "_at"):
        response = client.get(f"/fhir/Patient/_history?{name}={quote(value)}")
        assert response.status_code == (400 if value.startswith(("0000", "2020-13")) else 200), response.text


@pytest.mark.parametrize("value", NOT_DATES[:12] + CALENDAR_EDGES)
def test_a_resource_dated_anywhere_is_stored_or_refused_with_a_4xx(client: TestClient, value: str) -> None:
    birth_date = value.split("T")[0]
    date_time = value if "T" in value else f"{value}-01-01T00:00:00Z"[: len(value)] if len(value) > 4 else value
    practitioner = client.get("/fhir/Practitioner").json()["entry"][0]["resource"]["id"]
    patient = client.get("/fhir/Patient").json()["entry"][0]["resource"]["id"]
    for resource in (
        _patient(birthDate=birth_date),
        _patient(deceasedDateTime=date_time),
        _appointment(patient, practitioner, value, value),
    ):
        for path in (f"/fhir/{resource['resourceType']}", f"/fhir/{resource['resourceType']}/$validate"):
            response = client.post(path, json=resource)
            assert response.status_code < 500, (path, resource, response.text)
            assert response.json()["resourceType"] in {resource["resourceType"], "OperationOutcome"}
