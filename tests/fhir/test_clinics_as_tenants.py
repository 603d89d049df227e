"""Clinics are tenants; Organizations are data (issue 14, item 5).

A clinic is made by an operator (``fhir-server clinics create``) and has its own Organization; an Organization
written through FHIR (a lab, a payer) is ordinary data of the clinic that wrote it: the caller's (its token's), or
without authorization the default clinic (``FHIR_SERVER_DEFAULT_CLINIC``, else the only one).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from fhir_server.cli import app as cli
from fhir_server.db import Organization, Practitioner, ResourceHistory
from fhir_server.db.clinic import live_clinics
from fhir_server.db.engine import Database
from tests.authorized_client import fhir_client
from tests.clinics import add_clinic_at

LAB = {"resourceType": "Organization", "name": "Quest Lab", "type": [{"text": "laboratory"}]}
DOCTOR = {"resourceType": "Practitioner", "name": [{"family": "Hart", "given": ["Amelia"]}]}


def _created(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _patient(family: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family}]}


def _ids(client: TestClient, resource_type: str) -> set[str]:
    bundle = client.get(f"/fhir/{resource_type}").json()
    return {e["resource"]["id"] for e in bundle.get("entry", [])}


def _diagnostics(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    text: str = response.json()["issue"][0]["diagnostics"]
    return text


def _clinic_row_id(database: Database, fhir_id: str) -> uuid.UUID:
    with database.read() as session:
        return session.scalars(select(Organization.id).where(Organization.fhir_id == fhir_id)).one()


def test_a_posted_lab_is_data_of_the_posting_clinic_and_writes_still_find_their_clinic(database_url: str) -> None:
    clinic = add_clinic_at(database_url, "Main Street Clinic")
    with fhir_client(database_url, "off") as client:
        lab = _created(client, LAB)
        doctor = _created(client, DOCTOR)  # before issue 14: 422 "cannot tell which clinic"
        assert client.get(f"/fhir/Organization/{lab['id']}").json()["name"] == "Quest Lab"
    database = Database(database_url)
    try:
        clinic_id = _clinic_row_id(database, clinic["id"])
        with database.read() as session:
            rows = {o.fhir_id: o for o in session.scalars(select(Organization))}
            assert rows[clinic["id"]].is_clinic and rows[clinic["id"]].organization_id == clinic_id
            assert not rows[lab["id"]].is_clinic and rows[lab["id"]].organization_id == clinic_id
            assert live_clinics(session) == [clinic_id]
            held_by = select(Practitioner.organization_id).where(Practitioner.fhir_id == doctor["id"])
            assert session.scalars(held_by).one() == clinic_id
            history = select(ResourceHistory.organization_id).where(ResourceHistory.resource_type == "Organization")
            assert set(session.scalars(history)) == {clinic_id}  # the versions of both carry the clinic
    finally:
        database.dispose()


def test_a_second_clinic_made_by_the_cli_sees_none_of_the_first_clinics_data(database_url: str) -> None:
    first = add_clinic_at(database_url, "First Clinic")
    made = CliRunner().invoke(cli, ["clinics", "create", "--name", "Second Clinic", "--timezone", "Europe/Berlin"],
                              env={"FHIR_SERVER_DATABASE_URL": database_url})  # fmt: skip
    assert made.exit_code == 0, made.output
    second_id = made.output.split("Organization/")[1].split()[0]
    data: dict[str, dict[str, str]] = {}
    with fhir_client(database_url, "on", clinic_id=first["id"]) as client:  # the first clinic's token
        data[first["id"]] = {"lab": _created(client, LAB)["id"], "patient": _created(client, _patient("One"))["id"]}
    with fhir_client(database_url, "off", default_clinic="Second Clinic") as client:  # its default-clinic writes
        data[second_id] = {"lab": _created(client, LAB)["id"], "patient": _created(client, _patient("Two"))["id"]}
    for own, other in ((first["id"], second_id), (second_id, first["id"])):
        with fhir_client(database_url, "on", clinic_id=own) as client:
            assert _ids(client, "Organization") == {own, data[own]["lab"]}
            assert _ids(client, "Patient") == {data[own]["patient"]}
            assert client.get(f"/fhir/Organization/{data[other]['lab']}").status_code == 404
            assert client.get(f"/fhir/Organization/{other}").status_code == 404
            assert client.get(f"/fhir/Patient/{data[other]['patient']}").status_code == 404


def test_with_several_clinics_a_write_naming_none_says_how_to_choose(database_url: str) -> None:
    add_clinic_at(database_url, "First Clinic")
    second = add_clinic_at(database_url, "Second Clinic")
    with fhir_client(database_url, "off") as client:
        message = _diagnostics(client.post("/fhir/Practitioner", json=DOCTOR), 422)
        assert "FHIR_SERVER_DEFAULT_CLINIC" in message and "Patient.managingOrganization" in message
        assert _diagnostics(client.post("/fhir/Organization", json=LAB), 422) == message.replace(
            "Practitioner", "Organization"
        )
        managed = {**_patient("Managed"), "managingOrganization": {"reference": f"Organization/{second['id']}"}}
        assert _created(client, managed)["managingOrganization"]["reference"] == f"Organization/{second['id']}"


def test_the_default_clinic_setting_chooses_by_name_or_id(database_url: str) -> None:
    first = add_clinic_at(database_url, "First Clinic")
    second = add_clinic_at(database_url, "Second Clinic", npi="1245319599")
    for chosen, setting in ((first, first["id"]), (second, "Second Clinic"), (second, "1245319599")):
        with fhir_client(database_url, "off", default_clinic=setting) as client:
            patient = _created(client, _patient("Chosen"))
            assert patient["managingOrganization"] == {"reference": f"Organization/{chosen['id']}"}
    with fhir_client(database_url, "off", default_clinic="Nowhere Clinic") as client:
        message = _diagnostics(client.post("/fhir/Patient", json=_patient("Lost")), 422)
        assert "FHIR_SERVER_DEFAULT_CLINIC='Nowhere Clinic' names no clinic" in message


def test_without_any_clinic_a_write_says_an_operator_creates_one(database_url: str) -> None:
    with fhir_client(database_url, "off") as client:
        message = _diagnostics(client.post("/fhir/Organization", json=LAB), 422)
    assert "no clinic yet" in message and "fhir-server clinics create" in message


def test_a_clinics_own_organization_is_not_deleted_through_fhir_but_a_lab_is(database_url: str) -> None:
    clinic = add_clinic_at(database_url, "Main Street Clinic")
    with fhir_client(database_url, "off") as client:
        lab = _created(client, LAB)
        message = _diagnostics(client.delete(f"/fhir/Organization/{clinic['id']}"), 409)
        assert "clinic" in message and "fhir-server clinics" in message
        assert client.get(f"/fhir/Organization/{clinic['id']}").status_code == 200
        assert client.delete(f"/fhir/Organization/{lab['id']}").status_code == 204
        assert client.get(f"/fhir/Organization/{lab['id']}").status_code == 410


def test_a_patient_managed_by_a_lab_is_refused_naming_the_element(database_url: str) -> None:
    add_clinic_at(database_url, "Main Street Clinic")
    with fhir_client(database_url, "off") as client:
        lab = _created(client, LAB)
        managed = {**_patient("Lab"), "managingOrganization": {"reference": f"Organization/{lab['id']}"}}
        response = client.post("/fhir/Patient", json=managed)
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Patient.managingOrganization"]
    assert "is not a clinic" in issue["diagnostics"]


def test_a_stored_resource_naming_a_lab_belongs_to_the_labs_clinic(database_url: str) -> None:
    add_clinic_at(database_url, "First Clinic")
    second = add_clinic_at(database_url, "Second Clinic")
    with fhir_client(database_url, "off", default_clinic="Second Clinic") as client:
        lab = _created(client, LAB)
    report = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
        "performer": [{"reference": f"Organization/{lab['id']}"}],
    }
    with fhir_client(database_url, "off") as client:  # several clinics, no default: the lab tells
        observation = _created(client, report)
    with fhir_client(database_url, "on", clinic_id=second["id"]) as client:
        assert _ids(client, "Observation") == {observation["id"]}
