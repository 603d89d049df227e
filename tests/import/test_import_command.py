"""`fhir-server import`: NDJSON files through the write pipeline, every line accounted for, on both databases."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from fhir_server.access.context import OPEN
from fhir_server.cli import app
from fhir_server.db.engine import Database
from fhir_server.errors import FhirError
from fhir_server.fhir import repository

runner = CliRunner()


def run(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"FHIR_SERVER_DATABASE_URL": url})
    return result.exit_code, result.output


def lines(*values: Any) -> bytes:
    return b"".join((v if isinstance(v, bytes) else orjson.dumps(v)) + b"\n" for v in values)


def patient(pid: str, **more: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": f"Import-{pid}"}], **more}


def observation(oid: str, subject: str, **more: Any) -> dict[str, Any]:
    code = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": code,
            "subject": {"reference": subject}, "valueQuantity": {"value": 60}, **more}  # fmt: skip


def appointment(aid: str, pid: str) -> dict[str, Any]:
    actors = [{"actor": {"reference": r}, "status": "accepted"} for r in (f"Patient/{pid}", "Practitioner/imp-dr")]
    return {"resourceType": "Appointment", "id": aid, "status": "booked", "start": "2026-03-02T09:00:00Z",
            "end": "2026-03-02T09:30:00Z", "participant": actors}  # fmt: skip


def write_files(directory: Path) -> None:
    """Files named so that reading them in name order meets every reference before its target."""
    directory.mkdir()
    (directory / "Appointment.ndjson").write_bytes(lines(appointment("imp-a1", "imp-p1")))  # its Patient: a later file
    (directory / "Patient.ndjson").write_bytes(
        lines(
            patient("imp-p1", generalPractitioner=[{"reference": "Practitioner/imp-dr"}]),
            b'{"resourceType": "Patient", "id": "imp-broken"',  # line 2: not JSON
            patient("imp-bad", gender="robot"),  # line 3: breaks the required binding
            b"",  # line 4: blank, skipped
            patient("imp-p2"),
        )
    )
    (directory / "Practitioner.ndjson").write_bytes(
        lines({"resourceType": "Practitioner", "id": "imp-dr", "name": [{"family": "Import"}]})
    )
    with gzip.open(directory / "Observation.ndjson.gz", "wb") as stream:
        stream.write(
            lines(
                observation("imp-panel", "Patient/imp-p1", hasMember=[{"reference": "Observation/imp-o1"}]),  # later
                observation("imp-orphan", "Patient/imp-nobody"),  # line 2: names nothing
                observation("imp-o1", "Patient/imp-p2"),
                observation("imp-gone", "Patient/imp-p2"),
            )
        )
    deletion = {"resourceType": "Bundle", "type": "transaction",
                "entry": [{"request": {"method": "DELETE", "url": "Observation/imp-gone"}},
                          {"request": {"method": "DELETE", "url": "Observation/imp-never"}}]}  # fmt: skip
    (directory / "deleted.ndjson").write_bytes(lines(deletion))


def read(url: str, resource_type: str, resource_id: str) -> dict[str, Any]:
    database = Database(url)
    try:
        with database.read() as session:
            return repository.read(session, OPEN, resource_type, resource_id)
    finally:
        database.dispose()


def test_import_writes_every_good_line_reports_each_bad_one_and_repeats_idempotently(
    database_url: str, tmp_path: Path
) -> None:
    assert run(database_url, "clinics", "create", "--name", "Import Clinic")[0] == 0
    directory = tmp_path / "export"
    write_files(directory)

    report = tmp_path / "report.ndjson"
    code, output = run(database_url, "import", str(directory), "--batch-size", "2", "--report", str(report))

    assert code == 1, output
    fates = {
        (Path(r["file"]).name, r["line"], r.get("id")): r["action"]
        for r in map(orjson.loads, report.read_bytes().splitlines())
    }
    assert fates == {
        ("Appointment.ndjson", 1, "imp-a1"): "created",
        ("Patient.ndjson", 1, "imp-p1"): "created",
        ("Patient.ndjson", 2, None): "failed",
        ("Patient.ndjson", 3, "imp-bad"): "failed",
        ("Patient.ndjson", 5, "imp-p2"): "created",
        ("Practitioner.ndjson", 1, "imp-dr"): "created",
        ("Observation.ndjson.gz", 1, "imp-panel"): "created",
        ("Observation.ndjson.gz", 2, "imp-orphan"): "failed",
        ("Observation.ndjson.gz", 3, "imp-o1"): "created",
        ("Observation.ndjson.gz", 4, "imp-gone"): "created",
        ("deleted.ndjson", 1, "imp-gone"): "deleted",
        ("deleted.ndjson", 1, "imp-never"): "absent",
    }
    assert f"{directory / 'Patient.ndjson'}:2: ? failed: the line is not valid JSON" in output
    bad = f"{directory / 'Patient.ndjson'}:3: Patient/imp-bad failed: "
    assert bad in output and "[Patient.gender]" in output.split(bad)[1].splitlines()[0]
    orphan = f"{directory / 'Observation.ndjson.gz'}:2: Observation/imp-orphan failed (retried after the other lines): "
    assert orphan in output and "Patient/imp-nobody" in output.split(orphan)[1].splitlines()[0]
    assert "rolled back and its lines are written one at a time" in output  # what became of the orphan's batch
    assert "11 lines: 8 resources written, 3 lines failed" in output
    for resource_type, resource_id in [("Patient", "imp-p1"), ("Patient", "imp-p2"), ("Practitioner", "imp-dr"),
                                       ("Appointment", "imp-a1"), ("Observation", "imp-o1")]:  # fmt: skip
        assert read(database_url, resource_type, resource_id)["meta"]["versionId"] == "1"
    panel = read(database_url, "Observation", "imp-panel")  # its member came later in the same file
    assert panel["hasMember"] == [{"reference": "Observation/imp-o1"}]
    assert read(database_url, "Appointment", "imp-a1")["participant"][0]["actor"]["reference"] == "Patient/imp-p1"
    with pytest.raises(FhirError) as deleted:
        read(database_url, "Observation", "imp-gone")
    assert deleted.value.status == 410
    for missing in ("imp-bad", "imp-orphan"):
        with pytest.raises(FhirError) as unknown:
            read(database_url, "Patient" if missing == "imp-bad" else "Observation", missing)
        assert unknown.value.status == 404

    code, again = run(database_url, "import", str(directory))  # the same files: updates, nothing new

    assert code == 1 and "11 lines: 8 resources written, 3 lines failed" in again, again
    total = next(line for line in again.splitlines() if "total" in line).split()
    assert [c for c in total if c.isdigit()] == ["0", "7", "1", "1", "3"]  # created updated deleted absent failed
    assert read(database_url, "Patient", "imp-p1")["meta"]["versionId"] == "1"  # an equal update records no version


def test_import_into_a_named_clinic_and_refuses_an_unknown_one(database_url: str, tmp_path: Path) -> None:
    assert run(database_url, "clinics", "create", "--name", "First Clinic")[0] == 0
    assert run(database_url, "clinics", "create", "--name", "Second Clinic")[0] == 0
    source = tmp_path / "patients.ndjson"
    source.write_bytes(lines(patient("imp-c1")))

    code, output = run(database_url, "import", str(source))  # two clinics, none named: each line says so
    assert code == 1 and "cannot tell which clinic" in output, output
    (tmp_path / "broken.ndjson.gz").write_bytes(gzip.compress(lines(patient("imp-c2")))[:-12])  # truncated
    for wrong, message in [(tmp_path / "nowhere", "is neither a file nor a directory"), (tmp_path, "cannot be read")]:
        code, output = run(database_url, "import", str(wrong))  # refused before anything is written
        assert code == 1 and message in " ".join(output.split()), output
    code, output = run(database_url, "import", str(source), "--clinic", "No Such Clinic")
    assert code == 1 and "no clinic matches 'No Such Clinic'" in output, output
    code, output = run(database_url, "import", str(source), "--clinic", "Second Clinic", "--batch-size", "1")
    assert code == 0 and "1 lines: 1 resources written, 0 lines failed" in output, output
    clinic = read(database_url, "Patient", "imp-c1")["managingOrganization"]["reference"]
    assert read(database_url, clinic.split("/")[0], clinic.split("/")[1])["name"] == "Second Clinic"
