"""SMART scope grammar: v1 and v2, granular restrictions, what is dropped, what covers what."""

from __future__ import annotations

import pytest

from fhir_server.access.context import AccessContext
from fhir_server.access.scopes import is_subset, narrow, parse_scope, parse_scopes, permission_for


@pytest.mark.parametrize(
    ("text", "letters"),
    [
        ("patient/Observation.read", "rs"),
        ("user/*.write", "cud"),
        ("system/*.*", "cruds"),
        ("patient/Patient.rs", "rs"),
        ("user/Appointment.cruds", "cruds"),
        ("patient/*.c", "c"),
    ],
)
def test_v1_and_v2_permissions_become_letters(text: str, letters: str) -> None:
    scope = parse_scope(text)
    assert scope is not None
    assert scope.permissions == frozenset(letters)


def test_granular_scope_keeps_its_restrictions() -> None:
    scope = parse_scope(
        "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    )
    assert scope is not None
    assert scope.restrictions == (
        ("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
    )


@pytest.mark.parametrize(
    "text", ["patient/Observation.dus", "patient/Observation.", "doctor/*.read", "patient/observation.read", "x"]
)
def test_malformed_scopes_are_not_understood(text: str) -> None:
    assert parse_scope(text) is None
    assert parse_scopes(text).unknown == (text,)


def test_non_resource_scopes_are_recognised() -> None:
    parsed = parse_scopes("openid fhirUser launch/patient offline_access patient/*.rs")
    assert parsed.other == {"openid", "fhirUser", "launch/patient", "offline_access"}
    assert [s.text for s in parsed.resource] == ["patient/*.rs"]


def test_narrow_keeps_what_the_registration_covers_in_requested_order() -> None:
    allowed = "openid fhirUser patient/*.cruds"
    requested = "patient/Patient.read user/*.rs openid patient/Observation.rs?category=x|y launch bogus"
    assert narrow(requested, allowed) == ["patient/Patient.read", "openid", "patient/Observation.rs?category=x|y"]


def test_a_refresh_scope_may_narrow_but_never_widen() -> None:
    granted = "openid patient/*.rs patient/Observation.rs?category=x|y"
    assert is_subset("patient/Patient.r", granted)
    assert is_subset(granted, granted)
    assert not is_subset("patient/*.cruds", granted)
    assert not is_subset("user/*.rs", granted)


@pytest.mark.parametrize(
    ("interaction", "letter"),
    [
        ("read", "r"),
        ("vread", "r"),
        ("history-instance", "r"),
        ("search-type", "s"),
        ("history-type", "s"),
        ("history-system", "s"),
        ("create", "c"),
        ("update", "u"),
        ("patch", "u"),
        ("delete", "d"),
        ("everything", "r"),
    ],
)
def test_interactions_need_their_letter(interaction: str, letter: str) -> None:
    assert permission_for(interaction) == letter


def test_may_follows_the_granted_letters_and_types() -> None:
    parsed = parse_scopes("patient/Patient.rs user/Appointment.cu")
    access = AccessContext(scopes=frozenset(parsed.resource), patient_id="p1")
    assert access.may("Patient", "read") and access.may("Patient", "search-type")
    assert not access.may("Patient", "update") and not access.may("Patient", "delete")
    assert access.may("Appointment", "patch") and access.may("Appointment", "create")
    assert not access.may("Appointment", "read")
    assert not access.may("Observation", "read")


def test_patient_scopes_need_a_patient_in_context() -> None:
    access = AccessContext(scopes=frozenset(parse_scopes("patient/*.rs").resource))
    assert not access.may("Patient", "read")
