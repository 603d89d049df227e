"""FHIRPath Patch on resource JSON (http://hl7.org/fhir/R4/fhirpatch.html), without a database."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.errors import FhirError
from fhir_server.fhir import fhirpath_patch, fhirpath_patch_paths

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"family": "Doe", "given": ["Jane", "Q"], "_given": [None, {"extension": [{"url": "urn:x"}]}]}],
    "extension": [{"url": "urn:colour", "valueString": "blue"}, {"url": "urn:size", "valueString": "L"}],
    "deceasedBoolean": False,
    "contact": [{"name": {"family": "Roe"}}],
}


def _op(kind: str, path: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "operation",
        "part": [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}, *extra],
    }


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return fhirpath_patch.apply(PATIENT, {"resourceType": "Parameters", "parameter": list(operations)})


def _failure(*operations: dict[str, Any]) -> FhirError:
    with pytest.raises(FhirError) as caught:
        _patch(*operations)
    return caught.value


def test_select_follows_members_indexes_and_where() -> None:
    assert [n.value for n in fhirpath_patch_paths.select(PATIENT, "Patient.name[0].given")] == ["Jane", "Q"]
    assert [n.value for n in fhirpath_patch_paths.select(PATIENT, "name.given.where($this = 'Q')")] == ["Q"]
    assert [n.value for n in fhirpath_patch_paths.select(PATIENT, "Patient.name.given.last()")] == ["Q"]


def test_select_reads_a_choice_element_by_its_plain_name() -> None:
    [node] = fhirpath_patch_paths.select(PATIENT, "Patient.deceased")
    assert node.value is False and node.key == "deceasedBoolean"


def test_select_finds_an_extension_by_url() -> None:
    [node] = fhirpath_patch_paths.select(PATIENT, "Patient.extension('urn:size')")
    assert node.value["valueString"] == "L"


def test_delete_removes_a_primitive_with_its_extension_sibling() -> None:
    patched = _patch(_op("delete", "Patient.name[0].given[1]"))
    assert patched["name"][0]["given"] == ["Jane"]
    assert patched["name"][0]["_given"] == [None]


def test_delete_of_nothing_changes_nothing() -> None:
    assert _patch(_op("delete", "Patient.birthDate")) == PATIENT


def test_delete_of_the_last_list_element_removes_the_list() -> None:
    assert "contact" not in _patch(_op("delete", "Patient.contact[0]"))


def test_the_original_resource_is_never_changed() -> None:
    before = repr(PATIENT)
    _patch(_op("delete", "Patient.name"), _op("delete", "Patient.deceased"))
    assert repr(PATIENT) == before


def test_replace_a_choice_element_with_another_type_changes_its_key() -> None:
    patched = _patch(_op("replace", "Patient.deceased", {"name": "value", "valueDateTime": "2020-01-01T00:00:00Z"}))
    assert patched["deceasedDateTime"] == "2020-01-01T00:00:00Z"
    assert "deceasedBoolean" not in patched


def test_add_builds_a_backbone_element_from_parts() -> None:
    value = {
        "name": "value",
        "part": [
            {"name": "name", "valueHumanName": {"family": "Poe"}},
            {"name": "telecom", "valueContactPoint": {"system": "phone", "value": "1"}},
        ],
    }
    patched = _patch(_op("add", "Patient", {"name": "name", "valueString": "contact"}, value))
    assert patched["contact"][1] == {"name": {"family": "Poe"}, "telecom": [{"system": "phone", "value": "1"}]}


def test_add_to_a_single_element_that_has_a_value_is_refused() -> None:
    error = _failure(
        _op("add", "Patient", {"name": "name", "valueString": "deceased"}, {"name": "value", "valueBoolean": True})
    )
    assert error.status == 422
    assert error.issues[0].expression == ("Parameters.parameter[0]",)


def test_add_of_an_unknown_element_is_refused() -> None:
    error = _failure(
        _op("add", "Patient", {"name": "name", "valueString": "colour"}, {"name": "value", "valueString": "x"})
    )
    assert error.status == 422 and "colour" in error.issues[0].diagnostics


def test_insert_past_the_end_is_refused() -> None:
    error = _failure(
        _op(
            "insert",
            "Patient.contact",
            {"name": "index", "valueInteger": 5},
            {"name": "value", "part": [{"name": "name", "valueHumanName": {"family": "Poe"}}]},
        )
    )
    assert error.status in (400, 422)
    assert error.issues[0].expression == ("Parameters.parameter[0]",)


def test_insert_into_an_absent_list_creates_it() -> None:
    value = {"name": "value", "valueIdentifier": {"value": "1"}}
    patched = _patch(_op("insert", "Patient.identifier", {"name": "index", "valueInteger": 0}, value))
    assert patched["identifier"] == [{"value": "1"}]


def test_move_reorders_a_list() -> None:
    patched = _patch(
        _op(
            "move",
            "Patient.extension",
            {"name": "source", "valueInteger": 1},
            {"name": "destination", "valueInteger": 0},
        )
    )
    assert [e["url"] for e in patched["extension"]] == ["urn:size", "urn:colour"]


def test_replace_needs_exactly_one_element() -> None:
    error = _failure(_op("replace", "Patient.name.given", {"name": "value", "valueString": "X"}))
    assert error.status == 422 and "selects 2" in error.issues[0].diagnostics


@pytest.mark.parametrize("path", ["Patient.name.(given)", "Patient..name", "Patient.name.where(given = 'x'"])
def test_a_malformed_path_is_400(path: str) -> None:
    error = _failure(_op("delete", path))
    assert error.status in (400, 422)
    assert error.issues[0].expression == ("Parameters.parameter[0]",)


def test_a_bad_where_criteria_is_400() -> None:
    assert _failure(_op("delete", "Patient.name.where(given =)")).status == 400
