"""Bulk export speed (issue 17 item 9): resources per second written to NDJSON by the export runner, and the peak
memory of the process running it, on PostgreSQL.

    python -m bench.bulk.export_speed --admin-url postgresql+psycopg://... [--patients 5000] [--ndjson DIR]
                                      [--file-max 100000]

Makes a fresh database (dropped at the end), migrates it, creates a clinic and loads the data into the version
history directly with COPY: ``--patients N`` synthetic patients with 2 appointments and 7 observations each (10
resources per patient), or the NDJSON files of ``--ndjson DIR`` (bench/bulk/generate.py's output). The load skips
the write pipeline (no search index rows): a system-level export without ``_typeFilter`` reads the version history
alone, so the export measured is the same. Then a separate process (so its peak RSS is the export's own) enqueues a
system-level ``$export`` of the clinic by a ``system/*.rs`` backend grant, runs it through the job queue
(``run_pending``) and prints ``name: value`` figures: resources, seconds, resources/s, files, peak RSS in MiB.
Run it at two sizes to see that memory stays flat.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.search.synthetic import appointment_resource, appointment_starts, patient_resource, practitioner_resource
from bench.search.timing import figure
from fhir_server.clinics import create_clinic
from fhir_server.db import Organization
from fhir_server.db.engine import Database
from fhir_server.db.migrate import upgrade
from fhir_server.db.types import utcnow
from fhir_server.fhir import pipeline

COLUMNS = "resource_type, resource_id, version_id, organization_id, last_updated, method, resource"
LOINC = "http://loinc.org"


def synthetic(patients: int) -> Iterator[dict[str, Any]]:
    """Per patient: the Patient, 2 Appointments with one of 50 practitioners, 7 heart-rate Observations."""
    for number in range(50):
        yield {**practitioner_resource(number), "id": f"dr-{number}"}
    for number in range(patients):
        patient = f"Patient/p-{number}"
        yield {**patient_resource(number), "id": f"p-{number}"}
        for i, start in enumerate(appointment_starts(number, 2)):
            yield {**appointment_resource(patient, f"Practitioner/dr-{number % 50}", start), "id": f"a-{number}-{i}"}
        for i in range(7):
            yield {
                "resourceType": "Observation",
                "id": f"o-{number}-{i}",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
                "subject": {"reference": patient},
                "effectiveDateTime": f"2024-01-{i + 1:02d}T08:00:00Z",
                "valueQuantity": {
                    "value": 60 + i,
                    "unit": "/min",
                    "system": "http://unitsofmeasure.org",
                    "code": "/min",
                },
            }


def from_files(directory: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(directory.glob("*.ndjson")):
        with path.open("rb") as lines:
            for line in lines:
                if line.strip():
                    yield orjson.loads(line)


def load(url: str, clinic: uuid.UUID, resources: Iterator[dict[str, Any]]) -> int:
    """COPY ``resources`` into the version history as version 1 of each, in ``clinic``; how many."""
    engine = create_engine(url)
    stamp = utcnow() - timedelta(minutes=5)
    count = 0
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        with cursor.copy(f"COPY resource_history ({COLUMNS}) FROM STDIN") as copy:
            for r in resources:
                r["meta"] = {"versionId": "1", "lastUpdated": stamp.isoformat().replace("+00:00", "Z")}
                copy.write_row((r["resourceType"], r["id"], 1, clinic, stamp, "create", orjson.dumps(r).decode()))
                count += 1
        connection.commit()
    finally:
        connection.close()
        engine.dispose()
    return count


def export_once(url: str, clinic_fhir_id: str, file_max: int) -> None:
    """The measured part (run in a process of its own): one export through the job queue, then the figures."""
    from fhir_server.fhir.bulk.runner import cleanup, run_export
    from fhir_server.jobs import queue
    from fhir_server.jobs.worker import register, run_pending
    from fhir_server.settings import load_settings
    from tests.backend_services import register_backend

    register("export", run_export, cleanup)
    with tempfile.TemporaryDirectory() as out:
        settings = load_settings(database_url=url, export_dir=out, export_file_max_resources=file_max)
        database = Database(url, finish=pipeline.finish)
        with database.write() as session:
            clinic = session.scalars(select(Organization).where(Organization.fhir_id == clinic_fhir_id)).one()
            client_id = register_backend(session, clinic, "system/*.rs")
            grant = {
                "scope": "system/*.rs",
                "client_id": client_id,
                "user_id": None,
                "role": None,
                "organization_id": str(clinic.id),
                "patient_id": None,
            }
            params = {
                "level": "system",
                "types": None,
                "since": None,
                "type_filters": {},
                "patients": None,
                "elements": None,
                "transaction_time": datetime.now(UTC).isoformat(),
                "group_id": None,
                "base_url": "http://bench/fhir",
                "request": "http://bench/fhir/$export",
                "grant": grant,
            }
            job = queue.enqueue(session, "export", params, organization_id=clinic.id, owner=client_id, expires_in=None)
            job_id = str(job.id)
        started = time.perf_counter()
        run_pending(database, settings, "bench")
        seconds = time.perf_counter() - started
        with database.read() as session:
            done = queue.find(session, job_id)
            assert done is not None and done.state == "completed", done and done.error
            output = done.result["output"] if done.result else []
        database.dispose()
    total = sum(f["count"] for f in output)
    figure("resources", total)
    figure("seconds", seconds)
    figure("resources_per_second", total / seconds)
    figure("files", len(output))
    figure("peak_rss_mib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("FHIR_SERVER_TEST_POSTGRES_URL"))
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--ndjson", type=Path)
    parser.add_argument("--file-max", type=int, default=100_000)
    parser.add_argument(
        "--export-only",
        nargs=2,
        metavar=("URL", "CLINIC"),
        help="no load: export the clinic (its Organization's FHIR id) of an existing database, e.g. one that "
        "`python -m bench.bulk.import_speed` filled through the write pipeline",
    )
    args = parser.parse_args(argv)
    if args.export_only:
        export_once(args.export_only[0], args.export_only[1], args.file_max)
        return
    if not args.admin_url:
        parser.error("--admin-url (or FHIR_SERVER_TEST_POSTGRES_URL) names a PostgreSQL server")
    name = f"fhir_export_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        database = Database(url, finish=pipeline.finish)
        with database.write() as session:
            clinic = create_clinic(session, "Bench Clinic")
            clinic_id, clinic_fhir_id = clinic.id, clinic.fhir_id
        database.dispose()
        resources = from_files(args.ndjson) if args.ndjson else synthetic(args.patients)
        started = time.perf_counter()
        figure("loaded", load(url, clinic_id, resources))
        figure("load_seconds", time.perf_counter() - started)
        with create_engine(url).connect() as conn:
            conn.execute(text("ANALYZE resource_history"))
            conn.commit()
        command = [
            sys.executable,
            "-m",
            "bench.bulk.export_speed",
            "--export-only",
            url,
            clinic_fhir_id,
            "--file-max",
            str(args.file_max),
        ]
        subprocess.run(command, check=True)  # noqa: S603 (this same script, with the URL it made)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
