"""The timeline's date of a resource comes from the search registry's date parameters (no database)."""

from __future__ import annotations

from fhir_server.ui.clinical_dates import clinical_date


def test_an_observation_is_dated_by_its_effective_time() -> None:
    found = clinical_date({"resourceType": "Observation", "effectiveDateTime": "2024-01-05T10:00:00+02:00"})
    assert (found.text, found.source, found.instant.isoformat()) == (
        "2024-01-05T10:00:00+02:00",
        "date",
        "2024-01-05T08:00:00+00:00",
    )


def test_a_period_counts_by_its_start() -> None:
    found = clinical_date({"resourceType": "Encounter", "period": {"start": "2023-05-01", "end": "2023-05-03"}})
    assert (found.text, found.source) == ("2023-05-01", "date")


def test_a_condition_is_dated_by_its_onset_not_its_abatement() -> None:
    condition = {"resourceType": "Condition", "abatementDateTime": "2022-01-01", "onsetDateTime": "2019-03-04"}
    assert (clinical_date(condition).text, clinical_date(condition).source) == ("2019-03-04", "onset-date")


def test_a_type_whose_date_parameter_is_empty_falls_to_its_next_event_date() -> None:
    request = {"resourceType": "MedicationRequest", "authoredOn": "2021-07-08"}
    assert (clinical_date(request).text, clinical_date(request).source) == ("2021-07-08", "authoredon")


def test_without_a_date_of_its_own_a_resource_is_dated_by_its_last_update() -> None:
    team = {"resourceType": "CareTeam", "meta": {"lastUpdated": "2020-02-02T02:02:02Z"}}
    assert (clinical_date(team).text, clinical_date(team).source) == ("2020-02-02T02:02:02Z", "_lastUpdated")
    patient = {"resourceType": "Patient", "birthDate": "1980-01-01", "meta": {"lastUpdated": "2020-01-01"}}
    assert clinical_date(patient).source == "_lastUpdated"
