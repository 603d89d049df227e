"""Import speed (issue 17): N generated patients loaded through ``fhir-server import`` into PostgreSQL, indexing
included; resources/s, the importer's CPU per resource and its peak memory.

    python -m bench.bulk.import_speed --database-url URL [--create] [--patients 100000] [--batch-size 500]
                                      [--jobs 2] [--data DIR]

``--database-url`` names the database to fill (``postgresql+psycopg://...``); ``--create`` creates it first on that
server (it must not exist yet). The script migrates it, creates the clinic "Bulk Benchmark Clinic" unless it is
there, writes the NDJSON of bench/bulk/generate.py for that clinic into ``--data`` (default: a temporary directory,
removed afterwards) and times ``fhir-server import`` on it as a separate process. The database keeps the data: the
export benchmark runs on it. Prints ``name: value`` lines (the machine's load average before and after, since
throughput on a shared machine moves with the other load; the CPU figures hardly do).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.bulk.generate import generate
from fhir_server.clinics import create_clinic
from fhir_server.db import Organization
from fhir_server.db.engine import Database
from fhir_server.db.migrate import upgrade
from fhir_server.fhir import pipeline

CLINIC = "Bulk Benchmark Clinic"
CLI = [sys.executable, "-c", "from fhir_server.cli import main; main()"]


def create_database(url: str) -> None:
    """Create the database ``url`` names, on its server (connected through its ``postgres`` database)."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def clinic_id(url: str) -> str:
    """The FHIR id of the benchmark clinic's Organization, created when missing."""
    database = Database(url, finish=pipeline.finish)
    try:
        with database.write() as session:
            query = select(Organization.fhir_id).where(Organization.is_clinic, Organization.name == CLINIC)
            found = session.scalars(query).first()
            if found is None:
                clinic = create_clinic(session, CLINIC)
                pipeline.flush(session)
                found = clinic.fhir_id
            return found
    finally:
        database.dispose()


def run_import(url: str, data: Path, batch_size: int, jobs: int) -> tuple[float, float, int]:
    """Seconds, CPU seconds (user + system, worker processes included) and exit status of the import."""
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": url}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [*CLI, "import", str(data), "--batch-size", str(batch_size), "--jobs", str(jobs)]
    done = subprocess.run(command, env=env, check=False, stdout=subprocess.PIPE, text=True)  # noqa: S603 (our command)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "(no output)", file=sys.stderr)
    return seconds, cpu, done.returncode


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--create", action="store_true", help="create the database first (it must not exist)")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--practitioners", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=2, help="fhir-server import --jobs")
    parser.add_argument("--data", type=Path, help="where to write the NDJSON (kept); default: a temporary directory")
    options = parser.parse_args(argv)
    if options.create:
        create_database(options.database_url)
    upgrade(options.database_url)
    data = options.data or Path(tempfile.mkdtemp(prefix="bulk-import-"))
    try:
        counts = generate(data, options.patients, options.practitioners, clinic_id(options.database_url), False, False)
        total = sum(counts.values())
        load_before = os.getloadavg()[0]
        seconds, cpu, status = run_import(options.database_url, data, options.batch_size, options.jobs)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        if options.data is None:
            shutil.rmtree(data, ignore_errors=True)
    print(f"resources: {total}")
    print(f"seconds: {seconds:.1f}")
    print(f"resources_per_second: {total / seconds:.0f}")
    print(f"importer_cpu_ms_per_resource: {1000 * cpu / total:.2f}")
    print(f"importer_peak_rss_mb: {peak:.0f}")
    print(f"load_average_before_after: {load_before:.2f} {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    if status != 0:
        sys.exit(f"the import failed (exit status {status})")


if __name__ == "__main__":
    main()
