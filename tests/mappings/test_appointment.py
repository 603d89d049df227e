"""appointments (+ cancellations) <-> Appointment: golden pairs, the code maps, round trips, internal changes."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.structuredefinition import StructureDefinition
from sqlalchemy import select

from fhir_server.db import Appointment, Cancellation, Organization, Patient, Practitioner
from fhir_server.db.engine import Database
from fhir_server.db.vocab import CANCELLATION_TYPES
from fhir_server.fhir import pipeline
from fhir_server.paths import project_dir
from mappings.appointment import MEETING_URL, AppointmentMapping, CancellationValue
from mappings.base import MappingError
from tests.clinics import make_clinic
from tests.mappings.mapping_support import golden_names, load, r4_issues, references_read, without_meta
from tests.mappings.roundtrip_support import (
    as_sent,
    assert_reads_back,
    created,
    current,
    golden_row,
    held_as_sent,
    issue_of,
)

CANCELLATION_REASON = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
CANCELLATION_TYPE = "http://fhir-server.dev/fhir/CodeSystem/cancellation-type"
VISIT_TYPE = "http://fhir-server.dev/fhir/CodeSystem/visit-type"
V2_0276 = "http://terminology.hl7.org/CodeSystem/v2-0276"
SNOMED = "http://snomed.info/sct"
MEETING_URL_VALUE = "https://meet.example.org/knee-42"


def minimal(patient: str = "Patient/p", practitioner: str = "Practitioner/d", **elements: Any) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2026-12-01T09:00:00-05:00",
        "end": "2026-12-01T09:30:00-05:00",
        "participant": [
            {"actor": {"reference": patient}, "status": "accepted"},
            {"actor": {"reference": practitioner}, "status": "accepted"},
        ],
        **elements,
    }


def rich_appointment(patient_id: str, practitioner_id: str) -> dict[str, Any]:
    """An Appointment using much of R4: contained resources, extensions, unmapped elements, odd orders."""
    return {
        "resourceType": "Appointment",
        "meta": {"tag": [{"system": "http://example.org/tags", "code": "imported"}]},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Knee follow-up</div>'},
        "contained": [{"resourceType": "Location", "id": "room", "name": "Room 3"}],
        "extension": [
            {"url": "http://example.org/fhir/StructureDefinition/booked-by", "valueString": "phone"},
            {"url": MEETING_URL, "valueUrl": MEETING_URL_VALUE},
        ],
        "identifier": [{"system": "http://example.org/appointments", "value": "A-42"}],
        "status": "checked-in",
        "serviceCategory": [{"coding": [{"system": "http://example.org/categories", "code": "ortho"}]}],
        "serviceType": [
            {"coding": [{"system": SNOMED, "code": "394802001", "display": "General medicine"}]},
            {"coding": [{"system": VISIT_TYPE, "code": "virtual"}], "text": "Video call"},
        ],
        "specialty": [{"coding": [{"system": SNOMED, "code": "394801008"}]}],
        "appointmentType": {"coding": [{"system": V2_0276, "code": "ROUTINE"}], "text": "First visit"},
        "reasonCode": [
            {"coding": [{"system": SNOMED, "code": "30989003", "display": "Knee pain"}]},
            {"text": "Knee pain after a fall"},
        ],
        "priority": 5,
        "description": "Knee, first visit",
        "start": "2026-12-01T09:00:00+01:00",
        "end": "2026-12-01T09:45:00+01:00",
        "minutesDuration": 40,
        "created": "2026-11-20T10:00:00Z",
        "comment": "Bring the X-ray",
        "patientInstruction": "Wear shorts",
        "participant": [
            {"actor": {"reference": "#room"}, "status": "accepted"},
            {"actor": {"reference": f"Practitioner/{practitioner_id}", "display": "Dr. Hart"}, "status": "accepted",
             "required": "required"},
            {"type": [{"text": "patient"}], "actor": {"reference": f"Patient/{patient_id}"}, "status": "tentative"},
        ],
        "requestedPeriod": [{"start": "2026-12-01T08:00:00+01:00", "end": "2026-12-01T12:00:00+01:00"}],
    }  # fmt: skip


def _read(resource: dict[str, Any]) -> dict[str, Any]:
    return AppointmentMapping.from_fhir(resource).columns


def _row_of(database: Database, fhir_id: str) -> Appointment:
    with database.read() as session:
        row = session.scalars(select(Appointment).where(Appointment.fhir_id == fhir_id)).one()
        session.expunge(row)
        return row


def _cancellation_of(database: Database, fhir_id: str) -> tuple[str, str | None] | None:
    with database.read() as session:
        found = session.execute(
            select(Cancellation.type, Cancellation.note).join(Appointment).where(Appointment.fhir_id == fhir_id)
        ).first()
    return None if found is None else (found[0], found[1])


# --- golden pairs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", golden_names("appointment"))
def test_golden_row_is_served_as_its_resource(name: str) -> None:
    row = golden_row(AppointmentMapping, name)
    if child := load(name, "row").get("cancellation"):
        row.cancellation = Cancellation(**child)
    served = AppointmentMapping.to_fhir(row)
    assert served == load(name, "fhir")
    assert r4_issues(served) == []


@pytest.mark.parametrize("name", golden_names("appointment"))
def test_golden_resource_reads_back_as_its_row(name: str) -> None:
    columns = assert_reads_back(AppointmentMapping, name, skip=("cancellation",))
    child = load(name, "row").get("cancellation")
    assert columns["cancellation"] == (None if child is None else CancellationValue(**child))


# --- codes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [("unconfirmed", "pending"), ("confirmed", "booked"), ("arrived", "arrived"), ("completed", "fulfilled"),
     ("cancelled", "cancelled"), ("no-show", "noshow")],
)  # fmt: skip
def test_each_clinic_status_is_served_as_its_fhir_status(status: str, code: str) -> None:
    row = golden_row(AppointmentMapping, "appointment")
    row.status = status
    assert AppointmentMapping.to_fhir(row)["status"] == code
    assert _read(minimal(status=code))["status"] == status


@pytest.mark.parametrize(
    ("code", "status"),
    [("proposed", "unconfirmed"), ("waitlist", "unconfirmed"), ("checked-in", "arrived"),
     ("entered-in-error", "cancelled")],
)  # fmt: skip
def test_fhir_statuses_the_clinic_lacks_are_kept_as_the_nearest(code: str, status: str) -> None:
    assert _read(minimal(status=code))["status"] == status


def test_a_clients_checked_in_stays_until_the_clinic_moves_on() -> None:
    row = golden_row(AppointmentMapping, "appointment-from-client")
    assert AppointmentMapping.to_fhir(row)["status"] == "checked-in"
    row.status = "completed"
    assert AppointmentMapping.to_fhir(row)["status"] == "fulfilled"


def test_visit_category_and_type_are_read_from_either_coding() -> None:
    hl7 = _read(minimal(appointmentType={"coding": [{"system": V2_0276, "code": "ROUTINE"}]}))
    assert hl7["visit_category"] == "new-patient"
    act = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"}]}
    assert _read(minimal(serviceType=[{"text": "General"}, act]))["visit_type"] == "virtual"


def _without_defaults(served: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """``served`` without id, meta and the visit type and category the server adds when ``sent`` has none."""
    return {k: v for k, v in without_meta(served).items() if k in sent or k not in ("serviceType", "appointmentType")}


def _held(resource: dict[str, Any]) -> Appointment:
    """A new row holding ``resource`` (no session: references stay unresolved)."""
    row = Appointment(fhir_id="a", version_id=1, last_updated=datetime(2026, 1, 1, tzinfo=UTC))
    values = AppointmentMapping.from_fhir(resource)
    AppointmentMapping.apply(row, values, None)
    targets = {"patient": Patient, "practitioner": Practitioner}
    for field, fhir_id in values.references.values():
        setattr(row, field.attr, None if fhir_id is None else targets[field.attr](fhir_id=fhir_id))
    return row


@pytest.mark.parametrize(
    ("elements", "attr"),
    [
        ({"appointmentType": {"coding": [{"system": V2_0276, "code": "WALKIN"}]}}, "visit_category"),
        ({"appointmentType": {"text": "first visit"}}, "visit_category"),
        ({"serviceType": [{"coding": [{"system": VISIT_TYPE, "code": "home"}]}]}, "visit_type"),
        ({"serviceType": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       "code": "HH"}]}]}, "visit_type"),
        ({"status": "cancelled", "cancelationReason": {"coding": [{"system": CANCELLATION_TYPE, "code": "weather"}]}},
         "cancellation"),
        ({"extension": [{"url": MEETING_URL, "valueUrl": "https://meet.example.org/" + "x" * 500}]}, "meeting_url"),
    ],
)  # fmt: skip
def test_values_the_clinic_cannot_hold_leave_the_column_empty_and_are_served_as_sent(
    elements: dict[str, Any], attr: str
) -> None:
    sent = minimal(**elements, minutesDuration=30)
    values = AppointmentMapping.from_fhir(sent)
    assert values.unheld == {attr}
    row = _held(sent)
    assert getattr(row, attr) is None
    assert _without_defaults(AppointmentMapping.to_fhir(row), sent) == without_meta(sent)


@pytest.mark.parametrize("status", ["proposed", "waitlist", "cancelled"])
def test_an_appointment_without_start_and_end_has_empty_times(status: str) -> None:
    sent = {k: v for k, v in minimal(status=status).items() if k not in ("start", "end")}  # R4 app-3
    row = _held(sent)
    assert (row.start_at, row.end_at, row.duration_minutes) == (None, None, None)
    assert _without_defaults(AppointmentMapping.to_fhir(row), sent) == without_meta(sent)


@pytest.mark.parametrize(
    ("participant", "held"),
    [
        ([{"actor": {"reference": "Practitioner/d"}, "status": "accepted"}], {"practitioner": "d"}),
        ([{"actor": {"reference": "Patient/p"}, "status": "accepted"},
          {"actor": {"reference": "Location/room-3"}, "status": "accepted"}], {"patient": "p"}),
        ([{"actor": {"reference": "Patient/p"}, "status": "accepted"},
          {"actor": {"reference": "Patient/q"}, "status": "accepted"},
          {"actor": {"reference": "Practitioner/d"}, "status": "accepted"}], {"patient": "p", "practitioner": "d"}),
        ([{"actor": {"reference": "Practitioner/e"}, "status": "accepted"},
          {"actor": {"reference": "Patient/p"}, "status": "accepted"},
          {"actor": {"reference": "Practitioner/d"}, "status": "accepted"}], {"patient": "p", "practitioner": "e"}),
    ],
)  # fmt: skip
def test_the_first_patient_and_practitioner_participants_are_the_columns(
    participant: list[dict[str, Any]], held: dict[str, str]
) -> None:
    assert references_read(AppointmentMapping, minimal(participant=participant)) == held


@pytest.mark.parametrize(
    ("concept", "expected"),
    [
        ({"coding": [{"system": CANCELLATION_REASON, "code": "pat-fb"}]}, ("patient-cancelled", None)),
        ({"coding": [{"system": CANCELLATION_REASON, "code": "prov-hosp"}], "text": "Doctor ill"},
         ("clinic-cancelled", "Doctor ill")),
        ({"coding": [{"system": CANCELLATION_REASON, "code": "other"},
                     {"system": CANCELLATION_TYPE, "code": "rescheduled-externally"}]},
         ("rescheduled-externally", None)),
        ({"text": "Snowed in"}, ("other", "Snowed in")),
        ({"coding": [{"system": "http://example.org/reasons", "code": "x"}]}, ("other", None)),
    ],
)  # fmt: skip
def test_cancelation_reason_reads_as_the_clinics_type_and_note(
    concept: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    assert _read(minimal(cancelationReason=concept))["cancellation"] == CancellationValue(*expected)


@pytest.mark.parametrize("kind", CANCELLATION_TYPES)
def test_every_cancellation_type_is_served_with_the_clinics_coding(kind: str) -> None:
    row = golden_row(AppointmentMapping, "appointment")
    row.status = "no-show" if kind == "no-show" else "cancelled"  # R4 app-4: only these have a cancelationReason
    row.cancellation = Cancellation(type=kind, note=None)
    reason = AppointmentMapping.to_fhir(row)["cancelationReason"]
    assert {"system": CANCELLATION_TYPE, "code": kind} in [
        {"system": c["system"], "code": c["code"]} for c in reason["coding"]
    ]
    assert _read({**load("appointment", "fhir"), "cancelationReason": reason})["cancellation"].type == kind


def test_duration_comes_from_start_and_end_when_absent() -> None:
    row = Appointment()
    values = AppointmentMapping.from_fhir(minimal(start="2026-12-01T09:00:00Z", end="2026-12-01T09:45:30Z"))
    AppointmentMapping.apply(row, values, None)
    assert row.duration_minutes == 46
    assert (row.visit_type, row.visit_category) == ("in-clinic", "follow-up")


def test_an_end_before_the_start_is_refused() -> None:
    values = AppointmentMapping.from_fhir(minimal(end="2026-12-01T08:00:00-05:00"))
    with pytest.raises(MappingError) as caught:
        AppointmentMapping.apply(Appointment(), values, None)
    assert caught.value.expression == "Appointment.end"


def test_the_meeting_url_extension_is_published_as_a_structure_definition() -> None:
    definition = json.loads(
        (project_dir("conformance") / "StructureDefinition-appointment-meeting-url.json").read_text("utf-8")
    )
    StructureDefinition.model_validate(definition)
    assert (definition["url"], definition["type"]) == (MEETING_URL, "Extension")
    assert definition["context"] == [{"type": "element", "expression": "Appointment"}]


# --- through the HTTP API, on both databases ----------------------------------------------------------------


@pytest.fixture
def people(client: TestClient, clinic: dict[str, Any]) -> tuple[str, str]:
    """A patient and a practitioner of the clinic: their FHIR ids."""
    patient = created(client, {"resourceType": "Patient", "name": [{"family": "Dubois", "given": ["Chloé"]}]})
    doctor = created(client, {"resourceType": "Practitioner", "name": [{"family": "Hart", "given": ["Amelia"]}]})
    return patient["id"], doctor["id"]


def test_a_rich_appointment_is_served_back_as_sent(
    client: TestClient, people: tuple[str, str], database: Database
) -> None:
    sent = rich_appointment(*people)
    body = created(client, sent)
    assert as_sent(body) == sent
    assert as_sent(current(client, "Appointment", body["id"])) == sent
    row = _row_of(database, body["id"])
    assert (row.status, row.visit_type, row.visit_category) == ("arrived", "virtual", "new-patient")
    assert (row.duration_minutes, row.reason, row.meeting_url) == (40, "Knee pain after a fall", MEETING_URL_VALUE)
    assert row.start_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert (row.intake_status, row.arrived_at) == ("missing", None)


def test_an_update_is_served_back_as_sent(client: TestClient, people: tuple[str, str]) -> None:
    body = created(client, rich_appointment(*people))
    sent = copy.deepcopy(rich_appointment(*people))
    sent["participant"].reverse()
    sent["status"] = "fulfilled"
    sent["extension"] = sent["extension"][:1]
    del sent["minutesDuration"]
    response = client.put(f"/fhir/Appointment/{body['id']}", json={**sent, "id": body["id"]})
    assert response.status_code == 200, response.text
    served = current(client, "Appointment", body["id"])
    assert served["meta"]["versionId"] == "2"
    assert served.pop("minutesDuration") == 45  # server-set: from start and end
    assert as_sent(served) == sent


def test_only_server_set_elements_are_added_to_a_minimal_appointment(
    client: TestClient, people: tuple[str, str]
) -> None:
    sent = minimal(f"Patient/{people[0]}", f"Practitioner/{people[1]}")
    served = as_sent(created(client, sent))
    added = {k: served.pop(k) for k in ("minutesDuration", "serviceType", "appointmentType")}
    assert served == sent
    assert added["minutesDuration"] == 30
    assert added["serviceType"][0]["coding"][1] == {"system": VISIT_TYPE, "code": "in-clinic", "display": "In clinic"}
    assert added["appointmentType"]["coding"][0]["code"] == "FOLLOWUP"


def test_a_cancelation_reason_writes_and_removes_the_cancellation(
    client: TestClient, people: tuple[str, str], database: Database
) -> None:
    sent = minimal(f"Patient/{people[0]}", f"Practitioner/{people[1]}", minutesDuration=30)
    body = created(client, sent)
    assert _cancellation_of(database, body["id"]) is None
    reason = {"coding": [{"system": CANCELLATION_REASON, "code": "pat-lt"}], "text": "No ride"}
    cancelled = {**sent, "id": body["id"], "status": "cancelled", "cancelationReason": reason}
    assert client.put(f"/fhir/Appointment/{body['id']}", json=cancelled).status_code == 200
    assert _cancellation_of(database, body["id"]) == ("patient-cancelled", "No ride")
    assert current(client, "Appointment", body["id"])["cancelationReason"] == reason
    rebooked = {**sent, "id": body["id"]}
    assert client.put(f"/fhir/Appointment/{body['id']}", json=rebooked).status_code == 200
    assert _cancellation_of(database, body["id"]) is None
    served = current(client, "Appointment", body["id"])
    assert served["meta"]["versionId"] == "3"
    assert "cancelationReason" not in served


def test_internal_changes_show_in_new_versions(client: TestClient, people: tuple[str, str], database: Database) -> None:
    body = created(client, rich_appointment(*people))
    with database.write() as session:
        row = session.scalars(select(Appointment).where(Appointment.fhir_id == body["id"])).one()
        row.status = "no-show"
        session.add(Cancellation(appointment_id=row.id, type="no-show"))
    served = current(client, "Appointment", body["id"])
    assert (served["meta"]["versionId"], served["status"]) == ("2", "noshow")
    assert served["cancelationReason"] == {
        "coding": [{"system": CANCELLATION_TYPE, "code": "no-show", "display": "No-show"}]
    }
    with database.write() as session:
        child = session.scalars(select(Cancellation).join(Appointment).where(Appointment.fhir_id == body["id"])).one()
        child.note = "Did not answer the phone"
    served = current(client, "Appointment", body["id"])
    assert served["meta"]["versionId"] == "3"
    assert served["cancelationReason"]["text"] == "Did not answer the phone"
    with database.write() as session:
        child = session.scalars(select(Cancellation).join(Appointment).where(Appointment.fhir_id == body["id"])).one()
        session.delete(child)
    served = current(client, "Appointment", body["id"])
    assert served["meta"]["versionId"] == "4"
    assert "cancelationReason" not in served
    assert as_sent(served) == {**rich_appointment(*people), "status": "noshow"}


def test_a_reference_to_an_unknown_patient_is_refused(client: TestClient, people: tuple[str, str]) -> None:
    response = client.post("/fhir/Appointment", json=minimal("Patient/nobody", f"Practitioner/{people[1]}"))
    assert response.status_code == 422
    issue = issue_of(response)
    assert issue["code"] == "not-found"
    assert len(issue["expression"]) == 1
    assert issue["expression"][0].startswith("Appointment.participant")


def _found(client: TestClient, **params: str) -> list[str]:
    bundle = client.get("/fhir/Appointment", params=params).json()
    return sorted(entry["resource"]["id"] for entry in bundle.get("entry", []))


def test_a_single_participant_is_accepted_and_found_by_it(
    client: TestClient, people: tuple[str, str], database: Database
) -> None:
    sent = minimal(f"Patient/{people[0]}", f"Practitioner/{people[1]}", minutesDuration=30)
    sent["participant"] = sent["participant"][:1]
    sent["appointmentType"] = {"coding": [{"system": V2_0276, "code": "FOLLOWUP"}]}
    sent["serviceType"] = [{"coding": [{"system": VISIT_TYPE, "code": "in-clinic"}]}]
    served = held_as_sent(client, sent)
    row = _row_of(database, served["id"])
    assert row.patient_id is not None and row.practitioner_id is None
    assert _found(client, patient=f"Patient/{people[0]}") == [served["id"]]


def test_a_proposed_appointment_without_start_is_kept_and_found_by_status_and_actor(
    client: TestClient, people: tuple[str, str], database: Database
) -> None:
    sent = {k: v for k, v in minimal(f"Patient/{people[0]}", f"Practitioner/{people[1]}").items() if k != "end"}
    del sent["start"]
    sent.update(status="proposed", minutesDuration=20, requestedPeriod=[{"start": "2026-12-01", "end": "2026-12-14"}])
    sent["appointmentType"] = {"coding": [{"system": V2_0276, "code": "WALKIN", "display": "A previously "
                                           "unscheduled walk-in visit"}]}  # fmt: skip
    sent["serviceType"] = [{"coding": [{"system": VISIT_TYPE, "code": "in-clinic"}]}]
    served = held_as_sent(client, sent)
    row = _row_of(database, served["id"])
    assert (row.start_at, row.end_at, row.duration_minutes, row.visit_category) == (None, None, 20, None)
    assert _found(client, status="proposed") == [served["id"]]
    assert _found(client, practitioner=f"Practitioner/{people[1]}") == [served["id"]]
    assert _found(client, **{"appointment-type": f"{V2_0276}|WALKIN"}) == [served["id"]]
    assert _found(client, date="2026-12-01") == []


def test_a_waitlisted_appointment_is_booked_later_by_an_update(client: TestClient, people: tuple[str, str]) -> None:
    sent = minimal(f"Patient/{people[0]}", f"Practitioner/{people[1]}", status="waitlist")
    waiting = {k: v for k, v in sent.items() if k not in ("start", "end")}
    body = created(client, waiting)
    assert "start" not in body and "minutesDuration" not in body
    booked = {**sent, "id": body["id"], "status": "booked"}
    response = client.put(f"/fhir/Appointment/{body['id']}", json=booked)
    assert response.status_code == 200, response.text
    assert response.json()["minutesDuration"] == 30
    assert _found(client, date="2026-12-01") == [body["id"]]


def _second_clinic(client: TestClient, database: Database) -> tuple[str, uuid.UUID]:
    """A second clinic with a practitioner: (the practitioner's FHIR id, the clinic's row id)."""
    other = make_clinic(client, "Hilltop Clinic")
    with database.write() as session:
        clinic_id = session.scalars(select(Organization.id).where(Organization.fhir_id == other["id"])).one()
        doctor = Practitioner(organization_id=clinic_id, given_name="Rafael", family_name="Moreno")
        session.add(doctor)
        pipeline.flush(session)
        return doctor.fhir_id, clinic_id


def test_patient_and_practitioner_of_different_clinics_are_refused(
    client: TestClient, people: tuple[str, str], database: Database
) -> None:
    foreign_doctor, _ = _second_clinic(client, database)
    response = client.post("/fhir/Appointment", json=minimal(f"Patient/{people[0]}", f"Practitioner/{foreign_doctor}"))
    assert response.status_code == 422
    assert issue_of(response)["code"] in {"processing", "not-found"}  # another clinic's resource may look missing
    with database.read() as session:
        assert session.scalars(select(Appointment.id)).all() == []


def test_an_appointment_belongs_to_its_patients_clinic(
    client: TestClient, people: tuple[str, str], database: Database
) -> None:
    doctor, clinic_id = _second_clinic(client, database)
    patient = created(
        client,
        {"resourceType": "Patient", "name": [{"family": "Moreau", "given": ["Léa"]}],
         "managingOrganization": {"reference": f"Organization/{_fhir_id_of(database, clinic_id)}"}},
    )  # fmt: skip
    body = created(client, minimal(f"Patient/{patient['id']}", f"Practitioner/{doctor}"))
    assert _row_of(database, body["id"]).organization_id == clinic_id


def _fhir_id_of(database: Database, clinic_id: uuid.UUID) -> str:
    with database.read() as session:
        return session.scalars(select(Organization.fhir_id).where(Organization.id == clinic_id)).one()
