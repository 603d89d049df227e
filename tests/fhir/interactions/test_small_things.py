"""Rough edges of issue 16 (item 11) through the API, on both databases: ``_elements`` names a choice type by its
base name, and a ``_count`` above the maximum is served as the maximum with the self link saying so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from fhir_server.fhir.search.limits import MAX_COUNT

MakePatient = Callable[..., dict[str, Any]]


def test_elements_keeps_the_chosen_type_of_a_choice_element(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient(family="Twin", multipleBirthInteger=2, gender="female")
    read = client.get(f"/fhir/Patient/{patient['id']}", params={"_elements": "multipleBirth"}).json()
    assert read["multipleBirthInteger"] == 2 and "gender" not in read
    found = client.get("/fhir/Patient", params={"_id": patient["id"], "_elements": "multipleBirth"}).json()
    [entry] = found["entry"]
    assert entry["resource"]["multipleBirthInteger"] == 2 and "gender" not in entry["resource"]


def test_a_count_above_the_maximum_is_capped_and_the_self_link_says_so(
    client: TestClient, make_patient: MakePatient
) -> None:
    make_patient(family="Capped")
    response = client.get("/fhir/Patient", params={"family": "Capped", "_count": "5000"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    [outcome] = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert len(matches) == 1 and outcome["issue"][0]["expression"] == ["_count"]
    [self_link] = [link["url"] for link in bundle["link"] if link["relation"] == "self"]
    assert parse_qs(urlsplit(self_link).query)["_count"] == [str(MAX_COUNT)]
