"""The patient picker (authorization flow) and the EHR launcher: searched by name, MRN and birth date over the
patients the user may pick, at most a page of them with "refine your search" beyond, nobody preselected, and a
submission without a patient refused."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.auth.patient_picker import PICKER_LIMIT
from fhir_server.db import AuthorizationRequest, Organization, Patient
from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, PASSWORD, Browser, Clinic, _row, authorize_params, form_value, pkce_pair

SCOPE = "launch/patient patient/*.rs"


def _picker(browser: Browser, clinic: Clinic) -> Any:
    """A physician's authorization request, logged in, at the picker."""
    _verifier, challenge = pkce_pair()
    page = browser.login(
        browser.follow(browser.start(authorize_params(clinic.public_client, SCOPE, challenge))), "doc@example.org"
    )
    assert page.status_code == 200 and "Choose a patient" in page.text, page.text
    return page


def _search(client: TestClient, picker: Any, **terms: str) -> Any:
    page = client.get(f"{BASE}/auth/flow", params={"request": form_value(picker.text, "request"), **terms})
    assert page.status_code == 200, page.text
    return page


def _listed(page: Any) -> list[str]:
    """The patient ids the page offers, in order."""
    return re.findall(r'name="patient" value="([^"]*)"', page.text)


@pytest.fixture
def patients(database: Database, clinic: Clinic) -> None:
    """More patients: one with an accented name and a birth date, and one of another clinic with the same name."""
    with database.write() as session:
        _row(
            session,
            Patient,
            organization_id=clinic.organization_id,
            mrn="M3",
            given_name="Zoë",
            family_name="Ünal-Pérez",
            birth_date=date(1984, 2, 29),
            fhir_id="pat-3",
        )
        other = _row(session, Organization, name="Other Clinic", fhir_id="other-clinic")
        _row(session, Patient, organization_id=other.id, mrn="M3", given_name="Zoë", family_name="Ünal", fhir_id="x-1")


def test_the_picker_preselects_nobody_and_says_when_a_birth_date_is_unknown(
    browser: Browser, clinic: Clinic, patients: None
) -> None:
    page = _picker(browser, clinic)
    assert sorted(_listed(page)) == ["pat-1", "pat-2", "pat-3"]
    assert "checked" not in page.text
    assert page.text.count("birth date unknown") == 2 and "born 1984-02-29" in page.text
    assert "born  ·" not in page.text


def test_the_picker_finds_patients_by_name_ignoring_case_and_accents(
    client: TestClient, browser: Browser, clinic: Clinic, patients: None
) -> None:
    picker = _picker(browser, clinic)
    assert _listed(_search(client, picker, name="unal")) == ["pat-3"]  # never the other clinic's Zoë Ünal
    assert _listed(_search(client, picker, name="ZOE unal-p")) == ["pat-3"]
    assert _listed(_search(client, picker, name="zoe ient")) == []
    assert "No patient of your clinic matches" in _search(client, picker, name="nobody").text


def test_the_picker_finds_patients_by_mrn_and_birth_date(
    client: TestClient, browser: Browser, clinic: Clinic, patients: None
) -> None:
    picker = _picker(browser, clinic)
    assert _listed(_search(client, picker, mrn="M2")) == ["pat-2"]
    assert _listed(_search(client, picker, birthdate="1984-02-29")) == ["pat-3"]
    assert _listed(_search(client, picker, name="zoe", birthdate="1984-03-01")) == []
    wrong = _search(client, picker, birthdate="29/02/1984")
    assert "Write the birth date as YYYY-MM-DD" in wrong.text and _listed(wrong) == []


def test_a_search_matching_more_than_a_page_asks_to_refine(
    client: TestClient, browser: Browser, clinic: Clinic, database: Database
) -> None:
    with database.write() as session:
        for n in range(PICKER_LIMIT + 1):
            _row(
                session,
                Patient,
                organization_id=clinic.organization_id,
                mrn=f"S{n}",
                family_name="Same",
                fhir_id=f"s-{n}",
            )
    picker = _picker(browser, clinic)
    many = _search(client, picker, name="same")
    assert len(_listed(many)) == PICKER_LIMIT and "refine your search" in many.text
    one = _search(client, picker, name="same", mrn="S7")
    assert _listed(one) == ["s-7"] and "refine your search" not in one.text


def test_a_choice_without_a_patient_shows_the_picker_again(
    client: TestClient, browser: Browser, clinic: Clinic, database: Database
) -> None:
    picker = _picker(browser, clinic)
    refused = client.post(f"{BASE}/auth/pick-patient", data={"request": form_value(picker.text, "request")})
    assert refused.status_code == 400
    assert "Choose a patient first" in refused.text and "checked" not in refused.text
    with database.read() as session:
        assert session.scalars(select(AuthorizationRequest.patient_id)).all() == [None]
    chosen = browser.pick(refused, clinic.other_patient_id)
    assert chosen.status_code == 200 and "Allow Public App" in chosen.text


def test_the_launcher_searches_and_preselects_nobody(client: TestClient, clinic: Clinic, patients: None) -> None:
    login = {"email": clinic.physician_email, "password": PASSWORD, "next": "launch"}
    assert client.post(f"{BASE}/auth/login", data=login, follow_redirects=False).status_code == 303
    page = client.get(f"{BASE}/auth/launch", params={"client_id": clinic.public_client, "name": "unal"})
    assert _listed(page) == ["pat-3"] and "checked" not in page.text
    assert f'name="client_id" value="{clinic.public_client}"' in page.text  # the search keeps the chosen app
    refused = client.post(f"{BASE}/auth/launch", data={"client_id": clinic.public_client}, follow_redirects=False)
    assert refused.status_code == 400 and "choose a patient" in refused.text
