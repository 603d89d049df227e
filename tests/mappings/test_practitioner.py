"""practitioners <-> Practitioner: golden pairs both ways, round trips through the HTTP API, internal changes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.structuredefinition import StructureDefinition
from sqlalchemy import select

from fhir_server.db import Organization, Practitioner
from fhir_server.db.engine import Database
from fhir_server.paths import project_dir
from mappings.datatypes import NPI_SYSTEM
from mappings.practitioner import CALENDAR_COLOR_URL, NUCC_SYSTEM, PractitionerMapping
from tests.clinics import make_clinic
from tests.mappings.mapping_support import golden_names, load, r4_issues, without_meta
from tests.mappings.roundtrip_support import (
    as_sent,
    assert_reads_back,
    columns_of_row,
    created,
    current,
    golden_row,
    held_as_sent,
    issue_of,
)

NPI_EXPRESSION = f"Practitioner.identifier.where(system='{NPI_SYSTEM}').value"


def rich_practitioner() -> dict[str, Any]:
    """A Practitioner using much of R4: extensions, unmapped elements, several names, telecoms in odd orders."""
    return {
        "resourceType": "Practitioner",
        "meta": {"profile": ["http://example.org/fhir/StructureDefinition/clinician"], "tag": [{"code": "import"}]},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Dr. Yuki Nakamura</div>'},
        "contained": [{"resourceType": "Organization", "id": "board", "name": "Massachusetts Board of Medicine"}],
        "extension": [
            {"url": "http://example.org/fhir/StructureDefinition/pronouns", "valueString": "she/her"},
            {"url": CALENDAR_COLOR_URL, "valueString": "#AbCdEf"},
        ],
        "identifier": [
            {"system": "http://example.org/state-license", "value": "MA-4242", "period": {"start": "2005-07-01"}},
            {"use": "official", "system": NPI_SYSTEM, "value": "1245319599"},
            {"system": "http://example.org/staff", "value": "S-17"},
        ],
        "active": False,
        "name": [
            {"use": "official", "family": "Nakamura", "given": ["Yuki", "Anne"], "prefix": ["Dr."], "suffix": ["MD"]},
            {"use": "nickname", "given": ["Yu"]},
        ],
        "telecom": [
            {"system": "email", "value": "yuki@clinic.example.org", "use": "work"},
            {"system": "pager", "value": "4711"},
            {"system": "phone", "value": "+1 555 0142", "rank": 2},
            {"system": "phone", "value": "+1 555 0143", "use": "mobile"},
        ],
        "address": [{"use": "work", "line": ["1 Main St"], "city": "Springfield"}],
        "gender": "female",
        "birthDate": "1975-02-03",
        "qualification": [
            {
                "identifier": [{"system": "http://example.org/diplomas", "value": "D-1"}],
                "code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0360", "code": "MD"}]},
                "issuer": {"reference": "#board"},
            },
            {
                "code": {"coding": [{"system": NUCC_SYSTEM, "code": "207N00000X"}], "text": "Dermatology"},
                "period": {"start": "2010"},
            },
        ],
        "communication": [{"coding": [{"system": "urn:ietf:bcp:47", "code": "ja"}]}],
    }


def stored(database: Database, fhir_id: str) -> Practitioner:
    with database.read() as session:
        row = session.scalars(select(Practitioner).where(Practitioner.fhir_id == fhir_id)).one()
        session.expunge(row)
        return row


# --- golden pairs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", golden_names("practitioner"))
def test_golden_row_is_served_as_its_resource(name: str) -> None:
    served = PractitionerMapping.to_fhir(golden_row(PractitionerMapping, name))
    assert served == load(name, "fhir")
    assert r4_issues(served) == []


@pytest.mark.parametrize("name", golden_names("practitioner"))
def test_golden_resource_reads_back_as_its_row(name: str) -> None:
    assert_reads_back(PractitionerMapping, name)


# --- the mapping on its own ---------------------------------------------------------------------------------


def _read(resource: dict[str, Any]) -> dict[str, Any]:
    return PractitionerMapping.from_fhir({"resourceType": "Practitioner", **resource}).columns


def test_a_specialty_nucc_knows_is_served_with_its_taxonomy_code() -> None:
    row = golden_row(PractitionerMapping, "practitioner")
    row.specialty = "Pediatrics"
    assert PractitionerMapping.to_fhir(row)["qualification"] == [
        {"code": {"coding": [{"system": NUCC_SYSTEM, "code": "208000000X"}], "text": "Pediatrics"}}
    ]
    row.specialty = "Sports Medicine (team doctor)"
    assert PractitionerMapping.to_fhir(row)["qualification"] == [{"code": {"text": "Sports Medicine (team doctor)"}}]


def test_a_nucc_code_without_text_reads_as_its_specialty() -> None:
    columns = _read({"name": [{"family": "A", "given": ["B"]}], "qualification": [
        {"code": {"coding": [{"system": NUCC_SYSTEM, "code": "207R00000X"}]}}
    ]})  # fmt: skip
    assert columns["specialty"] == "Internal Medicine"


def test_a_degree_is_not_taken_for_the_specialty() -> None:
    degree = {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0360", "code": "MD"}]}}
    assert _read({"name": [{"family": "A", "given": ["B"]}], "qualification": [degree]})["specialty"] is None


def test_other_identifiers_are_kept_in_order_without_the_npi() -> None:
    columns = _read(rich_practitioner())
    assert columns["npi"] == "1245319599"
    assert [i["value"] for i in columns["identifiers"]] == ["MA-4242", "S-17"]


def test_a_cleared_column_takes_its_element_along() -> None:
    row = golden_row(PractitionerMapping, "practitioner-from-client")
    row.extra = {**row.extra, "qualification": [{**q, "period": {"start": "2010"}} for q in row.extra["qualification"]]}
    row.specialty, row.npi, row.phone = None, None, None
    served = PractitionerMapping.to_fhir(row)
    assert [q["code"]["coding"][0]["code"] for q in served["qualification"]] == ["MD"]
    assert served["identifier"] == [{"system": "http://example.org/state-license", "value": "MA-4242"}]
    assert "telecom" not in served
    assert r4_issues(served) == []


def test_an_internal_change_to_other_identifiers_keeps_the_npi() -> None:
    row = golden_row(PractitionerMapping, "practitioner-from-client")
    row.identifiers = [{"system": "http://example.org/staff", "value": "S-99"}]
    assert PractitionerMapping.to_fhir(row)["identifier"] == [
        {"use": "official", "system": NPI_SYSTEM, "value": "1245319599"},
        {"system": "http://example.org/staff", "value": "S-99"},
    ]


@pytest.mark.parametrize(
    ("resource", "attr"),
    [
        ({"name": [{"given": ["B"], "family": "A"}], "extension": [{"url": CALENDAR_COLOR_URL, "valueString": "red"}]},
         "calendar_color"),
        ({"name": [{"given": ["B"], "family": "A"}], "identifier": [{"system": NPI_SYSTEM, "value": "12345"}]}, "npi"),
        ({"name": [{"given": ["B"], "family": "A" * 101}]}, "family_name"),
        ({"name": [{"given": ["B"], "family": "A", "prefix": ["Professor Doctor Sir Dame"]}]}, "prefix"),
    ],
)  # fmt: skip
def test_values_the_clinic_cannot_hold_leave_the_column_empty_and_are_served_as_sent(
    resource: dict[str, Any], attr: str
) -> None:
    sent = {"resourceType": "Practitioner", **resource}
    values = PractitionerMapping.from_fhir(sent)
    assert values.unheld == {attr}
    assert values.columns[attr] is None
    row = Practitioner(fhir_id="p", version_id=1, last_updated=datetime(2026, 1, 1, tzinfo=UTC))
    PractitionerMapping.apply(row, values, None)
    assert without_meta(PractitionerMapping.to_fhir(row)) == without_meta(sent)


@pytest.mark.parametrize(
    ("elements", "names"),
    [({"name": [{"family": "A"}]}, (None, "A")), ({"name": [{"given": ["B"]}]}, ("B", None)),
     ({"name": [{"text": "Dr. B. A."}]}, (None, None)), ({}, (None, None))],
)  # fmt: skip
def test_a_practitioner_without_a_given_or_family_name_has_empty_name_columns(
    elements: dict[str, Any], names: tuple[str | None, str | None]
) -> None:
    sent = {"resourceType": "Practitioner", **elements}
    values = PractitionerMapping.from_fhir(sent)
    assert values.unheld == set()
    row = Practitioner(fhir_id="p", version_id=1, last_updated=datetime(2026, 1, 1, tzinfo=UTC))
    PractitionerMapping.apply(row, values, None)
    assert (row.given_name, row.family_name) == names
    assert without_meta(PractitionerMapping.to_fhir(row)) == without_meta(sent)


def test_the_calendar_colour_extension_is_published_as_a_structure_definition() -> None:
    definition = json.loads(
        (project_dir("conformance") / "StructureDefinition-practitioner-calendar-color.json").read_text("utf-8")
    )
    StructureDefinition.model_validate(definition)
    assert (definition["url"], definition["type"]) == (CALENDAR_COLOR_URL, "Extension")
    assert definition["context"] == [{"type": "element", "expression": "Practitioner"}]


# --- through the HTTP API, on both databases ----------------------------------------------------------------


def test_a_rich_practitioner_is_served_back_as_sent(
    client: TestClient, clinic: dict[str, Any], database: Database
) -> None:
    sent = rich_practitioner()
    body = created(client, sent)
    assert as_sent(body) == sent
    assert as_sent(current(client, "Practitioner", body["id"])) == sent
    row = stored(database, body["id"])
    assert (row.given_name, row.family_name, row.prefix, row.suffix) == ("Yuki", "Nakamura", "Dr.", "MD")
    assert (row.npi, row.specialty, row.calendar_color, row.active) == ("1245319599", "Dermatology", "#AbCdEf", False)
    assert (row.phone, row.email, row.initials) == ("+1 555 0142", "yuki@clinic.example.org", "YN")
    assert [i["value"] for i in row.identifiers] == ["MA-4242", "S-17"]


def test_an_update_in_another_order_is_served_back_as_sent(client: TestClient, clinic: dict[str, Any]) -> None:
    body = created(client, rich_practitioner())
    sent = copy.deepcopy(rich_practitioner())
    sent["id"] = body["id"]
    sent["telecom"].reverse()
    sent["identifier"].reverse()
    sent["qualification"].reverse()
    sent["name"][0]["given"] = ["Yuki"]
    response = client.put(f"/fhir/Practitioner/{body['id']}", json=sent)
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["versionId"] == "2"
    del sent["id"]
    assert as_sent(current(client, "Practitioner", body["id"])) == sent


def test_an_internal_change_shows_in_a_new_version(
    client: TestClient, clinic: dict[str, Any], database: Database
) -> None:
    body = created(client, rich_practitioner())
    with database.write() as session:
        row = session.scalars(select(Practitioner).where(Practitioner.fhir_id == body["id"])).one()
        row.specialty = "Cardiology"
        row.email = None
        row.calendar_color = "#000000"
    served = current(client, "Practitioner", body["id"])
    assert served["meta"]["versionId"] == "2"
    assert served["qualification"][0] == rich_practitioner()["qualification"][0]
    assert served["qualification"][1] == {  # a new specialty: the old one's period no longer applies
        "code": {"coding": [{"system": NUCC_SYSTEM, "code": "207RC0000X"}], "text": "Cardiology"}
    }
    assert [t["system"] for t in served["telecom"]] == ["pager", "phone", "phone"]  # no email left behind
    assert served["extension"][1] == {"url": CALENDAR_COLOR_URL, "valueString": "#000000"}
    assert client.get(f"/fhir/Practitioner/{body['id']}/_history/1").json()["qualification"][1]["code"]["text"] == (
        "Dermatology"
    )


def test_two_practitioners_may_carry_the_same_npi(client: TestClient, clinic: dict[str, Any]) -> None:
    first = created(client, rich_practitioner())
    other = {"resourceType": "Practitioner", "name": [{"family": "Other", "given": ["Olga"]}],
             "identifier": [{"system": NPI_SYSTEM, "value": "1245319599"}]}  # fmt: skip
    second = held_as_sent(client, other)
    found = client.get("/fhir/Practitioner", params={"identifier": f"{NPI_SYSTEM}|1245319599"}).json()
    assert sorted(e["resource"]["id"] for e in found["entry"]) == sorted([first["id"], second["id"]])


def test_a_name_longer_than_the_column_is_kept_and_found(
    client: TestClient, clinic: dict[str, Any], database: Database
) -> None:
    long_name = {"resourceType": "Practitioner", "name": [{"family": "N" * 101, "given": ["Olga"]}]}
    served = held_as_sent(client, long_name)
    assert columns_of_row(database, PractitionerMapping, served["id"], "family_name", "given_name") == (None, "Olga")
    found = client.get("/fhir/Practitioner", params={"family": "N" * 101}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [served["id"]]


@pytest.mark.parametrize("name", [[{"family": "Solo"}], None])
def test_a_practitioner_without_a_given_name_or_any_name_is_accepted(
    client: TestClient, clinic: dict[str, Any], name: Any
) -> None:
    sent = {"resourceType": "Practitioner", **({"name": name} if name else {})}
    held_as_sent(client, sent)


def test_a_new_practitioner_belongs_to_the_only_clinic(
    client: TestClient, clinic: dict[str, Any], database: Database
) -> None:
    body = created(client, {"resourceType": "Practitioner", "name": [{"family": "Hart", "given": ["Amelia"]}]})
    with database.read() as session:
        clinic_id = session.scalars(select(Organization.id).where(Organization.fhir_id == clinic["id"])).one()
    assert stored(database, body["id"]).organization_id == clinic_id
    assert "active" not in body  # absent means active: nothing is added


def test_a_new_practitioner_needs_a_clinic_when_there_are_several(client: TestClient, clinic: dict[str, Any]) -> None:
    make_clinic(client, "Second Clinic")
    resource = {"resourceType": "Practitioner", "name": [{"family": "Hart", "given": ["Amelia"]}]}
    response = client.post("/fhir/Practitioner", json=resource)
    assert response.status_code == 422
    issue = issue_of(response)
    assert issue["code"] == "processing"
    assert "which clinic" in issue["diagnostics"]
