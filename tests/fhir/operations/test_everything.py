"""Patient/$everything: the patient's compartment, paged, with referenced practitioners and organizations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.db import Appointment, Patient
from fhir_server.db.engine import Database
from fhir_server.seed import seed_demo
from tests.authorized_client import fhir_client


@pytest.fixture(scope="module")
def seeded(module_database_url: str, module_auth_mode: str) -> Iterator[tuple[TestClient, str, int]]:
    database = Database(module_database_url)
    with database.write() as session:
        seed_demo(session)
    with database.read() as session:
        busiest = session.execute(
            select(Patient.fhir_id, Patient.id).join(Appointment, Appointment.patient_id == Patient.id)
        ).all()
        counts: dict[str, int] = {}
        for fhir_id, _ in busiest:
            counts[fhir_id] = counts.get(fhir_id, 0) + 1
        patient_id, appointments = max(counts.items(), key=lambda item: item[1])
    database.dispose()
    with fhir_client(module_database_url, module_auth_mode, clinic_id="demo-clinic", log_level="warning") as client:
        yield client, patient_id, appointments


def walk(client: TestClient, url: str) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    while url:
        bundle = client.get(url.replace("http://127.0.0.1:8080", "")).json()
        entries.extend(bundle.get("entry", []))
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
    return entries


def test_everything_holds_the_patient_and_its_appointments(seeded: tuple[TestClient, str, int]) -> None:
    client, patient_id, appointments = seeded
    entries = walk(client, f"/fhir/Patient/{patient_id}/$everything?_count=3")
    matches = [e["resource"] for e in entries if e["search"]["mode"] == "match"]  # type: ignore[index]
    keys = [(r["resourceType"], r["id"]) for r in matches]  # type: ignore[index]
    assert len(keys) == len(set(keys))
    assert ("Patient", patient_id) in keys
    assert sum(1 for t, _ in keys if t == "Appointment") == appointments
    for resource in matches:
        if resource["resourceType"] == "Appointment":  # type: ignore[index]
            actors = [p["actor"]["reference"] for p in resource["participant"]]  # type: ignore[index]
            assert f"Patient/{patient_id}" in actors
    included = {e["resource"]["resourceType"] for e in entries if e["search"]["mode"] == "include"}  # type: ignore[index]
    assert "Practitioner" in included


def test_everything_narrowed_by_type(seeded: tuple[TestClient, str, int]) -> None:
    client, patient_id, _ = seeded
    entries = walk(client, f"/fhir/Patient/{patient_id}/$everything?_type=Appointment&_count=50")
    types = {e["resource"]["resourceType"] for e in entries if e["search"]["mode"] == "match"}  # type: ignore[index]
    assert types == {"Appointment"}


def test_everything_errors(seeded: tuple[TestClient, str, int]) -> None:
    client, patient_id, _ = seeded
    assert client.get("/fhir/Patient/nobody/$everything").status_code == 404
    response = client.get(f"/fhir/Patient/{patient_id}/$everything", params={"start": "2020"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["start"]
    response = client.get(f"/fhir/Patient/{patient_id}/$everything", params={"_cursor": "forged"})
    assert response.status_code == 400
