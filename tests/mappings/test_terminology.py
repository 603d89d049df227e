"""ConceptMaps in mappings/conceptmaps/: valid R4, complete for the clinic's vocabularies, translated both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.conceptmap import ConceptMap

from fhir_server.db.vocab import APPOINTMENT_STATUSES, CANCELLATION_TYPES, VISIT_CATEGORIES, VISIT_TYPES
from fhir_server.paths import project_dir
from mappings import CANONICAL_BASE, terminology
from mappings.registry import MAPPINGS

MAP_IDS = sorted(terminology.conceptmaps())
OWN_MAPS = [i for i in MAP_IDS if i.startswith(("appointment-", "practitioner-"))]
VOCABULARIES = {
    "appointment-status": APPOINTMENT_STATUSES,
    "appointment-visit-type": VISIT_TYPES,
    "appointment-visit-category": VISIT_CATEGORIES,
    "appointment-cancellation-type": CANCELLATION_TYPES,
}


def official_codes(code_system: str) -> set[str]:
    """Every code of an official R4 CodeSystem in conformance/required-binding-valuesets.json."""
    bundle = json.loads((project_dir("conformance") / "required-binding-valuesets.json").read_text(encoding="utf-8"))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "CodeSystem" and resource["url"] == code_system:
            return _codes(resource.get("concept", []))
    raise LookupError(code_system)


def _codes(concepts: list[dict[str, Any]]) -> set[str]:
    return {c["code"] for c in concepts} | {code for c in concepts for code in _codes(c.get("concept", []))}


def _targets(conceptmap_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (element["code"], target)
        for group in terminology.conceptmaps()[conceptmap_id]["group"]
        for element in group["element"]
        for target in element.get("target", [])
    ]


@pytest.mark.parametrize("conceptmap_id", MAP_IDS)
def test_every_conceptmap_is_valid_r4_under_our_canonical_base(conceptmap_id: str) -> None:
    resource = terminology.conceptmaps()[conceptmap_id]
    ConceptMap.model_validate(resource)
    assert resource["url"] == f"{CANONICAL_BASE}/ConceptMap/{conceptmap_id}"


@pytest.mark.parametrize("conceptmap_id", OWN_MAPS)
def test_narrower_and_unmatched_targets_say_why(conceptmap_id: str) -> None:
    """R4 invariant cmd-1 (and the meaning of unmatched): such a target carries a comment."""
    for code, target in _targets(conceptmap_id):
        if target["equivalence"] in {"narrower", "inexact", "unmatched"}:
            assert target.get("comment"), f"{conceptmap_id}: {code} -> {target.get('code')} has no comment"
        if target["equivalence"] != "unmatched":
            assert target.get("code"), f"{conceptmap_id}: {code} has a target without a code"


def test_every_conceptmap_a_mapping_names_exists() -> None:
    named = {conceptmap_id for mapping in MAPPINGS.values() for conceptmap_id in mapping.conceptmaps}
    assert named <= set(MAP_IDS)
    assert set(VOCABULARIES) <= set(MAPPINGS["Appointment"].conceptmaps)


@pytest.mark.parametrize(("conceptmap_id", "vocabulary"), sorted(VOCABULARIES.items()))
def test_every_code_of_the_clinic_is_mapped(conceptmap_id: str, vocabulary: tuple[str, ...]) -> None:
    assert set(terminology.source_codes(conceptmap_id)) == set(vocabulary)


def test_every_fhir_appointment_status_reads_as_a_clinic_status() -> None:
    system = terminology.target_system("appointment-status")
    for code in official_codes(system):
        assert terminology.reverse("appointment-status", system, code) in APPOINTMENT_STATUSES


def test_appointment_status_targets_are_official_codes() -> None:
    system = terminology.target_system("appointment-status")
    assert {target["code"] for _, target in _targets("appointment-status")} <= official_codes(system)


@pytest.mark.parametrize("conceptmap_id", OWN_MAPS)
def test_an_equivalent_translation_reads_back_as_its_code(conceptmap_id: str) -> None:
    system = terminology.target_system(conceptmap_id)
    for code, target in _targets(conceptmap_id):
        if target["equivalence"] == "equivalent":
            assert terminology.translate(conceptmap_id, code).code == target["code"]
            assert terminology.reverse(conceptmap_id, system, target["code"]) == code


@pytest.mark.parametrize(
    ("conceptmap_id", "code", "fhir_code"),
    [
        ("appointment-status", "unconfirmed", "pending"),
        ("appointment-status", "no-show", "noshow"),
        ("appointment-visit-category", "new-patient", "ROUTINE"),
        ("appointment-visit-type", "virtual", "VR"),
        ("appointment-cancellation-type", "rescheduled-externally", "other"),
        ("practitioner-specialty", "Cardiology", "207RC0000X"),
    ],
)
def test_translate_gives_the_served_coding(conceptmap_id: str, code: str, fhir_code: str) -> None:
    translation = terminology.translate(conceptmap_id, code)
    assert (translation.system, translation.code) == (terminology.target_system(conceptmap_id), fhir_code)


@pytest.mark.parametrize(
    ("conceptmap_id", "fhir_code", "code"),
    [
        ("appointment-status", "checked-in", "arrived"),
        ("appointment-status", "entered-in-error", "cancelled"),
        ("appointment-cancellation-type", "other", "other"),
        ("appointment-cancellation-type", "pat-mv", "patient-cancelled"),
        ("appointment-cancellation-type", "maint", "clinic-cancelled"),
    ],
)
def test_reverse_gives_the_clinics_code(conceptmap_id: str, fhir_code: str, code: str) -> None:
    assert terminology.reverse(conceptmap_id, terminology.target_system(conceptmap_id), fhir_code) == code


def test_codes_without_a_mapping_raise_key_error() -> None:
    with pytest.raises(KeyError):
        terminology.translate("appointment-cancellation-type", "no-show")  # unmatched on purpose
    with pytest.raises(KeyError):
        terminology.reverse("appointment-visit-category", "http://terminology.hl7.org/CodeSystem/v2-0276", "WALKIN")
    with pytest.raises(KeyError):
        terminology.reverse("appointment-status", "http://example.org/other-system", "booked")


def test_source_system_codes_and_known_targets() -> None:
    assert terminology.source_system("appointment-visit-type") == f"{CANONICAL_BASE}/CodeSystem/visit-type"
    assert terminology.source_codes("appointment-visit-type") == {"in-clinic": "In clinic", "virtual": "Virtual"}
    assert terminology.known_targets("appointment-visit-type") == [
        "http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB",
        "http://terminology.hl7.org/CodeSystem/v3-ActCode|VR",
    ]
