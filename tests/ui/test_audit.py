"""Every UI page view that reads clinical data is in the audit trail as the API's request would be (issue 16): the
same interaction, user, entities, query and outcome, refusals too, read back through the FHIR AuditEvent API as a
compliance officer would; ``source.type`` tells a UI view (3, Web Server) from an API call (4, Application Server).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.db import User
from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, Clinic, token_for
from tests.ui.conftest import Records, log_in

pytestmark = pytest.mark.auth_enabled
DOC, PATIENT = "doc@example.org", "pat@example.org"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
UI_SOURCE = {"system": SOURCE_TYPE, "code": "3", "display": "Web Server"}


def _officer(database: Database, clinic: Clinic) -> dict[str, str]:
    with database.write() as session:
        session.add(
            User(
                organization_id=clinic.organization_id,
                email="audit@example.org",
                full_name="Audit Officer",
                password_hash="not-a-login",
                role="compliance_officer",
            )
        )
    return {"Authorization": f"Bearer {token_for(database, clinic, 'user/*.rs', email='audit@example.org')}"}


def _events(client: TestClient, officer: dict[str, str], query: str) -> list[dict[str, Any]]:
    response = client.get(f"{BASE}/AuditEvent?{query}&_count=1000", headers=officer)
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def _ui(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["source"].get("type") == [UI_SOURCE]]


def _what(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [entity.get("what") for entity in event.get("entity", [])]


def _one(events: list[dict[str, Any]], code: str) -> dict[str, Any]:
    found = [e for e in events if e["subtype"][0]["code"] == code]
    assert len(found) == 1, [e["subtype"] for e in events]
    return found[0]


def test_a_physicians_ui_views_are_audited_like_api_reads(
    client: TestClient, database: Database, clinic: Clinic, records: Records
) -> None:
    assert client.get("/ui/Observation", follow_redirects=False).status_code == 303  # no login: nothing was shown
    log_in(client, DOC)
    assert client.get(f"/ui/Observation/{records.own}").status_code == 200
    assert client.get("/ui/Patient/pat-1/timeline").status_code == 200
    assert client.get("/ui/Observation?subject=Patient/pat-1").status_code == 200
    assert client.get("/ui/static/ui.css").status_code == 200  # an asset, no data: not audited
    officer = _officer(database, clinic)
    views = _ui(_events(client, officer, "agent=Practitioner/doc-1"))
    assert sorted(e["subtype"][0]["code"] for e in views) == ["operation", "read", "search-type"]
    read = _one(views, "read")
    assert (
        read["outcome"] == "0"
        and read["action"] == "R"
        and read["agent"][0]["who"] == {"reference": "Practitioner/doc-1"}
    )
    assert {"reference": f"Observation/{records.own}"} in _what(read)
    everything = _one(views, "operation")
    assert everything["subtype"][0]["display"] == "$everything"
    assert {"reference": "Patient/pat-1"} in _what(everything)
    search = _one(views, "search-type")
    searched = next(e for e in search["entity"] if e.get("what") == {"display": "Observation"})
    assert base64.b64decode(searched["query"]).decode() == "subject=Patient/pat-1"
    assert [e["id"] for e in _ui(_events(client, officer, "subtype=search-type"))] == [search["id"]]
    # the API's read of the same resource: the same shape but for the source type
    api = {"Authorization": f"Bearer {token_for(database, clinic, 'user/*.rs')}"}
    assert client.get(f"{BASE}/Observation/{records.own}", headers=api).status_code == 200
    api_reads = [e for e in _events(client, officer, "subtype=read") if e not in views]
    api_read = next(e for e in api_reads if {"reference": f"Observation/{records.own}"} in _what(e))
    assert client.get(f"{BASE}/Observation?subject=Patient/pat-1", headers=api).status_code == 200
    api_searches = [e for e in _events(client, officer, "subtype=search-type") if e not in views]
    api_query = next(
        e["query"] for s in api_searches for e in s["entity"] if e.get("what") == {"display": "Observation"}
    )
    assert base64.b64decode(api_query).decode() == "subject=Patient/pat-1"  # the API's search keeps its query too
    assert api_read["source"]["type"][0]["code"] == "4"
    assert (api_read["type"], api_read["subtype"], api_read["agent"][0]["who"]) == (
        read["type"],
        read["subtype"],
        read["agent"][0]["who"],
    )


def test_a_portal_patients_refused_ui_views_are_audited(
    client: TestClient, database: Database, clinic: Clinic, records: Records
) -> None:
    log_in(client, PATIENT)
    assert client.get(f"/ui/Observation/{records.other}").status_code == 404
    assert client.get("/ui/Patient/pat-2/timeline").status_code == 404
    officer = _officer(database, clinic)
    refused = [e for e in _ui(_events(client, officer, "date=ge2000-01-01")) if e["outcome"] == "4"]
    read = _one(refused, "read")
    assert {"reference": f"Observation/{records.other}"} in _what(read) and read["outcomeDesc"] == "404"
    everything = _one(refused, "operation")
    assert {"reference": "Patient/pat-2"} in _what(everything) and everything["outcomeDesc"] == "404"


def test_a_view_of_an_overlong_type_is_still_audited(
    client: TestClient, database: Database, clinic: Clinic, records: Records
) -> None:
    log_in(client, DOC)
    long_type = "Observation" * 20  # longer than the column: the row is cut to fit, never lost
    assert client.get(f"/ui/{long_type}").status_code == 404
    officer = _officer(database, clinic)
    refused = [e for e in _ui(_events(client, officer, "subtype=search-type")) if e["outcome"] == "4"]
    assert len(refused) == 1 and {"display": long_type[:64]} in _what(refused[0])
