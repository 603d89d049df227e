"""NDJSON for the bulk benchmarks (issue 17): a clinic's patients with appointments and a clinical record.

    python -m bench.bulk.generate OUT_DIR [--patients 100000] [--practitioners 200] [--clinic-id ID]
                                          [--full-record] [--gzip]

Writes one file per resource type (``Patient.ndjson``, ``Observation.ndjson``, ...; ``.ndjson.gz`` with ``--gzip``),
as a Bulk Data export lays them out, streaming patient by patient (memory stays flat at any scale). Per patient:
the Patient (bench/search/synthetic.py's patient ``n``, its general practitioner one of the practitioners), two
30-minute Appointments (a completed one and a booked one) and a clinical record cut from the demo's
(fhir_server/demo/record.py: the check-up and the visit Encounters, conditions, an allergy, a few vital signs):
10 resources per patient, so the default 100,000 patients make 1,000,000 resources. ``--full-record`` keeps the
whole demo record (about 25 resources per patient: labs, medications, immunizations, a note, the care team).

``--clinic-id`` is the FHIR id of the target server's clinic Organization (``fhir-server clinics create`` prints
it): the file Organization.ndjson then holds that Organization, and each Patient's ``managingOrganization``
names it. Without it there is no Organization file and the patients name no clinic (the import puts them in the
default clinic, or the one ``fhir-server import --clinic`` names). Ids are deterministic (``bulk-p<n>``, ...), so
generating again gives the same files and importing them again changes nothing.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

import orjson

from bench.search.synthetic import appointment_resource, appointment_starts, patient_resource, practitioner_resource
from fhir_server.demo.record import PatientFacts, Visit, patient_record

RECORD_TYPES = ("Encounter", "Condition", "AllergyIntolerance")
"""The demo record's types kept whole when the record is cut; vital-sign Observations fill the rest."""
PER_PATIENT = 10


class Writer:
    """One NDJSON file per resource type under ``directory``, opened on first use."""

    def __init__(self, directory: Path, gz: bool) -> None:
        self.directory, self.gz = directory, gz
        self.files: dict[str, IO[bytes]] = {}
        self.stack = ExitStack()
        self.counts: dict[str, int] = {}

    def write(self, resource: dict[str, Any]) -> None:
        resource_type = resource["resourceType"]
        stream = self.files.get(resource_type)
        if stream is None:
            name = f"{resource_type}.ndjson" + (".gz" if self.gz else "")
            path = self.directory / name
            opened = gzip.GzipFile(path, "wb", compresslevel=1) if self.gz else path.open("wb")
            stream = self.files[resource_type] = self.stack.enter_context(cast(IO[bytes], opened))
        stream.write(orjson.dumps(resource) + b"\n")
        self.counts[resource_type] = self.counts.get(resource_type, 0) + 1

    def close(self) -> None:
        self.stack.close()


def clinic_organization(clinic_id: str) -> dict[str, Any]:
    """The clinic's Organization (http://hl7.org/fhir/R4/organization.html) under the target clinic's id."""
    return {"resourceType": "Organization", "id": clinic_id, "active": True, "name": "Bulk Benchmark Clinic"}


def practitioner(number: int) -> dict[str, Any]:
    return {**practitioner_resource(number), "id": f"bulk-dr{number}"}


def patient_resources(number: int, practitioners: int, clinic_id: str | None, full: bool) -> list[dict[str, Any]]:
    """Patient ``number``, its two appointments (the first completed, the second booked) and its record."""
    patient = {**patient_resource(number), "id": f"bulk-p{number}"}
    gp = f"bulk-dr{number % practitioners}"
    other = f"bulk-dr{(number * 7 + 1) % practitioners}"
    patient["generalPractitioner"] = [{"reference": f"Practitioner/{gp}"}]
    if clinic_id is not None:
        patient["managingOrganization"] = {"reference": f"Organization/{clinic_id}"}
    starts = appointment_starts(number, 2)
    appointments = []
    for index, (start, doctor) in enumerate(zip(starts, (other, gp), strict=True)):
        appointment = appointment_resource(f"Patient/{patient['id']}", f"Practitioner/{doctor}", start)
        appointment["id"] = f"bulk-a{number}-{index}"
        appointment["status"] = "fulfilled" if index == 0 else "booked"
        appointments.append(appointment)
    facts = PatientFacts(
        key=f"bulk{number}",
        patient_id=patient["id"],
        birth_date=datetime.fromisoformat(patient["birthDate"]).date(),
        clinic_id=clinic_id or "",
        gp_id=gp,
        seen=(other,),
        checkup=starts[0] - timedelta(days=random.Random(number).randint(20, 200)),
        visit=Visit(appointments[0]["id"], other, starts[0], starts[0] + timedelta(minutes=30), "Follow-up"),
    )
    record = patient_record(facts)
    if not full:
        record = _cut(record, PER_PATIENT - 3)
    return [patient, *appointments, *record]


def _cut(record: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """The record's encounters, conditions and allergy, then vital signs up to ``size`` resources (each resource
    still after those it references)."""
    kept = [r for r in record if r["resourceType"] in RECORD_TYPES]
    vitals = [r for r in record if r["resourceType"] == "Observation" and _is_vital(r)]
    chosen = {id(r) for r in kept + vitals[: max(0, size - len(kept))]}
    return [r for r in record if id(r) in chosen][:size]


def _is_vital(observation: dict[str, Any]) -> bool:
    return any(c.get("code") == "vital-signs" for cat in observation.get("category", []) for c in cat.get("coding", []))


def generate(
    directory: Path, patients: int, practitioners: int, clinic_id: str | None, full: bool, gz: bool
) -> dict[str, int]:
    """Write the files; the number of resources of each type."""
    directory.mkdir(parents=True, exist_ok=True)
    writer = Writer(directory, gz)
    try:
        if clinic_id is not None:
            writer.write(clinic_organization(clinic_id))
        for number in range(practitioners):
            writer.write(practitioner(number))
        for number in range(patients):
            for resource in patient_resources(number, practitioners, clinic_id, full):
                writer.write(resource)
    finally:
        writer.close()
    return writer.counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the directory to write the NDJSON files into")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--practitioners", type=int, default=200)
    parser.add_argument("--clinic-id", help="the FHIR id of the target server's clinic Organization")
    parser.add_argument("--full-record", action="store_true", help="the whole demo record (~25 per patient)")
    parser.add_argument("--gzip", action="store_true", help="write .ndjson.gz files")
    options = parser.parse_args(argv)
    started = datetime.now(UTC)
    counts = generate(
        options.out, options.patients, options.practitioners, options.clinic_id, options.full_record, options.gzip
    )
    seconds = (datetime.now(UTC) - started).total_seconds()
    for resource_type, count in sorted(counts.items()):
        print(f"{resource_type}: {count}")
    print(f"total: {sum(counts.values())} resources in {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
