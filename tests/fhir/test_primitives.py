"""The FHIR primitives every package reads the same way: the id syntax and literal references."""

from __future__ import annotations

import pytest

from fhir_server.fhir.primitives import LiteralReference, is_id, literal_reference, version_number


@pytest.mark.parametrize("value", ["1", "a-B.9", "x" * 64])
def test_accepts_fhir_ids(value: str) -> None:
    assert is_id(value)


@pytest.mark.parametrize("value", ["", "x" * 65, "a_b", "a/b", "a b", "1\n"])
def test_refuses_what_is_not_a_fhir_id(value: str) -> None:
    assert not is_id(value)


def test_reads_a_relative_reference() -> None:
    assert literal_reference("Patient/p-1") == LiteralReference("Patient", "p-1")


def test_reads_a_versioned_reference() -> None:
    literal = _parsed("Patient/p-1/_history/3")
    assert literal == LiteralReference("Patient", "p-1", "3")
    assert literal.unversioned == "Patient/p-1" and literal.text == "Patient/p-1/_history/3"


def test_reads_an_absolute_reference_with_its_base() -> None:
    literal = _parsed("https://example.org/fhir/Observation/o.1/_history/2")
    assert literal == LiteralReference("Observation", "o.1", "2", "https://example.org/fhir")
    assert literal.unversioned == "https://example.org/fhir/Observation/o.1"


@pytest.mark.parametrize(
    "reference", ["#contained", "urn:uuid:0d4c1b52-3a36-4b4f-8a89-4e2f4e4b5b6e", "Patient?identifier=x", "patient/1"]
)
def test_other_references_are_not_literal(reference: str) -> None:
    assert literal_reference(reference) is None


@pytest.mark.parametrize("reference", ["Patient/" + "x" * 65, "Patient/a b", "Patient/1/_history/", "Patient/1/"])
def test_malformed_literals_are_not_literal(reference: str) -> None:
    assert literal_reference(reference) is None


def _parsed(reference: str) -> LiteralReference:
    literal = literal_reference(reference)
    assert literal is not None
    return literal


def test_names_only_a_relative_unversioned_reference_to_the_type() -> None:
    assert _parsed("Questionnaire/q1").names("Questionnaire")
    assert not _parsed("Questionnaire/q1/_history/1").names("Questionnaire")
    assert not _parsed("http://x/Questionnaire/q1").names("Questionnaire")
    assert not _parsed("Patient/q1").names("Questionnaire")


@pytest.mark.parametrize(
    ("text", "number"), [("1", 1), ("42", 42), ("007", 7), ("2147483647", 2147483647), ("0" * 30 + "5", 5)]
)
def test_reads_a_version_number(text: str, number: int) -> None:
    assert version_number(text) == number


@pytest.mark.parametrize("text", ["", "-1", "1.0", "v1", "\u00b2", "\u0661", "2147483648", "99999999999", "9" * 5000])
def test_a_version_no_row_can_have_is_none(text: str) -> None:
    assert version_number(text) is None
