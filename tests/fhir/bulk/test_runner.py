"""The bulk export runner (fhir_server.fhir.bulk.runner), run through the job queue on a seeded two-clinic world:
a consistent snapshot as of transactionTime, _since with deleted[], _typeFilter, _elements, Patient and Group level,
a patient's token, another clinic's data, file splitting, and files the independent validator accepts
(https://hl7.org/fhir/uv/bulkdata/STU2/export.html)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fhir.bulk.exports import BINARY_DATA, Export, World, export, params, seeded, settings_for
from tests.fhir_validator import validator_errors


@pytest.fixture(scope="module")
def module_auth_mode() -> str:
    """The runner is called with stored grants, not through HTTP: one world per database is enough."""
    return "off"


@pytest.fixture(scope="module")
def world(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with seeded(module_database_url, tmp_path_factory.mktemp("exports")) as seeded_world:
        yield seeded_world


@pytest.fixture(scope="module")
def clinic_a(world: World) -> Export:
    """The whole system as clinic A's backend service (system/*.rs) sees it as of the snapshot."""
    return export(world, params(world, "a"))


def test_a_system_export_is_the_snapshot_of_the_clinic(world: World, clinic_a: Export) -> None:
    ids = world.ids
    assert clinic_a.job.state == "completed", clinic_a.job.error
    assert clinic_a.ids("Patient") == {ids["p1"], ids["p2"]}
    # o1 as it was (amended later), o2 (deleted later) still there, o5 (created later) and o7 (deleted before) not
    assert clinic_a.ids("Observation") == {ids["o1"], ids["o2"], ids["o3"], ids["o6"]}
    o1 = next(r for r in clinic_a.all_lines() if r["id"] == ids["o1"])
    assert o1["status"] == "final" and o1["meta"]["versionId"] == "1"
    assert clinic_a.ids("Condition") == {ids["c1"]} and clinic_a.ids("Practitioner") == {ids["dr"]}
    assert clinic_a.ids("Group") == {ids["g1"]}
    assert ids["clinic_a"] in clinic_a.ids("Organization")
    [binary] = [r for r in clinic_a.all_lines() if r["resourceType"] == "Binary"]  # its content, as a read serves it
    assert binary["id"] == ids["b1"] and binary["data"] == BINARY_DATA
    assert clinic_a.job.result is not None
    for listed in clinic_a.job.result["output"]:
        assert listed["file"] == f"{listed['type']}-1.ndjson"
        assert listed["count"] == len(clinic_a.files[listed["file"]]) > 0
    assert clinic_a.job.result["deleted"] == [] and clinic_a.job.result["error"] == []


def test_another_clinic_sees_only_its_own(world: World, clinic_a: Export) -> None:
    ids = world.ids
    clinic_b = export(world, params(world, "b"))
    assert clinic_b.ids("Patient") == {ids["p3"]} and clinic_b.ids("Observation") == {ids["o4"]}
    seen_b = {r["id"] for r in clinic_b.all_lines()}
    seen_a = {r["id"] for r in clinic_a.all_lines()}
    assert not seen_a & {ids["p3"], ids["o4"], ids["clinic_b"]}
    assert not seen_b & {ids["p1"], ids["p2"], ids["o1"], ids["c1"], ids["g1"], ids["clinic_a"]}


def test_every_file_validates(clinic_a: Export, tmp_path: Path) -> None:
    assert validator_errors(clinic_a.all_lines(), tmp_path) == []


def test_files_hold_one_resource_per_utf8_line(world: World, clinic_a: Export) -> None:
    for path in clinic_a.directory.iterdir():
        data = path.read_bytes()
        assert data.endswith(b"\n") and b"\n\n" not in data and b"\r" not in data
        assert len(data.splitlines()) == len(clinic_a.files[path.name])
    assert "Twö 二".encode() in (clinic_a.directory / "Patient-1.ndjson").read_bytes()  # UTF-8, not \u escapes
    assert not list(clinic_a.directory.parent.glob(".*.partial"))


@pytest.fixture(scope="module")
def changed(world: World) -> Export:
    """What changed since ``since``, as clinic A's backend service sees it."""
    assert world.since is not None
    return export(world, params(world, "a", since=world.since.isoformat()))


def test_since_lists_changes_and_deletions(world: World, changed: Export) -> None:
    ids = world.ids
    assert changed.ids("Observation") == {ids["o6"]} and changed.ids("Condition") == {ids["c1"]}
    assert changed.ids("Patient") == set()
    assert changed.job.result is not None
    assert [f["type"] for f in changed.job.result["deleted"]] == ["Bundle"]
    bundles = changed.files[changed.job.result["deleted"][0]["file"]]
    assert bundles == [
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"request": {"method": "DELETE", "url": f"Observation/{ids['o7']}"}}],
        }
    ]


def test_type_filters_are_ored_and_each_match_written_once(world: World) -> None:
    ids = world.ids
    filters = {"Observation": ["status=final", "code=http://loinc.org|3333-3,6666-6"]}
    filtered = export(world, params(world, "a", types=["Observation"], type_filters=filters))
    assert filtered.ids("Observation") == {ids["o1"], ids["o3"], ids["o6"]}
    assert sum(len(lines) for lines in filtered.files.values()) == 3
    assert filtered.job.result is not None and [f["type"] for f in filtered.job.result["output"]] == ["Observation"]


def test_elements_subset_each_type(world: World, tmp_path: Path) -> None:
    ids = world.ids
    subset = export(world, params(world, "a", types=["Patient", "Observation"], elements=["Patient.name", "status"]))
    one = next(r for r in subset.all_lines() if r["id"] == ids["p1"])
    assert set(one) == {"resourceType", "id", "meta", "name"}
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"} in [
        {k: t[k] for k in ("system", "code")} for t in one["meta"]["tag"]
    ]
    o3 = next(r for r in subset.all_lines() if r["id"] == ids["o3"])
    assert "subject" not in o3 and o3["status"] == "final" and "code" in o3  # code: mandatory
    assert validator_errors(subset.all_lines(), tmp_path) == []


@pytest.fixture(scope="module")
def patient_level(world: World) -> Export:
    """Patient p2's compartment, with Practitioner asked for too (not in the compartment)."""
    types = ["Patient", "Observation", "Condition", "Practitioner"]
    return export(world, params(world, "a", level="patient", patients=[world.ids["p2"]], types=types))


def test_patient_level_confines_to_the_patients_compartments(world: World, patient_level: Export) -> None:
    ids = world.ids
    level = patient_level
    assert level.ids("Patient") == {ids["p2"]}
    assert level.ids("Observation") == {ids["o3"], ids["o6"]} and level.ids("Condition") == {ids["c1"]}
    assert level.ids("Practitioner") == set()
    assert level.job.result is not None
    [error] = level.job.result["error"]
    [outcome] = level.files[error["file"]]
    assert "Practitioner is not in the Patient compartment" in outcome["issue"][0]["diagnostics"]
    every = export(world, params(world, "a", level="patient"))
    assert every.ids("Patient") == {ids["p1"], ids["p2"]} and every.ids("Practitioner") == set()
    assert every.ids("Observation") == {ids["o1"], ids["o2"], ids["o3"], ids["o6"]}


def test_group_level_exports_the_members_compartments(world: World) -> None:
    ids = world.ids
    group = export(world, params(world, "a", level="group", group_id=ids["g1"]))
    assert group.ids("Patient") == {ids["p1"]} and group.ids("Observation") == {ids["o1"], ids["o2"]}
    assert group.ids("Condition") == set() and group.ids("Group") == {ids["g1"]}
    elsewhere = export(world, params(world, "b", level="group", group_id=ids["g1"]))
    assert elsewhere.job.state == "failed" and "Group/" in (elsewhere.job.error or "")
    assert not elsewhere.directory.exists()


def test_a_patient_token_exports_only_its_compartment(world: World) -> None:
    ids = world.ids
    mine = export(world, params(world, "p1"))
    assert mine.job.state == "completed", mine.job.error
    assert mine.ids("Patient") == {ids["p1"]} and mine.ids("Observation") == {ids["o1"], ids["o2"]}
    seen = {r["id"] for r in mine.all_lines()}
    assert not seen & {ids["p2"], ids["o3"], ids["o6"], ids["c1"], ids["p3"], ids["o4"]}


def test_files_split_at_the_configured_size(world: World, module_database_url: str) -> None:
    ids = world.ids
    small = settings_for(module_database_url, world.settings.export_dir, export_file_max_resources=3)
    split = export(world, params(world, "a", types=["Observation"]), small)
    assert split.job.result is not None
    assert [(f["file"], f["count"]) for f in split.job.result["output"]] == [
        ("Observation-1.ndjson", 3),
        ("Observation-2.ndjson", 1),
    ]
    assert split.ids("Observation") == {ids["o1"], ids["o2"], ids["o3"], ids["o6"]}


def test_deleted_bundles_and_error_outcomes_validate(changed: Export, patient_level: Export, tmp_path: Path) -> None:
    assert changed.job.result is not None and patient_level.job.result is not None
    lines = [r for f in changed.job.result["deleted"] for r in changed.files[f["file"]]]
    lines += [r for f in patient_level.job.result["error"] for r in patient_level.files[f["file"]]]
    assert {r["resourceType"] for r in lines} == {"Bundle", "OperationOutcome"}
    assert validator_errors(lines, tmp_path) == []
