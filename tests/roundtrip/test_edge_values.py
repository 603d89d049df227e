"""Valid R4 values the round-trip properties found the server refusing or changing, pinned as plain examples."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mappings.patient import MRN_SYSTEM
from tests.roundtrip.checks import content, get, put
from tests.roundtrip.internal_changes import change_column
from tests.roundtrip.server import BASE_URL, Server
from tests.roundtrip.server_rules import expected


def test_a_partial_deceased_date_time_reads_back_as_sent(server: Server) -> None:
    patient = {
        "resourceType": "Patient",
        "id": "rt-deceased-1",
        "name": [{"family": "Moreau"}],
        "deceasedDateTime": "2020-05",
    }
    put(server, patient, 201)
    assert get(server, "Patient", "rt-deceased-1")["deceasedDateTime"] == "2020-05"


@pytest.mark.parametrize(
    "form",
    [
        "Patient/rt-patient-1/_history/1",
        f"{BASE_URL}/Patient/rt-patient-1/_history/1",
        f"{BASE_URL}/Patient/rt-patient-1",
    ],
)
def test_a_versioned_or_absolute_reference_names_the_subject(server: Server, form: str) -> None:
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"rt-versioned-{abs(hash(form))}",
        "questionnaire": "https://forms.example.org/Questionnaire/unheld",
        "status": "completed",
        "subject": {"reference": form},
    }
    put(server, response, 201)
    served = get(server, "QuestionnaireResponse", response["id"])
    assert content(served) == {k: v for k, v in response.items() if k != "id"}


def test_versioned_participants_count_as_the_appointments_patient_and_practitioner(server: Server) -> None:
    appointment = {
        "resourceType": "Appointment",
        "id": "rt-versioned-participants",
        "status": "booked",
        "start": "2026-03-02T09:00:00Z",
        "end": "2026-03-02T09:30:00Z",
        "participant": [
            {"actor": {"reference": "Practitioner/rt-practitioner-1/_history/1"}, "status": "accepted"},
            {"actor": {"reference": "Patient/rt-patient-1/_history/1"}, "status": "accepted"},
        ],
    }
    put(server, appointment, 201)
    served = get(server, "Appointment", "rt-versioned-participants")
    assert served["participant"] == appointment["participant"]


APPOINTMENT_BODY = {
    "resourceType": "Appointment",
    "start": "2026-03-02T09:00:00Z",
    "end": "2026-03-02T09:30:00Z",
    "participant": [
        {"actor": {"reference": "Patient/rt-patient-1"}, "status": "accepted"},
        {"actor": {"reference": "Practitioner/rt-practitioner-1"}, "status": "accepted"},
    ],
}
APPOINTMENT_PARTICIPANTS = [
    {"actor": {"reference": "Patient/rt-patient-1"}, "status": "accepted"},
    {"actor": {"reference": "Practitioner/rt-practitioner-1"}, "status": "accepted"},
]
EDGE_OF_CALENDAR: dict[str, tuple[str, dict[str, Any]]] = {
    "Patient": (
        "Patient.deceasedDateTime",
        {"name": [{"family": "Early"}], "deceasedDateTime": "0001-01-01T05:00:00+14:00"},
    ),
    "Appointment": (
        "Appointment.end",
        {
            "status": "booked",
            "start": "9999-12-31T10:00:00-12:00",
            "end": "9999-12-31T13:00:00-12:00",
            "participant": APPOINTMENT_PARTICIPANTS,
        },
    ),
    "ImagingStudy": (
        "ImagingStudy.started",
        {
            "status": "available",
            "subject": {"reference": "Patient/rt-patient-1"},
            "started": "0001-01-01T00:30:00+01:00",
            "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:2.25.4711"}],
        },
    ),
}


@pytest.mark.parametrize("resource_type", sorted(EDGE_OF_CALENDAR))
def test_a_mapped_instant_outside_the_calendar_in_utc_reads_back_as_sent(server: Server, resource_type: str) -> None:
    _, body = EDGE_OF_CALENDAR[resource_type]
    resource = {"resourceType": resource_type, "id": f"rt-edge-{resource_type.lower()}", **body}
    put(server, resource, 201)  # the column cannot hold it: it stays empty, the instant stays in the resource
    served = get(server, resource_type, resource["id"])
    assert content(served) == expected(resource, served, server.clinic_id)


def test_an_unmapped_instant_at_the_edge_of_the_calendar_reads_back_as_sent(server: Server) -> None:
    extension = {"url": "http://example.org/fhir/StructureDefinition/seen", "valueInstant": "0001-01-01T05:00:00+14:00"}
    patient = {
        "resourceType": "Patient",
        "id": "rt-edge-unmapped",
        "name": [{"family": "Early"}],
        "extension": [extension],
    }
    put(server, patient, 201)
    assert get(server, "Patient", "rt-edge-unmapped")["extension"] == [extension]


def test_an_appointment_too_long_for_a_minutes_duration_is_served_without_one(server: Server) -> None:
    appointment = {
        "resourceType": "Appointment",
        "id": "rt-millennia",
        "status": "booked",
        "start": "0100-01-01T00:00:00Z",
        "end": "9000-01-01T00:00:00Z",
        "participant": APPOINTMENT_PARTICIPANTS,
    }
    put(server, appointment, 201)
    served = content(get(server, "Appointment", "rt-millennia"))
    assert "minutesDuration" not in served  # more minutes than a positiveInt holds
    assert (served["start"], served["end"]) == (appointment["start"], appointment["end"])


def test_a_long_appointment_with_its_own_minutes_duration_reads_back_as_sent(server: Server) -> None:
    appointment = {
        "resourceType": "Appointment",
        "id": "rt-millennia-own",
        "status": "booked",
        "minutesDuration": 30,
        "start": "0100-01-01T00:00:00Z",
        "end": "9000-01-01T00:00:00Z",
        "participant": APPOINTMENT_PARTICIPANTS,
    }
    put(server, appointment, 201)
    assert content(get(server, "Appointment", "rt-millennia-own"))["end"] == "9000-01-01T00:00:00Z"


@pytest.mark.parametrize("where", ["name", "extension"])
def test_a_string_holding_u0000_answers_400_naming_it_on_every_database(server: Server, where: str) -> None:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": f"rt-nul-{where}", "name": [{"family": "Nul"}]}
    if where == "name":
        patient["name"] = [{"family": "Nu\u0000l"}]
        expression = "Patient.name[0].family"
    else:
        patient["extension"] = [{"url": "http://example.org/fhir/StructureDefinition/x", "valueString": "a\u0000b"}]
        expression = "Patient.extension[0].valueString"
    response = server.client.put(f"/fhir/Patient/{patient['id']}", json=patient)
    assert response.status_code == 400, response.text
    [issue] = response.json()["issue"]
    assert issue["expression"] == [expression]
    assert server.client.get(f"/fhir/Patient/{patient['id']}").status_code == 404


def test_a_dicom_modality_coding_without_a_code_reads_back_as_sent(server: Server) -> None:
    study = {
        "resourceType": "ImagingStudy",
        "id": "rt-codeless-modality",
        "status": "available",
        "subject": {"reference": "Patient/rt-patient-1"},
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:2.25.4712"}],
        "modality": [
            {"system": "http://dicom.nema.org/resources/ontology/DCM", "display": "CT"},
            {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "MR"},
        ],
    }
    put(server, study, 201)
    assert get(server, "ImagingStudy", "rt-codeless-modality")["modality"] == study["modality"]


def test_a_contact_point_without_a_value_reads_back_as_sent(server: Server) -> None:
    practitioner = {
        "resourceType": "Practitioner",
        "id": "rt-valueless-email",
        "name": [{"family": "Hart", "given": ["A"]}],
        "telecom": [{"system": "email", "use": "work"}, {"system": "phone", "rank": 2}],
    }
    put(server, practitioner, 201)
    assert get(server, "Practitioner", "rt-valueless-email")["telecom"] == practitioner["telecom"]


def test_a_decimal_reads_back_as_the_same_number(server: Server) -> None:
    extension = {"url": "http://example.org/fhir/StructureDefinition/weight", "valueDecimal": 3.835572412091922e16}
    patient = {"resourceType": "Patient", "id": "rt-decimal", "name": [{"family": "Heavy"}], "extension": [extension]}
    put(server, patient, 201)
    served = get(server, "Patient", "rt-decimal")["extension"][0]["valueDecimal"]
    assert Decimal(repr(served)) == Decimal("38355724120919220")


def test_an_appointment_uncancelled_inside_the_server_hides_its_cancelation_reason_until_cancelled_again(
    server: Server,
) -> None:
    reason = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                          "code": "pat"}], "text": "Stuck in traffic"}  # fmt: skip
    appointment = {**APPOINTMENT_BODY, "id": "rt-uncancelled", "status": "cancelled", "cancelationReason": reason}
    put(server, appointment, 201)
    change_column(server.database_url, "Appointment", "rt-uncancelled", "status", "confirmed")
    rebooked = get(server, "Appointment", "rt-uncancelled")
    assert rebooked["status"] == "booked"
    assert "cancelationReason" not in rebooked  # R4 app-4: only a cancelled or no-show appointment has one
    change_column(server.database_url, "Appointment", "rt-uncancelled", "status", "cancelled")
    assert get(server, "Appointment", "rt-uncancelled")["cancelationReason"] == reason


TOO_LONG: dict[str, dict[str, Any]] = {
    "Patient.name[0].family": {"resourceType": "Patient", "name": [{"family": "x" * 101}]},
    "Patient.telecom.where(system='phone').value": {
        "resourceType": "Patient",
        "name": [{"family": "Long"}],
        "telecom": [{"system": "phone", "value": "1" * 41}],
    },
}


@pytest.mark.parametrize("expression", sorted(TOO_LONG))
def test_a_value_longer_than_its_column_reads_back_as_sent(server: Server, expression: str) -> None:
    resource = {**TOO_LONG[expression], "id": f"rt-too-long-{abs(hash(expression))}"}
    put(server, resource, 201)
    served = get(server, resource["resourceType"], resource["id"])
    assert content(served) == expected(resource, served, server.clinic_id)


def test_an_organization_name_longer_than_its_column_answers_422_naming_it(server: Server) -> None:
    response = server.client.post("/fhir/Organization", json={"resourceType": "Organization", "name": "x" * 201})
    assert response.status_code == 422, response.text
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["Organization.name"]
    assert "characters are kept here" in issue["diagnostics"]


def test_a_medical_record_number_sent_by_a_client_answers_422_naming_it_whether_held_or_not(server: Server) -> None:
    first = server.client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "One"}]})
    assert first.status_code == 201, first.text
    held = next(i["value"] for i in first.json()["identifier"] if i.get("system") == MRN_SYSTEM)
    answers = []
    for value in (held, "RT-FREE"):
        sent = {
            "resourceType": "Patient",
            "name": [{"family": "Two"}],
            "identifier": [{"system": MRN_SYSTEM, "value": value}],
        }
        response = server.client.post("/fhir/Patient", json=sent)
        assert response.status_code == 422, response.text
        [issue] = response.json()["issue"]
        assert issue["expression"] == [f"Patient.identifier.where(system='{MRN_SYSTEM}').value"]
        answers.append(issue)
    assert answers[0] == answers[1]  # the server's numbers are read-only: nothing says whether one is held


def test_values_longer_than_the_search_index_columns_are_stored_and_served_whole(server: Server) -> None:
    long = "v" * 1500
    patient = {
        "resourceType": "Patient",
        "id": "rt-long-unmapped",
        "name": [{"family": "Longtoken"}],
        "identifier": [{"system": f"http://example.org/{long}", "value": long}],
        "link": [{"type": "seealso", "other": {"reference": f"https://other.example.org/fhir/RelatedPerson/{long}"}}],
        "address": [{"city": long}],
    }
    put(server, patient, 201)
    served = get(server, "Patient", "rt-long-unmapped")
    assert content(served) == expected(patient, served, server.clinic_id)
    found = server.client.get("/fhir/Patient", params={"family": "Longtoken"}).json()
    assert [entry["resource"]["id"] for entry in found.get("entry", [])] == ["rt-long-unmapped"]
