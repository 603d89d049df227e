"""DICOMweb at ``/dicomweb``: QIDO-RS, WADO-RS and STOW-RS forwarded to Orthanc under this server's authorization.

PS3.18 (https://dicom.nema.org/medical/dicom/current/output/html/part18.html) §10.4 (retrieve), §10.6 (search),
§10.5 (store). Every request is authorized first (:mod:`fhir_server.imaging.access`), then sent upstream with a
query string rebuilt here; answers stream back (a study of any size is never held in memory) with Orthanc's URLs
rewritten to this proxy's. Errors, the proxy's or Orthanc's, answer with an OperationOutcome and the status a
DICOMweb client expects (4xx for the client's mistakes, 502/503/504 for Orthanc's), never a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from fhir_server.access.context import Access, AccessContext
from fhir_server.app_context import app_context
from fhir_server.errors import Issue, Kind, fail, fail_all, kind_for
from fhir_server.fhir import unit_of_work
from fhir_server.imaging import errors, media, stow
from fhir_server.imaging.access import (
    CREATE,
    READ,
    SEARCH,
    ImagingScope,
    check_parts,
    owner_clinic,
    patient_studies,
    require,
    scope_checked,
    scope_without_patient,
    visible,
)
from fhir_server.imaging.dicomweb_paths import Target, parse
from fhir_server.imaging.qido_query import capped, retrieve_query, upstream_query, within_studies
from fhir_server.imaging.relay import relayed, rewriter_of
from fhir_server.imaging.spool import Spool
from fhir_server.imaging.stored import sync_stored
from fhir_server.imaging.upstream import read_closing, upstream_of

router = APIRouter(prefix="/dicomweb", tags=["DICOMweb"])
STUDY_UID_TAG = "0020000D"
LISTED_STUDIES = 100
"""A patient with at most this many studies has them listed in the upstream query (about 6.5 KB of UIDs at most)."""
FILTERED_LIMIT = 1000
"""Most matches a search read whole to be filtered may ask Orthanc for (its memory stays bounded)."""
TOO_MANY = (
    '299 - "The number of results exceeded the maximum supported by the server. Additional results can be requested."'
)
"""The Warning of a search answer cut by :data:`FILTERED_LIMIT` (PS3.18 §8.3.4.4)."""


@router.get("/{path:path}", summary="QIDO-RS search or WADO-RS retrieve")
async def search_or_retrieve(path: str, request: Request, access: Access) -> Response:
    target = parse(path, "GET")
    require(access, SEARCH if target.kind == "search" else READ)
    scope = await _scope(request, access, target.study)
    if target.kind == "search":
        return await _search(request, target, scope)
    return await _retrieve(request, target)


@router.post("/{path:path}", summary="STOW-RS store")
async def store(path: str, request: Request, access: Access) -> Response:
    target = parse(path, "POST")
    require(access, CREATE)
    if access.patient_id is not None:
        raise fail(Kind.FORBIDDEN, "a token with a patient context cannot store studies")
    scope = await _scope(request, access, None)
    if target.study is not None and scope.confined:
        owner = await unit_of_work.read(request, owner_clinic, target.study)
        if owner not in (None, scope.organization_id):
            raise fail(Kind.REFUSED, f"study {target.study} belongs to another clinic", "study")
    boundary = _stow_boundary(request)
    media.search_accept(request.headers.get("accept"))
    return await _store(request, target, boundary, scope)


async def _scope(request: Request, access: AccessContext, study: str | None) -> ImagingScope:
    """The caller's scope, with ``study`` (of the path) checked against it before anything reaches Orthanc.

    A token without a patient context needs no database read unless a clinic-bound one names a study; otherwise
    one read (one worker-thread hop) finds the patient and checks the study together.
    """
    scope = scope_without_patient(access)
    if scope is not None and (study is None or not scope.confined):
        return scope
    checked: ImagingScope = await unit_of_work.read(request, scope_checked, access, study)
    return checked


# --- search --------------------------------------------------------------------------------------------------


async def _search(request: Request, target: Target, scope: ImagingScope) -> Response:
    """QIDO-RS. Under a study of the path (already checked) the answer is relayed as it is, as is a patient's search
    narrowed upstream to the patient's own studies; another confined search over every study is read whole
    (at most :data:`FILTERED_LIMIT` matches, with the 299 Warning of PS3.18 §8.3.4.4 when that cut the answer) and
    cut to the studies the scope may see."""
    media.search_accept(request.headers.get("accept"))
    pairs = request.query_params.multi_items()
    filtered = scope.confined and target.study is None
    if filtered and scope.patient_row is not None:
        narrowed = await _patients_own(request, scope, pairs)
        if narrowed == []:
            return Response(b"[]", 200, media_type=media.DICOM_JSON)  # none of the studies asked for is the patient's
        if narrowed is not None:
            pairs, filtered = narrowed, False
    bites = False
    if filtered:
        pairs, bites = capped([*pairs, ("includefield", STUDY_UID_TAG)], FILTERED_LIMIT)
    query = upstream_query(pairs, scope.patient_mrn)
    response = await upstream_of(request).open("GET", target.path, query, {"Accept": media.DICOM_JSON})
    if not filtered:
        return await relayed(request, response)
    matches = _json_list(await read_closing(response))
    uids = {_study_uid(m) for m in matches} - {None}
    allowed: set[str] = await unit_of_work.read(request, visible, scope, uids)
    kept = [m for m in matches if _study_uid(m) in allowed]
    body = rewriter_of(request).whole(orjson.dumps(kept))
    headers = {"Warning": TOO_MANY} if bites and len(matches) >= FILTERED_LIMIT else None
    return Response(body, response.status, headers, media_type=media.DICOM_JSON)


async def _patients_own(
    request: Request, scope: ImagingScope, pairs: list[tuple[str, str]]
) -> list[tuple[str, str]] | None:
    """The query pairs narrowed to the patient's own studies ([]: none left to ask for); None when they cannot be
    (a wildcard StudyInstanceUID filter, or more studies than :data:`LISTED_STUDIES`)."""
    studies: list[str] = await unit_of_work.read(request, patient_studies, scope, LISTED_STUDIES + 1)
    narrowed = within_studies(pairs, studies) if len(studies) <= LISTED_STUDIES else None
    if narrowed is None:
        return None
    rest, kept = narrowed
    return [*rest, ("StudyInstanceUID", ",".join(kept))] if kept else []


def _study_uid(match: dict[str, Any]) -> str | None:
    value = (match.get(STUDY_UID_TAG) or {}).get("Value") or [None]
    return value[0] if isinstance(value[0], str) else None


def _json_list(body: bytes) -> list[dict[str, Any]]:
    try:
        parsed = orjson.loads(body) if body.strip() else []
    except orjson.JSONDecodeError:
        raise errors.bad_gateway("a search answer that is not JSON") from None
    if not isinstance(parsed, list):
        raise errors.bad_gateway("a search answer that is not a JSON array")
    return [m for m in parsed if isinstance(m, dict)]


# --- retrieve ------------------------------------------------------------------------------------------------


async def _retrieve(request: Request, target: Target) -> Response:
    accept = media.retrieve_accept(request.headers.get("accept"), target.view)
    query = retrieve_query(request.query_params.multi_items())
    headers = {"Accept": accept} if accept else {}
    response = await upstream_of(request).open("GET", target.path, query, headers)
    return await relayed(request, response)


# --- store ---------------------------------------------------------------------------------------------------


def _stow_boundary(request: Request) -> str:
    content_type = request.headers.get("content-type")
    parsed = media.multipart_type(content_type)
    if parsed is None or parsed[0].lower() != "application/dicom" or not parsed[1]:
        raise fail(
            Kind.UNSUPPORTED_MEDIA_TYPE,
            f'STOW-RS takes multipart/related; type="application/dicom" with a boundary (got {content_type})',
            "Content-Type",
        )
    return parsed[1]


async def _store(request: Request, target: Target, boundary: str, scope: ImagingScope) -> Response:
    """STOW-RS: the body sent on, the stored studies' ImagingStudy rows synced, and every part accounted for."""
    sniffer = stow.PartSniffer(boundary.encode("latin-1"))
    upstream_status, raw = await _sent_on(request, target, sniffer, scope)
    result = _stow_result(upstream_status, raw)
    context = app_context(request)
    warnings = await run_in_threadpool(
        sync_stored, context.database, context.settings, stow.studies_stored(result),
        scope.organization_id,
    )  # fmt: skip
    answer, status = stow.account(result, sniffer.parts(), upstream_status)
    if status >= 400:
        code = "conflict" if status == 409 else "invalid"
        raise fail_all(kind_for(status), [Issue(code, sentence) for sentence in stow.failures(answer)])
    extra = {"Warning": "; ".join(f'299 - "{w}"' for w in warnings)} if warnings else {}
    answer_body = rewriter_of(request).whole(orjson.dumps(answer))
    return Response(answer_body, status, headers=extra, media_type=media.DICOM_JSON)


async def _sent_on(
    request: Request, target: Target, sniffer: stow.PartSniffer, scope: ImagingScope
) -> tuple[int, bytes]:
    """Orthanc's status and answer for the STOW body. It streams to Orthanc as it comes, except a clinic user's to
    bare ``/studies``, which is held (:mod:`fhir_server.imaging.spool`) until every part's study is checked."""
    headers = {"Content-Type": request.headers["content-type"], "Accept": media.DICOM_JSON}
    content: AsyncIterator[bytes]
    spool: Spool | None = None
    if scope.confined and target.study is None:
        spool = await _checked_spool(request, sniffer, scope)
        content, headers["Content-Length"] = spool.pieces(), str(spool.size)
    else:
        content = _watched(request, sniffer)
        if "content-length" in request.headers:
            headers["Content-Length"] = request.headers["content-length"]
    try:
        response = await upstream_of(request).open("POST", target.path, "", headers, content, keep_errors=True)
        return response.status, await read_closing(response)
    finally:
        if spool is not None:
            spool.close()  # also when Orthanc could not be reached and the body was never read


async def _watched(request: Request, sniffer: stow.PartSniffer) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        sniffer.feed(chunk)
        yield chunk


async def _checked_spool(request: Request, sniffer: stow.PartSniffer, scope: ImagingScope) -> Spool:
    """The whole body, spooled, once every part may go to its study (403 otherwise, with nothing sent on)."""
    spool = Spool()
    try:
        await spool.fill(request.stream(), sniffer.feed)
        await unit_of_work.read(request, check_parts, scope, sniffer.parts())
    except BaseException:
        spool.close()
        raise
    return spool


def _stow_result(status: int, raw: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and ("00081199" in parsed or "00081198" in parsed):
        return parsed
    if status >= 400:
        raise errors.from_status(status, raw)
    raise errors.bad_gateway("a store answer without a result")
