"""intake_forms <-> QuestionnaireResponse (http://hl7.org/fhir/R4/questionnaireresponse.html)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.db import Appointment, IntakeForm, Patient, Practitioner, ResourceHistory
from fhir_server.db.engine import Database
from fhir_server.db.vocab import INTAKE_FORM_STATUSES
from fhir_server.fhir import pipeline
from fhir_server.seed import seed_demo
from fhir_server.settings import load_settings
from mappings import terminology
from mappings.questionnaire_response import (
    APPOINTMENT_EXTENSION,
    STATUS_MAP,
    QuestionnaireResponseMapping,
    flat_answers,
)
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
from tests.mappings.roundtrip_support import held_as_sent

MAPPING = QuestionnaireResponseMapping
NAMES = golden_names("questionnaire_response")
APPOINTMENT_EXPRESSION = f"QuestionnaireResponse.extension('{APPOINTMENT_EXTENSION}').value"


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


# --- answers: the flat projection of the item tree, and an internal change merged back -----------------------


def _client_row() -> Any:
    return build_row(MAPPING, load("questionnaire_response-client", "row"))


def _items_with(**answers: Any) -> list[dict[str, Any]]:
    row = _client_row()
    row.answers = {**row.answers, **answers}
    items: list[dict[str, Any]] = MAPPING.to_fhir(row)["item"]
    return items


def _item(items: list[dict[str, Any]], link_id: str) -> dict[str, Any]:
    def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for node in nodes:
            yield node
            for answer in node.get("answer", []):
                yield from walk(answer.get("item", []))
            yield from walk(node.get("item", []))

    return next(node for node in walk(items) if node["linkId"] == link_id)


def test_answers_are_flat_by_link_id_whatever_the_nesting() -> None:
    answers = flat_answers(load("questionnaire_response-client", "fhir")["item"])
    assert answers["interest"]["code"] == "LA6569-3"  # a group's child
    assert answers["mood-since"] == "2026-10"  # the child of an answer
    assert answers["symptoms"] == ["headache", "fatigue"]  # several answers
    assert "notes" not in answers and "screening" not in answers  # nothing answered


def test_a_changed_answer_is_rewritten_and_the_rest_of_the_tree_kept() -> None:
    sent = load("questionnaire_response-client", "fhir")["item"]
    items = _items_with(**{"sleep-hours": 8})
    assert _item(items, "sleep-hours")["answer"] == [{"valueDecimal": 8}]
    assert [i for i in items if i["linkId"] != "sleep-hours"] == [i for i in sent if i["linkId"] != "sleep-hours"]


def test_a_nested_answer_changes_in_place_and_keeps_its_kind_when_it_fits() -> None:
    assert _item(_items_with(**{"mood-since": "2026-09"}), "mood-since")["answer"] == [{"valueDate": "2026-09"}]
    assert _item(_items_with(**{"mood-since": "a while"}), "mood-since")["answer"] == [{"valueString": "a while"}]


def test_an_answer_keeps_its_children_when_its_value_changes() -> None:
    mood = _item(_items_with(mood=False), "mood")
    assert mood["answer"][0]["valueBoolean"] is False
    assert mood["answer"][0]["item"][0]["linkId"] == "mood-since"


def test_a_child_answer_outlives_the_parent_answer_it_was_nested_in() -> None:
    row = _client_row()
    row.answers = {k: v for k, v in row.answers.items() if k != "mood"}
    items = MAPPING.to_fhir(row)["item"]
    assert "answer" not in _item(items, "mood")
    assert items[-1] == {"linkId": "mood-since", "answer": [{"valueString": "2026-10"}]}
    assert flat_answers(items) == row.answers


def test_true_is_not_taken_for_one() -> None:
    assert _item(_items_with(visits=True), "visits")["answer"] == [{"valueBoolean": True}]


def test_a_removed_answer_leaves_its_item_unanswered_and_a_new_one_is_appended() -> None:
    row = _client_row()
    row.answers = {**{k: v for k, v in row.answers.items() if k != "symptoms"}, "pain": {"code": "mild"}}
    items = MAPPING.to_fhir(row)["item"]
    assert _item(items, "symptoms") == {"linkId": "symptoms", "text": "Symptoms"}
    assert items[-1] == {"linkId": "pain", "answer": [{"valueCoding": {"code": "mild"}}]}
    assert flat_answers(items) == row.answers


def test_every_intake_form_status_is_served_as_a_fhir_status() -> None:
    system = terminology.target_system(STATUS_MAP)
    assert set(terminology.source_codes(STATUS_MAP)) == set(INTAKE_FORM_STATUSES)
    served = {terminology.translate(STATUS_MAP, status).code for status in INTAKE_FORM_STATUSES}
    assert served <= official_codes(system)


def test_every_fhir_status_but_entered_in_error_is_held_as_an_intake_form_status() -> None:
    system = terminology.target_system(STATUS_MAP)
    for code in official_codes(system) - {"entered-in-error"}:
        assert terminology.reverse(STATUS_MAP, system, code) in INTAKE_FORM_STATUSES
    with pytest.raises(KeyError):
        terminology.reverse(STATUS_MAP, system, "entered-in-error")


def test_a_status_of_fhir_without_intake_equivalent_is_held_as_its_nearest() -> None:
    resource = load("questionnaire_response-client", "fhir")
    assert MAPPING.from_fhir({**resource, "status": "stopped"}).columns["status"] == "pending"
    assert MAPPING.from_fhir({**resource, "status": "in-progress"}).columns["status"] == "pending"
    assert MAPPING.from_fhir({**resource, "status": "completed"}).columns["status"] == "submitted"


# --- over HTTP, on SQLite and PostgreSQL ----------------------------------------------------------------------


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    """A client whose writes ask for ``Prefer: handling=lenient``: the golden response answers a Questionnaire the
    server does not hold, which only a lenient write stores (unchecked)."""
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        client.headers["Prefer"] = "handling=lenient"
        yield client


@pytest.fixture
def patient(client: TestClient) -> str:
    """The id of a Patient of the one clinic."""
    make_clinic(client, "Riverside")
    response = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Rivera"}]})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _as_sent(patient: str) -> dict[str, Any]:
    """The golden client QuestionnaireResponse, about ``patient``, as a client sends it (no id, its own meta)."""
    resource = json.loads(json.dumps(load("questionnaire_response-client", "fhir")).replace("child-7", patient))
    resource.pop("id")
    resource["meta"] = {"security": resource["meta"]["security"]}
    return dict(resource)


def _create(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/fhir/QuestionnaireResponse", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _row(database: Database, fhir_id: str) -> IntakeForm:
    with database.read() as session:
        return session.scalars(select(IntakeForm).where(IntakeForm.fhir_id == fhir_id)).one()


def test_get_after_post_returns_what_was_sent(client: TestClient, patient: str, database: Database) -> None:
    sent = _as_sent(patient)
    created = _create(client, sent)
    read = client.get(f"/fhir/QuestionnaireResponse/{created['id']}").json()
    assert without_meta(read) == without_meta(sent)
    assert read["meta"]["security"] == sent["meta"]["security"]
    assert r4_issues(read) == []
    row = _row(database, created["id"])
    assert (row.status, row.submitted_at) == ("reviewed", datetime(2026, 11, 20, 23, 45, tzinfo=UTC))
    assert row.answers == load("questionnaire_response-client", "row")["columns"]["answers"]


def test_an_internal_change_of_answers_is_served_as_a_new_version(
    client: TestClient, patient: str, database: Database
) -> None:
    created = _create(client, _as_sent(patient))
    with database.write() as session:
        row = session.scalars(select(IntakeForm).where(IntakeForm.fhir_id == created["id"])).one()
        row.answers = {**row.answers, "visits": 4}
        row.status = "submitted"
    read = client.get(f"/fhir/QuestionnaireResponse/{created['id']}").json()
    assert read["meta"]["versionId"] == "2"
    assert read["status"] == "completed"
    assert _item(read["item"], "visits")["answer"] == [{"valueInteger": 4}]
    assert _item(read["item"], "interest") == _item(created["item"], "interest")
    assert r4_issues(read) == []


def test_a_stopped_response_is_pending_to_the_clinic_and_served_as_stopped(
    client: TestClient, patient: str, database: Database
) -> None:
    created = _create(client, {**_as_sent(patient), "status": "stopped"})
    assert created["status"] == "stopped"
    assert _row(database, created["id"]).status == "pending"


def _issue(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def _found(client: TestClient, **params: str) -> list[str]:
    bundle = client.get("/fhir/QuestionnaireResponse", params=params).json()
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def test_entered_in_error_is_kept_with_no_intake_status_and_found_by_its_status(
    client: TestClient, patient: str, database: Database
) -> None:
    served = held_as_sent(client, {**_as_sent(patient), "status": "entered-in-error"})
    assert _row(database, served["id"]).status is None
    assert _found(client, status="entered-in-error") == [served["id"]]
    assert _found(client, status="amended") == []


def test_a_form_entered_in_error_no_longer_completes_its_appointments_intake(
    client: TestClient, patient: str, database: Database
) -> None:
    appointment = _appointment(database, patient)
    created = _create(client, _for_appointment(_as_sent(patient), appointment))
    withdrawn = {**created, "status": "entered-in-error"}
    response = client.put(f"/fhir/QuestionnaireResponse/{created['id']}", json=withdrawn)
    assert response.status_code == 200, response.text
    with database.read() as session:
        row = session.scalars(select(Appointment).where(Appointment.fhir_id == appointment)).one()
        assert row.intake_status == "missing"


@pytest.mark.parametrize(
    "subject",
    [None, {"reference": "https://registry.example.org/fhir/Group/1"}, {"display": "A walk-in visitor"}],
)
def test_a_response_without_a_patient_of_this_server_as_subject_is_kept(
    client: TestClient, patient: str, database: Database, subject: dict[str, Any] | None
) -> None:
    sent = {k: v for k, v in _as_sent(patient).items() if k not in ("subject", "source")}
    served = held_as_sent(client, {**sent, "subject": subject} if subject else sent)
    assert _row(database, served["id"]).patient_id is None


def test_a_response_without_questionnaire_is_kept_and_found_by_its_subject(
    client: TestClient, patient: str, database: Database
) -> None:
    sent = {k: v for k, v in _as_sent(patient).items() if k != "questionnaire"}
    served = held_as_sent(client, sent)
    assert _row(database, served["id"]).questionnaire is None
    assert _found(client, subject=f"Patient/{patient}") == [served["id"]]


def _appointment(database: Database, patient_fhir_id: str) -> str:
    """The FHIR id of a new appointment of the patient (made inside the server)."""
    with database.write() as session:
        patient = session.scalars(select(Patient).where(Patient.fhir_id == patient_fhir_id)).one()
        doctor = Practitioner(organization_id=patient.organization_id, given_name="Amelia", family_name="Hart")
        session.add(doctor)
        pipeline.flush(session)
        start = datetime(2026, 12, 1, 14, tzinfo=UTC)
        appointment = Appointment(
            organization_id=patient.organization_id,
            patient_id=patient.id,
            practitioner_id=doctor.id,
            start_at=start,
            end_at=start + timedelta(minutes=30),
            duration_minutes=30,
        )
        session.add(appointment)
        pipeline.flush(session)
        return appointment.fhir_id


def _for_appointment(resource: dict[str, Any], appointment: str) -> dict[str, Any]:
    extension = {"url": APPOINTMENT_EXTENSION, "valueReference": {"reference": f"Appointment/{appointment}"}}
    return {**resource, "extension": [extension]}


def test_the_appointment_extension_links_the_form_to_its_visit(
    client: TestClient, patient: str, database: Database
) -> None:
    appointment = _appointment(database, patient)
    sent = _for_appointment(_as_sent(patient), appointment)
    created = _create(client, sent)
    assert created["extension"] == sent["extension"]
    row = _row(database, created["id"])
    with database.read() as session:
        linked = session.get(Appointment, row.appointment_id)
        assert linked is not None and linked.fhir_id == appointment


def test_an_appointment_of_another_patient_is_refused(client: TestClient, patient: str, database: Database) -> None:
    other = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Other"}]}).json()["id"]
    sent = _for_appointment(_as_sent(patient), _appointment(database, other))
    issue = _issue(client.post("/fhir/QuestionnaireResponse", json=sent))
    assert issue["expression"] == [APPOINTMENT_EXPRESSION]


def test_every_seeded_intake_form_version_is_a_valid_questionnaire_response(database: Database) -> None:
    with database.write() as session:
        result = seed_demo(session, today=date(2026, 11, 23))
    assert result.intake_forms > 0
    with database.read() as session:
        versions = session.scalars(
            select(ResourceHistory).where(ResourceHistory.resource_type == "QuestionnaireResponse")
        ).all()
        forms = session.scalars(select(IntakeForm)).all()
        assert len({v.resource_id for v in versions}) == len(forms) == result.intake_forms
        for version in versions:
            resource = copy.deepcopy(version.resource)
            assert resource is not None
            assert r4_issues(resource) == [], version.resource_id
            assert resource["questionnaire"] == "http://clinic.example.org/fhir/Questionnaire/clinic-intake"
        submitted = next(f for f in forms if f.status == "submitted")
        served = next(v.resource for v in versions if v.resource_id == submitted.fhir_id)
        assert served is not None and flat_answers(served["item"]) == submitted.answers
