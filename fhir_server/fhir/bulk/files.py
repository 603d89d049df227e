"""Serving an export's NDJSON files (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#file-request).

A file is served only when the job's result names it (so no other path under the export directory can be reached,
whatever the URL holds), as ``application/fhir+ndjson``, streamed in chunks from ``FHIR_SERVER_EXPORT_DIR`` (never
read whole into memory), gzip-compressed on the fly when the client sends ``Accept-Encoding: gzip`` (export.html:
"the server SHOULD support compression").
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import StreamingResponse

from fhir_server.errors import not_found
from fhir_server.fhir.bulk.kickoff import NDJSON
from fhir_server.fhir.bulk.manifest import file_names
from fhir_server.fhir.bulk.start import ExportJob
from fhir_server.settings import Settings

CHUNK = 64 * 1024


def export_file(settings: Settings, job: ExportJob, name: str) -> Path:
    """The file ``name`` of the completed ``job``; 404 when the job's result does not list it or it is gone."""
    job_id = job.id
    if job.state != "completed" or name not in file_names(job):
        raise not_found(f"export job {job_id} has no file {name[:100]!r}")
    path = Path(settings.export_dir) / job_id / name
    if not path.is_file():
        raise not_found(f"the file {name[:100]!r} of export job {job_id} is no longer available")
    return path


def file_response(request: Request, path: Path) -> StreamingResponse:
    """``path`` streamed as NDJSON, gzip-compressed when the client accepts it."""
    headers = {"Vary": "Accept-Encoding"}
    if _accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return StreamingResponse(_gzipped(path), media_type=NDJSON, headers=headers)
    headers["Content-Length"] = str(path.stat().st_size)
    return StreamingResponse(_chunks(path), media_type=NDJSON, headers=headers)


def _accepts_gzip(header: str) -> bool:
    """True when ``Accept-Encoding`` names gzip (or ``*``) with a nonzero quality (RFC 9110 section 12.5.3)."""
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=")
            return not params or quality.strip() not in ("0", "0.0", "0.00", "0.000")
    return False


def _chunks(path: Path) -> Iterator[bytes]:
    """The file in chunks (a sync iterator: Starlette reads it in its thread pool, off the event loop)."""
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


def _gzipped(path: Path) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: the gzip container (RFC 1952)
    for chunk in _chunks(path):
        compressed = compressor.compress(chunk)
        if compressed:
            yield compressed
    yield compressor.flush()
