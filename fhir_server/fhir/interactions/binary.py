"""Binary on the REST API (http://hl7.org/fhir/R4/binary.html#rest): the content in its own media type.

- ``POST [base]/Binary`` and ``PUT [base]/Binary/[id]`` whose body is not FHIR JSON store the raw bytes as the
  Binary's content: the ``Content-Type`` becomes ``contentType``, an ``X-Security-Context`` header (a reference)
  the ``securityContext``. The body is spooled as it arrives (a temporary file past one chunk, never held whole),
  and one larger than ``FHIR_SERVER_BINARY_MAX_BYTES`` answers 413 with nothing stored. The answer carries
  ``Location`` and ``ETag`` and no body, unless ``Prefer: return=representation`` asks for the Binary's JSON.
  A FHIR JSON body (``application/fhir+json``, or ``application/json`` holding a Binary) is a create or update like
  any other type's.
- ``GET [base]/Binary/[id]`` (and ``/_history/[vid]``) answers the content in its ``contentType``, streamed from
  the database a chunk at a time, unless the request explicitly asks for FHIR: ``_format`` or an ``Accept`` naming a
  FHIR or JSON media type. "Explicitly" is the spec's word: no ``Accept``, ``*/*``, the content's type or a
  wildcard covering it all get the content; an ``Accept`` that covers neither answers 406.

Either way the write runs through the repository and the write pipeline, and a read through the same access rules
as every read (fhir_server.fhir.reading).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Request
from sqlalchemy import bindparam, select
from starlette.responses import Response, StreamingResponse

from fhir_server.app_context import app_context
from fhir_server.db import BinaryChunk
from fhir_server.db.engine import Database
from fhir_server.errors import Kind, fail
from fhir_server.fhir import repository, unit_of_work
from fhir_server.fhir.binary_content import CHUNK_BYTES, Upload, expanded, marked_size
from fhir_server.fhir.content import FHIR_JSON, Prefer, check_accept, resource_response, subset, version_headers
from fhir_server.fhir.interactions import create as create_interaction
from fhir_server.fhir.interactions import update as update_interaction
from fhir_server.fhir.repository import Written
from fhir_server.fhir.request_body import parsed
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.types import valid_id
from fhir_server.fhir.validation import check_resource
from fhir_server.request_context import Context

router = APIRouter()

_JSON = frozenset({"application/json", "text/json", "json"})
_FHIR = frozenset({FHIR_JSON, "application/fhir+xml", "xml", "application/xml+fhir", "application/json+fhir"})
_CHUNK = select(BinaryChunk.content).where(
    BinaryChunk.resource_id == bindparam("binary_id"),
    BinaryChunk.version_id == bindparam("binary_version"),
    BinaryChunk.seq == bindparam("binary_seq"),
)


@router.post("/Binary", summary="create", status_code=201, openapi_extra=declares("create", "Binary"))
async def create(request: Request, ctx: Context) -> Response:
    if await _is_fhir(request):
        return await create_interaction.create("Binary", request, ctx)
    check_accept(request)
    upload = await _spool(request, ctx.settings.binary_max_bytes)
    try:
        resource = _uploaded(request, upload)
        written = await unit_of_work.write(
            request, partial(repository.create, base_url=ctx.base_url), ctx.access, resource
        )
    finally:
        upload.file.close()
    return await _answer(request, written)


@router.put("/Binary/{resource_id}", summary="update", openapi_extra=declares("update", "Binary"))
async def update(resource_id: str, request: Request, ctx: Context) -> Response:
    if await _is_fhir(request):
        return await update_interaction.update("Binary", resource_id, request, ctx)
    check_accept(request)
    valid_id(resource_id)
    upload = await _spool(request, ctx.settings.binary_max_bytes)
    try:
        resource = _uploaded(request, upload, resource_id)
        write = partial(repository.update, base_url=ctx.base_url)
        written = await unit_of_work.write(request, write, ctx.access, resource, resource_id, None)
    finally:
        upload.file.close()
    return await _answer(request, written)


def wants_fhir(request: Request, content_type: str) -> bool:
    """True when a read of a Binary of ``content_type`` asks for it as a FHIR resource: ``_format``, or an ``Accept``
    naming a FHIR or JSON media type at least as high (``q``) as any range covering the content's type."""
    if "_format" in request.query_params:
        return True
    ranges = _media_ranges(request.headers.get("accept", ""))
    fhir = max((q for media, q in ranges.items() if media in _FHIR | _JSON), default=None)
    if fhir is None:
        return False
    return fhir >= max((q for media, q in ranges.items() if _covers(media, content_type)), default=0.0)


async def respond(request: Request, resource: dict[str, Any]) -> Response:
    """A Binary version read (``resource``, as stored): its FHIR JSON with ``data`` when the request asks for FHIR
    (:func:`wants_fhir`), else its content in its own media type, streamed (406 when the ``Accept`` covers
    neither)."""
    content_type = resource.get("contentType", "application/octet-stream")
    if wants_fhir(request, content_type):
        check_accept(request)
        return resource_response(request, subset(request, await expanded(app_context(request).database, resource)))
    ranges = _media_ranges(request.headers.get("accept", ""))
    if ranges and not any(q > 0 and _covers(media, content_type) for media, q in ranges.items()):
        raise fail(Kind.NOT_ACCEPTABLE, f"this Binary is {content_type}; ask for it or for application/fhir+json")
    size = marked_size(resource) or 0
    headers = {
        **version_headers(resource, app_context(request).base_url),
        "content-type": content_type,
        "content-length": str(size),
    }
    return StreamingResponse(_stream(app_context(request).database, resource, size), headers=headers)


async def _stream(database: Database, resource: dict[str, Any], size: int) -> AsyncIterator[bytes]:
    """The chunks of a Binary version's content, each read when the previous one was sent."""
    key = {"binary_id": resource["id"], "binary_version": int(resource["meta"]["versionId"])}
    for seq in range(-(-size // CHUNK_BYTES)):
        row = await database.fetch_one(_CHUNK, {**key, "binary_seq": seq})
        if row is None:  # a content is written whole with its version: a missing chunk is a bug
            raise RuntimeError(f"Binary/{resource['id']}: chunk {seq} of its content is missing")
        yield bytes(row[0])


async def _is_fhir(request: Request) -> bool:
    """True when a write to Binary carries a FHIR resource (or no Content-Type: the FHIR route then answers 415)."""
    content_type = request.headers.get("content-type")
    if content_type is None or _media_type(content_type) in _FHIR:
        return True
    if _media_type(content_type) not in _JSON:
        return False
    return await parsed(await request.body(), _holds_binary)


def _holds_binary(body: bytes) -> bool:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and value.get("resourceType") == "Binary"


async def _spool(request: Request, limit: int) -> Upload:
    """The request body, spooled as it arrives (to a temporary file past one chunk); 413 past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    spooled = tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES)  # noqa: SIM115 - closed by the caller
    size, digest = 0, hashlib.sha256()
    try:
        async for part in request.stream():
            size += len(part)
            if size > limit:
                raise _too_large(limit)
            digest.update(part)
            spooled.write(part)
    except BaseException:
        spooled.close()
        raise
    return Upload(spooled, size, digest.hexdigest())


def _too_large(limit: int) -> Exception:
    return fail(Kind.TOO_LARGE, f"the Binary content is larger than this server's limit of {limit} bytes")


def _uploaded(request: Request, upload: Upload, resource_id: str | None = None) -> dict[str, Any]:
    """The Binary a raw upload makes (checked as any resource is), its ``data`` the upload."""
    resource: dict[str, Any] = {"resourceType": "Binary", "contentType": request.headers["content-type"].strip()}
    if resource_id is not None:
        resource["id"] = resource_id
    security_context = request.headers.get("x-security-context")
    if security_context:
        resource["securityContext"] = {"reference": security_context.strip()}
    check_resource(resource, "Binary", resource_id)
    return {**resource, "data": upload}


async def _answer(request: Request, written: Written) -> Response:
    """The answer to a raw upload: no body unless ``Prefer: return=representation`` (or OperationOutcome)."""
    prefer = Prefer.parse(request) if "prefer" in request.headers else Prefer("minimal")
    resource = (
        await expanded(app_context(request).database, written.resource)
        if prefer.return_ == "representation"
        else written.resource
    )
    return resource_response(request, resource, 201 if written.created else 200, prefer, location=written.created)


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _media_ranges(accept: str) -> dict[str, float]:
    """The media ranges of an ``Accept`` header with their ``q`` (1 when absent or malformed)."""
    ranges: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media:
            weights = [p[2:] for p in params if p.lower().startswith("q=")]
            ranges[media.lower()] = max(ranges.get(media.lower(), 0.0), _weight(weights[0] if weights else "1"))
    return ranges


def _weight(value: str) -> float:
    try:
        return min(max(float(value), 0.0), 1.0)
    except ValueError:
        return 1.0


def _covers(media_range: str, content_type: str) -> bool:
    """True when ``media_range`` (``*/*``, ``type/*`` or a type) covers ``content_type``."""
    media_type = _media_type(content_type)
    return media_range in {"*/*", media_type.split("/", 1)[0] + "/*", media_type}
