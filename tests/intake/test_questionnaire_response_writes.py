"""Writing a QuestionnaireResponse checks it against its Questionnaire: 422 naming the item, nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.app_context import context_of
from fhir_server.db import Organization, Questionnaire
from fhir_server.demo.intake import intake_questionnaire
from fhir_server.settings import load_settings
from mappings.questionnaire import QuestionnaireMapping
from tests.clinics import make_clinic
from tests.intake.support import QUESTIONNAIRE_URL, Clinic, complete_items, created, issue, item, response


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        yield client


@pytest.fixture
def clinic(client: TestClient) -> Clinic:
    return Clinic.make(client)


def count(client: TestClient) -> int:
    bundle = client.get("/fhir/QuestionnaireResponse", params={"_summary": "count"}).json()
    return int(bundle["total"])


def test_a_complete_response_is_stored(client: TestClient, clinic: Clinic) -> None:
    body = created(client, response(clinic))
    assert body["status"] == "completed"
    assert client.get(f"/fhir/QuestionnaireResponse/{body['id']}").json()["item"] == complete_items()


def test_a_completed_response_without_a_required_item_is_refused_and_not_stored(
    client: TestClient, clinic: Clinic
) -> None:
    items = [i for i in complete_items() if i["linkId"] != "reason-for-visit"]
    found = issue(client.post("/fhir/QuestionnaireResponse", json=response(clinic, items=items)))
    assert found["code"] == "required"
    assert found["expression"] == ["QuestionnaireResponse.item.where(linkId='reason-for-visit')"]
    assert count(client) == 0


def test_an_in_progress_response_may_lack_required_items(client: TestClient, clinic: Clinic) -> None:
    body = created(client, response(clinic, status="in-progress", items=[item("reason-for-visit")]))
    assert body["status"] == "in-progress"


def test_an_answer_of_the_wrong_type_is_named(client: TestClient, clinic: Clinic) -> None:
    items = complete_items()
    items[0] = item("reason-for-visit", {"valueInteger": 42})
    found = issue(client.post("/fhir/QuestionnaireResponse", json=response(clinic, items=items)))
    assert (found["code"], found["expression"]) == ("value", ["QuestionnaireResponse.item[0].answer[0]"])
    assert "takes valueString" in found["diagnostics"]


def test_every_problem_is_reported_at_once(client: TestClient, clinic: Clinic) -> None:
    items = [item("reason-for-visit", {"valueInteger": 42}), item("not-on-the-form", {"valueString": "x"})]
    outcome = client.post("/fhir/QuestionnaireResponse", json=response(clinic, items=items))
    assert outcome.status_code == 422
    found = [(i["code"], i["expression"][0]) for i in outcome.json()["issue"]]
    assert found[:2] == [
        ("value", "QuestionnaireResponse.item[0].answer[0]"),
        ("structure", "QuestionnaireResponse.item[1]"),
    ]
    missing = [linkId for linkId in ("symptoms", "medications", "allergies", "lifestyle")]
    assert found[2:] == [("required", f"QuestionnaireResponse.item.where(linkId='{link}')") for link in missing]


def test_an_update_is_checked_too_and_a_refused_one_changes_nothing(client: TestClient, clinic: Clinic) -> None:
    body = created(client, response(clinic, status="in-progress", items=[]))
    refused = client.put(f"/fhir/QuestionnaireResponse/{body['id']}", json={**body, "status": "completed"})
    assert issue(refused)["code"] == "required"
    current = client.get(f"/fhir/QuestionnaireResponse/{body['id']}").json()
    assert (current["meta"]["versionId"], current["status"]) == ("1", "in-progress")
    accepted = client.put(
        f"/fhir/QuestionnaireResponse/{body['id']}", json={**body, "status": "completed", "item": complete_items()}
    )
    assert accepted.status_code == 200, accepted.text


def test_a_disabled_question_answered_is_refused(client: TestClient, clinic: Clinic) -> None:
    items = complete_items()
    items[3] = item(
        "allergies",
        item=[
            item("has-allergies", {"valueBoolean": False}),
            item("allergy", item=[item("allergy-substance", {"valueString": "latex"})]),
        ],
    )
    found = issue(client.post("/fhir/QuestionnaireResponse", json=response(clinic, items=items)))
    assert (found["code"], found["expression"]) == ("business-rule", ["QuestionnaireResponse.item[3].item[1]"])


def test_the_questionnaire_may_be_named_with_its_version_or_as_a_reference(client: TestClient, clinic: Clinic) -> None:
    bad = [item("reason-for-visit", {"valueBoolean": True})]
    for questionnaire in (f"{QUESTIONNAIRE_URL}|1.0.0", f"Questionnaire/{clinic.questionnaire}"):
        sent = response(clinic, status="in-progress", items=bad, questionnaire=questionnaire)
        assert issue(client.post("/fhir/QuestionnaireResponse", json=sent))["code"] == "value"


UNKNOWN = ("http://example.org/Questionnaire/nope", f"{QUESTIONNAIRE_URL}|9.9")
"""Questionnaires the server does not hold: another canonical, and the clinic's own at a version it lacks."""
LENIENT = {"Prefer": "handling=lenient"}


def _writes(client: TestClient, resource: dict[str, Any], headers: dict[str, str]) -> list[Any]:
    """``resource`` sent by every write that stores a QuestionnaireResponse: create, update (create-on-update),
    conditional create and update, and as the entry of a batch and of a transaction."""
    url = "/fhir/QuestionnaireResponse"
    criteria = "identifier=http://example.org/forms|f-1"
    with_id = {**resource, "id": "form-1"}
    entry = {"resource": resource, "request": {"method": "POST", "url": "QuestionnaireResponse"}}
    return [
        client.post(url, json=resource, headers=headers),
        client.put(f"{url}/form-1", json=with_id, headers=headers),
        client.post(url, json=resource, headers={**headers, "If-None-Exist": criteria}),
        client.put(f"{url}?{criteria}", json=resource, headers=headers),
        client.post("/fhir", json={"resourceType": "Bundle", "type": "batch", "entry": [entry]}, headers=headers),
        client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": [entry]}, headers=headers),
    ]


def _status(response: Any) -> str:
    """The status a write answered: its own, or its one Bundle entry's."""
    body = response.json()
    if body.get("resourceType") == "Bundle":
        return str(body["entry"][0]["response"]["status"]).split()[0]
    return str(response.status_code)


IN_ENTRY = "Bundle.entry[0].resource"


def test_a_response_to_a_questionnaire_the_server_does_not_hold_is_refused_and_not_stored(
    client: TestClient, clinic: Clinic
) -> None:
    for questionnaire in UNKNOWN:
        resource = response(clinic, questionnaire=questionnaire)
        resource["identifier"] = {"system": "http://example.org/forms", "value": "f-1"}
        for n, answer in enumerate(_writes(client, resource, {})):
            outcome = answer.json()
            if outcome["resourceType"] == "Bundle":
                assert _status(answer) == "422", answer.text
                outcome = outcome["entry"][0]["response"]["outcome"]
            else:
                assert answer.status_code == 422, answer.text
            issue = outcome["issue"][0]
            in_bundle = n >= 4  # the batch's and the transaction's entry is named where it sits
            assert issue["expression"] == [f"{IN_ENTRY if in_bundle else 'QuestionnaireResponse'}.questionnaire"]
            assert questionnaire in issue["diagnostics"]
    assert count(client) == 0


def test_with_lenient_handling_such_a_response_is_stored_unchecked(client: TestClient, clinic: Clinic) -> None:
    items = [item("anything", {"valueString": "goes"})]
    for questionnaire in UNKNOWN:
        resource = response(clinic, items=items, questionnaire=questionnaire)
        resource["identifier"] = {"system": "http://example.org/forms", "value": questionnaire}
        body = client.post("/fhir/QuestionnaireResponse", json=resource, headers=LENIENT).json()
        assert body["item"] == items
        assert client.get(f"/fhir/QuestionnaireResponse/{body['id']}").json()["item"] == items
    assert [_status(a) for a in _writes(client, response(clinic, items=items, questionnaire=UNKNOWN[0]), LENIENT)] == [
        "201",
        "201",
        "201",
        "201",
        "201",
        "201",
    ]


def test_validate_refuses_an_unknown_questionnaire_or_warns_if_lenient(client: TestClient, clinic: Clinic) -> None:
    resource = response(clinic, questionnaire=UNKNOWN[0])
    for headers, severity in (({}, "error"), (LENIENT, "warning")):
        outcome = client.post("/fhir/QuestionnaireResponse/$validate", json=resource, headers=headers)
        assert outcome.status_code == 200, outcome.text
        assert [(i["severity"], i["expression"]) for i in outcome.json()["issue"]] == [
            (severity, ["QuestionnaireResponse.questionnaire"])
        ]
    assert count(client) == 0


def test_a_questionnaire_of_another_clinic_is_not_known(client: TestClient, clinic: Clinic) -> None:
    url = "http://lakeside.example.org/Questionnaire/intake"
    database = context_of(client.app).database  # type: ignore[arg-type]
    other = make_clinic(client, "Lakeside Clinic")
    with database.write() as session:  # a Questionnaire of the other clinic, written as an operator does
        owner = session.scalars(select(Organization).where(Organization.fhir_id == other["id"])).one()
        row = Questionnaire(fhir_id="lakeside-intake", organization_id=owner.id)
        resource = {**intake_questionnaire(), "url": url}
        QuestionnaireMapping.apply(row, QuestionnaireMapping.from_fhir(resource), session)
        session.add(row)
    sent = client.post("/fhir/QuestionnaireResponse", json=response(clinic, questionnaire=url))
    assert issue(sent)["expression"] == ["QuestionnaireResponse.questionnaire"]
    assert count(client) == 0


def test_validate_lists_the_issues_without_storing(client: TestClient, clinic: Clinic) -> None:
    items = [i for i in complete_items() if i["linkId"] != "lifestyle"]
    outcome = client.post("/fhir/QuestionnaireResponse/$validate", json=response(clinic, items=items))
    assert outcome.status_code == 200
    issues = outcome.json()["issue"]
    assert [(i["code"], i["expression"]) for i in issues] == [
        ("required", ["QuestionnaireResponse.item.where(linkId='lifestyle')"])
    ]
    assert count(client) == 0
