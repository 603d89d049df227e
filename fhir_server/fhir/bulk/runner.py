"""The export job (kind ``export``): the NDJSON files of one ``$export`` as of its ``transactionTime``
(https://hl7.org/fhir/uv/bulkdata/STU2/export.html) and the result the status endpoint turns into the manifest.

:func:`run_export` starts from nothing (whatever an earlier attempt left is removed), writes every file into a
staging directory and renames that directory to the job's own (``FHIR_SERVER_EXPORT_DIR/<job id>``) only when all
are complete: a manifest never names a half-written file, and a cancelled or failed run leaves no file behind. It
reports progress after every batch (``ctx.progress``, which raises ``JobCancelled`` once the job is cancelled or
its lease lost: that propagates, and the staging directory goes with it). :func:`cleanup` deletes the job's files.
An export that tests search index rows (filters, compartments, a patient's scopes) must be read within
:data:`INDEX_WINDOW` of its transactionTime, while the index rows of versions superseded since are kept; later it
fails saying so rather than write a snapshot with resources missing.

Speed: without ``_elements``, a resource's stored JSON text is copied to the file as the database holds it (one
line: JSONB's text form on PostgreSQL, the compact text SQLite stores), never decoded and encoded again; Binary and
Bundle (whose content lives beside their JSON) and ``_elements`` exports are decoded, shaped and encoded.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
from fhir_server.errors import Issue
from fhir_server.fhir import binary_content
from fhir_server.fhir.bulk.ndjson import NdjsonWriter, WrittenFile
from fhir_server.fhir.bulk.plan import ExportPlan, check_type_filters, plan_of
from fhir_server.fhir.bulk.snapshot import RAW_TYPES, batches, deleted_batches, group_members
from fhir_server.fhir.outcomes import operation_outcome
from fhir_server.fhir.search.indexer import SNAPSHOT_LIFETIME
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.search.summary import select_elements
from fhir_server.jobs.worker import JobContext
from fhir_server.settings import Settings

__all__ = ["check_type_filters", "cleanup", "group_members", "job_dir", "run_export"]

BATCH_SIZE = 2000
"""Resources read per query (and between two progress reports): bounds the memory an export holds."""


def job_dir(settings: Settings, job_id: str) -> Path:
    """The directory of a finished export's files (``job_id`` must be a job id: a UUID)."""
    return Path(settings.export_dir) / str(uuid.UUID(job_id))


def _staging_dir(settings: Settings, job_id: str) -> Path:
    return Path(settings.export_dir) / f".{uuid.UUID(job_id)}.partial"


def cleanup(settings: Settings, job_id: str, _details: dict[str, Any] | None = None) -> None:
    """Delete the files of export ``job_id``, finished or half-written (the job queue's cleanup hook: called for a
    cancelled or expired job and before re-running one whose worker died). Idempotent; an OSError when a file
    cannot be removed (the queue then never runs the job over it)."""
    for directory in (job_dir(settings, job_id), _staging_dir(settings, job_id)):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(directory)


def run_export(ctx: JobContext) -> dict[str, Any]:
    """Write the export ``ctx.params`` describe; the result: ``output``, ``deleted`` and ``error`` lists of
    ``{"type", "file", "count"}`` (files relative to the job's directory)."""
    cleanup(ctx.settings, ctx.job_id)
    staging = _staging_dir(ctx.settings, ctx.job_id)
    staging.mkdir(parents=True)
    try:
        with ctx.database.read() as session:
            plan = plan_of(session, ctx.params, SearchLimits.of(ctx.settings))
            if plan.level == "group" and plan.group_id is not None:
                group_members(session, plan.access, plan.group_id, plan.transaction_time, plan.base_url)
        result = _export(_Run(ctx, plan, staging))
        staging.rename(job_dir(ctx.settings, ctx.job_id))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


INDEX_WINDOW = SNAPSHOT_LIFETIME - timedelta(minutes=5)
"""How long after its transactionTime an export that reads the search index may still read it (with a margin)."""


class SnapshotExpiredError(Exception):
    """The export ran too long after its transactionTime to read the snapshot's search index whole: it fails instead
    of writing a snapshot with resources missing."""


@dataclass
class _Run:
    """One run's state: where it writes, the file size, and the resources written so far (for progress)."""

    ctx: JobContext
    plan: ExportPlan
    staging: Path
    done: int = 0

    def report(self, message: str) -> None:
        """Progress (and the stop point: JobCancelled propagates from here); SnapshotExpiredError when the snapshot
        can no longer be read whole."""
        self.ctx.progress(self.done, None, message)
        if self.plan.reads_index and utcnow() - self.plan.transaction_time > INDEX_WINDOW:
            raise SnapshotExpiredError(
                f"the export could not be written within {INDEX_WINDOW} of its transactionTime "
                f"{self.plan.transaction_time.isoformat()}, while the search index still describes the data as it was "
                "then; start the export again"
            )

    def writer(self, name: str, resource_type: str) -> NdjsonWriter:
        return NdjsonWriter(self.staging, name, resource_type, self.ctx.settings.export_file_max_resources)


def _export(run: _Run) -> dict[str, Any]:
    output: list[WrittenFile] = []
    for resource_type in run.plan.types:
        run.report(resource_type)
        writer = run.writer(resource_type, resource_type)
        try:
            _write_type(run, resource_type, writer)
        finally:
            output += writer.close()
    deleted = _write_deleted(run) if run.plan.since is not None else []
    errors = _write_notes(run)
    return {"output": _listed(output), "deleted": _listed(deleted), "error": _listed(errors)}


def _write_type(run: _Run, resource_type: str, writer: NdjsonWriter) -> None:
    """Write the type's resources, batch by batch, reporting progress after each."""
    database = run.ctx.database
    elements = run.plan.elements_of(resource_type)
    raw = elements is None and resource_type not in RAW_TYPES
    for batch in batches(database, run.plan, resource_type, BATCH_SIZE, raw):
        writer.write([text.encode() for text in batch] if raw else _shaped(database, batch, elements))
        run.done += len(batch)
        run.report(resource_type)


def _shaped(database: Database, resources: list[dict[str, Any]], elements: list[str] | None) -> list[bytes]:
    """The lines of decoded ``resources``: content expanded as a read serves it, ``_elements`` applied as search
    applies it (the SUBSETTED tag marks what it cut)."""
    with database.read() as session:
        served = [binary_content.expand(session, r) for r in resources]
    return [orjson.dumps(select_elements(r, elements) if elements else r) for r in served]


def _write_deleted(run: _Run) -> list[WrittenFile]:
    """The ``deleted`` files: per resource deleted since ``_since``, a transaction Bundle of one DELETE entry."""
    writer = run.writer("deleted", "Bundle")
    try:
        for resource_type in run.plan.types:
            run.report(f"deleted {resource_type}")
            for ids in deleted_batches(run.ctx.database, run.plan, resource_type, BATCH_SIZE):
                writer.write([orjson.dumps(_deletion(resource_type, i)) for i in ids])
    finally:
        files = writer.close()
    return files


def _deletion(resource_type: str, resource_id: str) -> dict[str, Any]:
    entry = {"request": {"method": "DELETE", "url": f"{resource_type}/{resource_id}"}}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}


def _write_notes(run: _Run) -> list[WrittenFile]:
    """The ``error`` file: an OperationOutcome (warning) per asked-for type the export leaves out, and why."""
    writer = run.writer("error", "OperationOutcome")
    issues = [Issue("not-supported", note, ("_type",), "warning") for note in run.plan.notes]
    writer.write([orjson.dumps(operation_outcome([issue])) for issue in issues])
    return writer.close()


def _listed(files: list[WrittenFile]) -> list[dict[str, Any]]:
    return [{"type": f.type, "file": f.file, "count": f.count} for f in files]
