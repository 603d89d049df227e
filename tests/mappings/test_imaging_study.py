"""imaging_studies <-> ImagingStudy (http://hl7.org/fhir/R4/imagingstudy.html)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.db import ImagingStudy
from fhir_server.db.engine import Database
from fhir_server.db.vocab import IMAGING_STUDY_STATUSES
from fhir_server.settings import load_settings
from mappings.imaging_study import ImagingStudyMapping
from tests.clinics import make_clinic
from tests.mappings.mapping_support import (
    build_row,
    columns_of,
    golden_names,
    load,
    official_codes,
    r4_issues,
    references_read,
    without_meta,
)
from tests.mappings.roundtrip_support import columns_of_row, held_as_sent

MAPPING = ImagingStudyMapping
NAMES = golden_names("imaging_study")
UID_EXPRESSION = "ImagingStudy.identifier.where(system='urn:dicom:uid').value"


@pytest.mark.parametrize("name", NAMES)
def test_golden_row_is_served_as_its_resource(name: str) -> None:
    resource = MAPPING.to_fhir(build_row(MAPPING, load(name, "row")))
    assert resource == load(name, "fhir")
    assert r4_issues(resource) == []


@pytest.mark.parametrize("name", NAMES)
def test_golden_resource_is_held_as_its_row(name: str) -> None:
    row, resource = load(name, "row"), load(name, "fhir")
    assert MAPPING.from_fhir(resource).columns == columns_of(MAPPING, row)
    assert references_read(MAPPING, resource) == row["references"]


def test_the_status_column_holds_exactly_the_fhir_imaging_study_statuses() -> None:
    assert set(IMAGING_STUDY_STATUSES) == official_codes("http://hl7.org/fhir/imagingstudy-status")


def _client_row() -> Any:
    return build_row(MAPPING, load("imaging_study-client", "row"))


def test_counts_absent_from_the_resource_are_counted_from_its_series() -> None:
    resource = {k: v for k, v in load("imaging_study-client", "fhir").items() if not k.startswith("numberOf")}
    columns = MAPPING.from_fhir(resource).columns
    assert (columns["series_count"], columns["instance_count"]) == (2, 3)
    row = _client_row()
    row.extra = without_meta(resource)
    served = MAPPING.to_fhir(row)
    assert (served["numberOfSeries"], served["numberOfInstances"]) == (2, 3)


def test_an_internal_change_of_series_keeps_what_the_columns_do_not_hold() -> None:
    row = _client_row()
    series = copy.deepcopy(row.series)
    series[0]["description"] = "WHOLE BODY (corrected)"
    series[1]["instances"].append({"uid": "1.2.3.4.5", "sopClass": "1.2.840.10008.5.1.4.1.1.7", "number": 2})
    row.series = series
    served = MAPPING.to_fhir(row)["series"]
    sent = load("imaging_study-client", "fhir")["series"]
    assert served[0] == {**sent[0], "description": "WHOLE BODY (corrected)"}  # laterality, performer, titles kept
    assert served[1]["instance"] == [
        *sent[1]["instance"],
        {
            "uid": "1.2.3.4.5",
            "sopClass": {"system": "urn:ietf:rfc:3986", "code": "urn:oid:1.2.840.10008.5.1.4.1.1.7"},
            "number": 2,
        },
    ]
    assert r4_issues(MAPPING.to_fhir(row)) == []


def test_a_series_gone_from_the_column_is_gone_from_the_resource() -> None:
    row = _client_row()
    row.series = row.series[1:]
    assert [s["uid"] for s in MAPPING.to_fhir(row)["series"]] == [row.series[0]["uid"]]


def test_a_modality_change_keeps_other_systems_codings_and_known_displays() -> None:
    row = _client_row()
    row.modalities = ["NM", "CT"]
    assert MAPPING.to_fhir(row)["modality"] == [
        {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "NM", "display": "Nuclear Medicine"},
        {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"},
        {"system": "http://example.org/local-modality", "code": "BONE-SCAN"},
    ]


# --- over HTTP, on SQLite and PostgreSQL ----------------------------------------------------------------------


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        yield client


@pytest.fixture
def patient(client: TestClient) -> str:
    """The id of a Patient of the one clinic."""
    make_clinic(client, "Riverside")
    response = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Rivera"}]})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _as_sent(patient: str) -> dict[str, Any]:
    """The golden client ImagingStudy, about ``patient``, as a client sends it (no id, its own meta)."""
    resource = json.loads(
        json.dumps(load("imaging_study-client", "fhir")).replace("Patient/example-7", f"Patient/{patient}")
    )
    resource.pop("id")
    resource["meta"] = {"source": resource["meta"]["source"]}
    return dict(resource)


def _create(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/fhir/ImagingStudy", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_get_after_post_returns_what_was_sent(client: TestClient, patient: str, database: Database) -> None:
    sent = _as_sent(patient)
    created = _create(client, sent)
    read = client.get(f"/fhir/ImagingStudy/{created['id']}").json()
    assert without_meta(read) == without_meta(sent)
    assert read["meta"]["source"] == sent["meta"]["source"]
    assert r4_issues(read) == []
    with database.read() as session:
        row = session.scalars(select(ImagingStudy).where(ImagingStudy.fhir_id == created["id"])).one()
        assert row.study_instance_uid == "1.2.840.113619.2.5.1762583153.215519.978957063.78"
        assert (row.accession_number, row.modalities, row.series_count, row.instance_count) == (
            "ACC-5511",
            ["NM"],
            2,
            3,
        )


def test_an_internal_change_is_served_as_a_new_version(client: TestClient, patient: str, database: Database) -> None:
    created = _create(client, _as_sent(patient))
    with database.write() as session:
        row = session.scalars(select(ImagingStudy).where(ImagingStudy.fhir_id == created["id"])).one()
        row.status = "available"
        row.series = [{**row.series[0], "numberOfInstances": 3}, row.series[1]]
        row.instance_count = 4
    read = client.get(f"/fhir/ImagingStudy/{created['id']}").json()
    assert read["meta"]["versionId"] == "2"
    assert (read["status"], read["numberOfInstances"], read["series"][0]["numberOfInstances"]) == ("available", 4, 3)
    assert read["series"][0]["laterality"] == created["series"][0]["laterality"]
    assert r4_issues(read) == []


def _issue(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def _held(client: TestClient, database: Database, sent: dict[str, Any], *attrs: str) -> tuple[Any, ...]:
    """POST ``sent``, check it reads back as sent; the values of the row's ``attrs``."""
    served = held_as_sent(client, sent)
    return columns_of_row(database, MAPPING, served["id"], *attrs)


def test_a_study_uid_not_given_as_urn_oid_is_kept_with_the_column_empty(
    client: TestClient, patient: str, database: Database
) -> None:
    sent = _as_sent(patient)
    sent["identifier"][0]["value"] = "1.2.840.113619.2.5.1762583153.215519.978957063.78"
    assert _held(client, database, sent, "study_instance_uid") == (None,)


def test_a_study_without_study_uid_is_kept(client: TestClient, patient: str, database: Database) -> None:
    sent = _as_sent(patient)
    sent["identifier"] = sent["identifier"][1:]
    assert _held(client, database, sent, "study_instance_uid", "accession_number") == (None, "ACC-5511")


def test_a_series_uid_that_is_no_dicom_uid_is_kept_with_the_series_column_empty(
    client: TestClient, patient: str, database: Database
) -> None:
    sent = _as_sent(patient)
    sent["series"][1]["uid"] = "series-two"  # valid R4 (an id), not a DICOM UID
    assert _held(client, database, sent, "series", "series_count") == ([], sent["numberOfSeries"])


def test_a_subject_that_is_not_a_patient_is_kept_with_no_patient(
    client: TestClient, patient: str, database: Database
) -> None:
    sent = {
        **_as_sent(patient),
        "subject": {"reference": "https://registry.example.org/fhir/Group/1", "display": "Cohort 1"},
    }
    assert _held(client, database, sent, "patient_id") == (None,)


def test_a_second_study_with_the_same_uid_answers_422_naming_the_identifier(client: TestClient, patient: str) -> None:
    _create(client, _as_sent(patient))
    issue = _issue(client.post("/fhir/ImagingStudy", json=_as_sent(patient)), 422)
    assert issue["expression"] == ["ImagingStudy.identifier.where(system='urn:dicom:uid').value"]
