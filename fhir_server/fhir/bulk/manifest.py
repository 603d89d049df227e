"""What a status request answers (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-status-request),
built from the export job: the URLs of its status and of its files, the ``X-Progress`` of a running export, and the
complete-status manifest (export.html#response---complete-status)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mappings.base import fhir_instant

if TYPE_CHECKING:
    from fhir_server.fhir.bulk.start import ExportJob

STATUS_PATH = "/bulk/status/"
FILES_PATH = "/bulk/files/"
"""Where, under the FHIR base, a job's status and files are served (the IG leaves the URLs to the server)."""


def status_url(base_url: str, job_id: str) -> str:
    """The status URL the kick-off names in ``Content-Location``."""
    return f"{base_url}{STATUS_PATH}{job_id}"


def file_url(base_url: str, job_id: str, name: str) -> str:
    return f"{base_url}{FILES_PATH}{job_id}/{quote(name)}"


def progress(job: ExportJob) -> str:
    """The ``X-Progress`` of a queued or running export (export.html#response---in-progress-status: free text)."""
    if job.state == "queued":
        return "queued"
    done = job.progress or {}
    total = done.get("total")
    counted = f"{done.get('done', 0)}/{total}" if total else str(done.get("done", 0))
    message = str(done.get("message") or "")
    return f"running: {message} {counted} resources".replace("  ", " ")[:100]


def manifest(job: ExportJob, base_url: str) -> dict[str, Any]:
    """The complete-status body of a finished export: ``transactionTime``, ``request``, ``requiresAccessToken``
    (always: files answer only to the client's token), ``output``, ``error`` and, for a ``_since`` export,
    ``deleted`` (each entry ``type``, ``url``, ``count``)."""
    params, result = job.params, job.result or {}
    job_id = job.id
    body: dict[str, Any] = {
        "transactionTime": fhir_instant(datetime.fromisoformat(params["transaction_time"])),
        "request": params["request"],
        "requiresAccessToken": True,
        "output": _entries(result.get("output", []), base_url, job_id),
        "error": _entries(result.get("error", []), base_url, job_id),
    }
    if params.get("since") is not None:
        body["deleted"] = _entries(result.get("deleted", []), base_url, job_id)
    return body


def _entries(files: list[dict[str, Any]], base_url: str, job_id: str) -> list[dict[str, Any]]:
    return [{"type": f["type"], "url": file_url(base_url, job_id, f["file"]), "count": f["count"]} for f in files]


def file_names(job: ExportJob) -> set[str]:
    """The names of the files the job's result lists: the only ones served (no other path can be reached)."""
    result: dict[str, Any] = job.result or {}
    return {f["file"] for part in ("output", "error", "deleted") for f in result.get(part, [])}
