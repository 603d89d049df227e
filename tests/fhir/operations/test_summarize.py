"""$summarize: the AI summary of an intake QuestionnaireResponse, through the real ``openai`` client and a local
OpenAI-compatible server (tests.ai.openai_server); no call leaves the machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.auth.clients import register_client
from fhir_server.auth.grants import create_grant, issue_access_token
from fhir_server.db import AiIntakeSummary, AuditEvent, Organization, Patient
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings
from tests.ai.openai_server import CANNED, FakeOpenAI, Reply
from tests.intake.support import Clinic, complete_items, created, issue, item, response

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "http://clinic.example.org/mrn", "value": "MRN-77-3141"}],
    "name": [{"family": "Okonkwo-Lindqvist", "given": ["Amara"]}],
    "telecom": [{"system": "phone", "value": "+1 555 0199"}, {"system": "email", "value": "amara.ok@mail.example.org"}],
    "birthDate": "1984-02-29",
    "address": [{"line": ["7 Harbor Rd"], "city": "Springfield", "postalCode": "01109"}],
}
SECRETS = ("Amara", "Okonkwo", "Lindqvist", "MRN-77-3141", "0199", "amara.ok", "1984-02-29", "02/29/1984", "Harbor")


@dataclass
class Setup:
    client: TestClient
    model: FakeOpenAI
    clinic: Clinic
    response_id: str


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.running() as server:
        yield server


def app_for(database_url: str, model: FakeOpenAI | None, **settings: Any) -> TestClient:
    values: dict[str, Any] = {"database_url": database_url}
    if model is not None:
        values |= {"openai_api_key": "test-key", "openai_base_url": model.url, "openai_model": "test-model"}
        values |= {"openai_timeout": 2.0, "openai_max_retries": 2, "openai_retry_backoff": 0.0}
    return TestClient(create_app(load_settings(**(values | settings))))


def personal_items() -> list[dict[str, Any]]:
    """A completed form whose free text names the patient and gives their contact details."""
    items = complete_items("Cough for three weeks; Amara Okonkwo-Lindqvist, call +1 555 0199")
    items.append(item("additional-notes", {"valueString": "Born 02/29/1984, write to amara.ok@mail.example.org"}))
    return items


@pytest.fixture
def setup(database_url: str, model: FakeOpenAI) -> Iterator[Setup]:
    with app_for(database_url, model) as client:
        clinic = Clinic.make(client, PATIENT)
        form = created(client, response(clinic, items=personal_items(), appointment=clinic.appointment))
        yield Setup(client, model, clinic, form["id"])


def url(setup: Setup, query: str = "") -> str:
    return f"/fhir/QuestionnaireResponse/{setup.response_id}/$summarize{query}"


def values(parameters: dict[str, Any]) -> dict[str, list[Any]]:
    """name -> the values of a Parameters resource."""
    assert parameters["resourceType"] == "Parameters"
    found: dict[str, list[Any]] = {}
    for parameter in parameters["parameter"]:
        value = next(v for k, v in parameter.items() if k.startswith("value"))
        found.setdefault(parameter["name"], []).append(value)
    return found


def audit_events(database: Database) -> list[AuditEvent]:
    with database.read() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "ai-summary")))


# --- the summary ------------------------------------------------------------------------------------------------


def test_post_asks_the_model_and_returns_the_summary_as_parameters(setup: Setup) -> None:
    answered = setup.client.post(url(setup))
    assert answered.status_code == 200, answered.text
    found = values(answered.json())
    assert found["questionnaireResponse"] == [{"reference": f"QuestionnaireResponse/{setup.response_id}"}]
    assert (found["status"], found["model"], found["outdated"]) == (["generated"], ["test-model"], [False])
    assert found["summary"] == [CANNED["summary"]]
    assert found["patientConcern"] == CANNED["patient_concerns"]
    assert found["medication"] == CANNED["medications"]
    assert found["allergy"] == CANNED["allergies"]
    assert found["keyNote"] == CANNED["key_notes"]
    assert len(setup.model.requests) == 1


def test_the_summary_is_stored(setup: Setup, database: Database) -> None:
    setup.client.post(url(setup))
    with database.read() as session:
        (row,) = session.scalars(select(AiIntakeSummary)).all()
        assert (row.status, row.model, row.summary) == ("generated", "test-model", CANNED["summary"])
        assert (row.medications, row.allergies, row.key_notes) == (
            CANNED["medications"],
            CANNED["allergies"],
            CANNED["key_notes"],
        )


def test_only_the_answers_reach_the_model(setup: Setup) -> None:
    setup.client.post(url(setup))
    (request,) = setup.model.requests
    sent = json.dumps(request.body, ensure_ascii=False)
    for secret in (*SECRETS, setup.clinic.patient, "Patient/", "subject", "authored", "2026-11-30"):
        assert secret not in sent, secret
    answers = json.loads(request.body["messages"][1]["content"])
    assert {
        "question": "Do you smoke or use tobacco?",
        "answers": ["Never smoked tobacco"],
        "section": "Lifestyle",
    } in (answers)


def test_get_returns_the_stored_summary_without_calling_the_model(setup: Setup) -> None:
    posted = setup.client.post(url(setup)).json()
    got = setup.client.get(url(setup))
    assert got.status_code == 200
    assert got.json() == posted
    assert len(setup.model.requests) == 1


def test_post_again_returns_the_stored_summary_and_refresh_asks_again(setup: Setup) -> None:
    setup.client.post(url(setup))
    assert setup.client.post(url(setup)).status_code == 200
    assert len(setup.model.requests) == 1
    setup.model.script(Reply.summary(summary="Second opinion."))
    refreshed = values(setup.client.post(url(setup, "?refresh=true")).json())
    assert refreshed["summary"] == ["Second opinion."]
    setup.model.script(Reply.summary(summary="Third."))
    body = {"resourceType": "Parameters", "parameter": [{"name": "refresh", "valueBoolean": True}]}
    assert values(setup.client.post(url(setup), json=body).json())["summary"] == ["Third."]
    assert len(setup.model.requests) == 3
    assert values(setup.client.get(url(setup)).json())["summary"] == ["Third."]


def test_a_summary_is_outdated_once_the_response_changes(setup: Setup) -> None:
    setup.client.post(url(setup))
    current = setup.client.get(f"/fhir/QuestionnaireResponse/{setup.response_id}").json()
    current["item"][0]["answer"] = [{"valueString": "Cough, now with fever"}]
    assert setup.client.put(f"/fhir/QuestionnaireResponse/{setup.response_id}", json=current).status_code == 200
    assert values(setup.client.get(url(setup)).json())["outdated"] == [True]


def test_every_model_call_is_audited_without_its_content(setup: Setup, database: Database) -> None:
    setup.client.post(url(setup))
    setup.client.get(url(setup))
    (event,) = audit_events(database)
    with database.read() as session:
        patient = session.scalars(select(Patient).where(Patient.fhir_id == setup.clinic.patient)).one()
        clinic = session.scalars(select(Organization)).one()
    assert (event.resource_type, event.resource_id) == ("QuestionnaireResponse", setup.response_id)
    assert (event.patient_id, event.organization_id, event.outcome) == (patient.id, clinic.id, "success")
    assert event.detail == {"model": "test-model", "attempts": 1}
    assert event.request_id
    recorded = json.dumps([event.detail, event.outcome_detail])
    assert CANNED["summary"] not in recorded and "Cough" not in recorded


# --- failures -----------------------------------------------------------------------------------------------------


def test_a_model_that_keeps_timing_out_answers_504_and_is_recorded_as_failed(
    database_url: str, model: FakeOpenAI, database: Database
) -> None:
    model.default = Reply(delay=1.0)
    with app_for(database_url, model, openai_timeout=0.3, openai_max_retries=1) as client:
        clinic = Clinic.make(client)
        form = created(client, response(clinic))
        found = issue(client.post(f"/fhir/QuestionnaireResponse/{form['id']}/$summarize"), 504)
        assert found["code"] == "timeout"
        assert values(client.get(f"/fhir/QuestionnaireResponse/{form['id']}/$summarize").json())["status"] == ["failed"]
    (event,) = audit_events(database)
    assert event.outcome == "serious-failure"
    assert event.detail == {"model": "test-model", "attempts": 2, "failure": "timeout"}


@pytest.mark.parametrize(
    ("reply", "code", "calls"),
    [
        (Reply.error(429), "transient", 3),
        (Reply.error(500), "transient", 3),
        (Reply.content("not a summary"), "transient", 3),
        (Reply.error(401), "exception", 1),
    ],
    ids=["throttled", "server-error", "malformed", "rejected"],
)
def test_a_model_that_keeps_failing_answers_502(setup: Setup, reply: Reply, code: str, calls: int) -> None:
    setup.model.default = reply
    found = issue(setup.client.post(url(setup)), 502)
    assert found["code"] == code
    assert "recorded" in found["diagnostics"]
    assert len(setup.model.requests) == calls


def test_a_failed_refresh_keeps_the_summary_it_could_not_replace(setup: Setup) -> None:
    setup.client.post(url(setup))
    setup.model.default = Reply.error(503)
    issue(setup.client.post(url(setup, "?refresh=true")), 502)
    kept = values(setup.client.get(url(setup)).json())
    assert (kept["status"], kept["summary"]) == (["failed"], [CANNED["summary"]])


def test_transient_failures_then_success_are_one_audited_call(setup: Setup, database: Database) -> None:
    setup.model.script(Reply.error(429), Reply.content("{"))
    assert setup.client.post(url(setup)).status_code == 200
    (event,) = audit_events(database)
    assert (event.outcome, event.detail) == ("success", {"model": "test-model", "attempts": 3})


# --- requests the operation refuses -------------------------------------------------------------------------------


def test_without_an_api_key_the_operation_says_how_to_enable_it(database_url: str) -> None:
    with app_for(database_url, None) as client:
        clinic = Clinic.make(client)
        form = created(client, response(clinic))
        for method in ("POST", "GET"):
            found = issue(client.request(method, f"/fhir/QuestionnaireResponse/{form['id']}/$summarize"), 501)
            assert found["code"] == "not-supported"
            assert "FHIR_SERVER_OPENAI_API_KEY" in found["diagnostics"]


def test_get_before_any_summary_is_404(setup: Setup) -> None:
    assert "POST" in issue(setup.client.get(url(setup)), 404)["diagnostics"]


def test_refresh_is_for_post_and_a_boolean(setup: Setup) -> None:
    assert issue(setup.client.get(url(setup, "?refresh=true")), 400)["expression"] == ["refresh"]
    assert issue(setup.client.post(url(setup, "?refresh=maybe")), 400)["expression"] == ["refresh"]
    wrong = {"resourceType": "Parameters", "parameter": [{"name": "mode", "valueCode": "x"}]}
    assert issue(setup.client.post(url(setup), json=wrong), 400)["expression"] == ["Parameters.parameter[0]"]
    assert setup.model.requests == []


def test_unknown_deleted_and_empty_responses(setup: Setup) -> None:
    client = setup.client
    assert issue(client.post("/fhir/QuestionnaireResponse/nope/$summarize"), 404)["code"] == "not-found"
    empty = created(client, response(setup.clinic, status="in-progress", items=[]))
    found = issue(client.post(f"/fhir/QuestionnaireResponse/{empty['id']}/$summarize"), 422)
    assert found["expression"] == ["QuestionnaireResponse.item"]
    assert client.delete(f"/fhir/QuestionnaireResponse/{empty['id']}").status_code in (200, 204)
    assert issue(client.post(f"/fhir/QuestionnaireResponse/{empty['id']}/$summarize"), 410)["code"] == "deleted"
    assert setup.model.requests == []


# --- access -------------------------------------------------------------------------------------------------------


def token(database: Database, scope: str, patient: str | None = None) -> str:
    """A live access token of a new backend client of the clinic, granted ``scope``."""
    with database.write() as session:
        clinic = session.scalars(select(Organization)).one()
        registered = register_client(
            session,
            name="Summary reader",
            client_type="confidential-symmetric",
            organization=clinic,
            scope=scope,
            redirect_uris=["https://app.example.org/callback"],
        )
        grant = create_grant(
            session,
            client_id=registered.client.client_id,
            organization_id=clinic.id,
            grant_type="client_credentials",
            scope=scope,
            context={"patient": patient} if patient else {},
        )
        return issue_access_token(session, grant, scope, 300)[0]


def test_post_needs_update_and_get_read_rights(setup: Setup, database_url: str, database: Database) -> None:
    setup.client.post(url(setup))
    reader = {"Authorization": f"Bearer {token(database, 'system/QuestionnaireResponse.rs')}"}
    with app_for(database_url, setup.model, auth="enabled") as secured:
        assert issue(secured.post(url(setup), headers=reader), 403)["code"] == "forbidden"
        assert secured.get(url(setup), headers=reader).status_code == 200
        writer = {"Authorization": f"Bearer {token(database, 'system/QuestionnaireResponse.cruds')}"}
        assert secured.post(url(setup), headers=writer).status_code == 200
        assert issue(secured.get(url(setup)), 401)["code"] == "login"


def test_a_patient_sees_only_the_summaries_of_their_own_responses(
    setup: Setup, database_url: str, database: Database
) -> None:
    setup.client.post(url(setup))
    other = created(setup.client, {"resourceType": "Patient", "name": [{"family": "Other"}]})["id"]
    mine = {"Authorization": f"Bearer {token(database, 'patient/QuestionnaireResponse.rs', setup.clinic.patient)}"}
    theirs = {"Authorization": f"Bearer {token(database, 'patient/QuestionnaireResponse.rs', other)}"}
    with app_for(database_url, setup.model, auth="enabled") as secured:
        assert secured.get(url(setup), headers=mine).status_code == 200
        assert issue(secured.get(url(setup), headers=theirs), 404)["code"] == "not-found"


# --- conformance --------------------------------------------------------------------------------------------------


def test_the_capability_statement_lists_the_operation_and_its_definition_is_served(setup: Setup) -> None:
    statement = setup.client.get("/fhir/metadata").json()
    (resource,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "QuestionnaireResponse"]
    (operation,) = [o for o in resource.get("operation", []) if o["name"] == "summarize"]
    definition = setup.client.get("/fhir/OperationDefinition/summarize").json()
    assert operation["definition"] == definition["url"]
    assert (definition["code"], definition["resource"], definition["instance"]) == (
        "summarize",
        ["QuestionnaireResponse"],
        True,
    )
    outputs = {p["name"] for p in definition["parameter"] if p["use"] == "out"}
    assert {"summary", "patientConcern", "medication", "allergy", "keyNote", "status"} <= outputs
