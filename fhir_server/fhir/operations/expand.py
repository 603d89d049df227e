"""$expand: ``[base]/ValueSet/$expand?url=...`` and ``[base]/ValueSet/[id]/$expand`` (GET or POST Parameters).

http://hl7.org/fhir/R4/valueset-operation-expand.html. The answer is the ValueSet with an ``expansion``: its
``identifier`` (a fresh ``urn:uuid``), ``timestamp``, ``total`` (every concept matching ``filter``), ``offset``, the
``parameter`` values that shaped it, and ``contains``, one page of concepts (``offset``, ``count``). ``filter``
keeps the concepts whose code or display contains it, case-insensitively. ``count`` is 0 to :data:`MAX_COUNT`
(default: all, up to :data:`MAX_COUNT`); ``offset`` 0 or more. A ValueSet drawing on a CodeSystem the server does not
hold completely (MIME types, currencies) cannot be expanded: 422 ``too-costly`` would be untrue, so ``not-supported``.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.db.types import utcnow
from fhir_server.errors import bad_request
from fhir_server.fhir import terminology
from fhir_server.fhir.content import FhirResponse, check_accept, is_pretty
from fhir_server.fhir.operation_parameters import Param, add_routes, read_input, single
from fhir_server.fhir.operations import terminology_sources
from fhir_server.fhir.operations.terminology_sources import value_set
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE
from fhir_server.request_context import Context, RequestContext
from mappings.base import fhir_instant

router = APIRouter()
MAX_COUNT = 1000
"""The most concepts one expansion page holds (the largest R4 ValueSet here has 346)."""
MAX_FILTER = 200
DECLARED = {
    "url": Param("uri"),
    "valueSetVersion": Param("string"),
    "filter": Param("string"),
    "offset": Param("integer"),
    "count": Param("integer"),
}
_EXTRA = declares("$expand", "ValueSet")


async def expand_type(request: Request, ctx: Context) -> Response:
    return await _expand(request, ctx, None)


async def expand_instance(resource_id: str, request: Request, ctx: Context) -> Response:
    return await _expand(request, ctx, resource_id)


async def _expand(request: Request, ctx: RequestContext, resource_id: str | None) -> Response:
    check_accept(request)
    values = await read_input(request, "expand", DECLARED)
    found = await value_set(ctx, resource_id, single(values, "url"))
    _check_version(found, single(values, "valueSetVersion"))
    page = Page.of(single(values, "filter"), single(values, "offset"), single(values, "count"))
    return FhirResponse(expanded(found, page), pretty=is_pretty(request))


def _check_version(found: dict[str, Any], version: str | None) -> None:
    if version is not None and version != found.get("version"):
        raise bad_request(
            f"valueSetVersion {version!r} is not held (the version here is {found.get('version')!r})",
            "valueSetVersion",
            code="not-found",
        )


class Page:
    """What part of the expansion is asked for."""

    def __init__(self, text: str | None, offset: int, count: int) -> None:
        self.text, self.offset, self.count = text, offset, count

    @classmethod
    def of(cls, text: str | None, offset: int | None, count: int | None) -> Page:
        """The page of ``filter``/``offset``/``count`` (400 naming the parameter when out of range)."""
        if text is not None and len(text) > MAX_FILTER:
            raise bad_request(f"filter is longer than {MAX_FILTER} characters", "filter", code="too-long")
        if offset is not None and offset < 0:
            raise bad_request(f"offset must be 0 or more (got {offset})", "offset", code="value")
        if count is not None and not 0 <= count <= MAX_COUNT:
            raise bad_request(f"count must be between 0 and {MAX_COUNT} (got {count})", "count", code="value")
        return cls(text, offset or 0, MAX_COUNT if count is None else count)

    def parameters(self) -> list[dict[str, Any]]:
        """The expansion's ``parameter`` entries: the inputs that shaped it."""
        shaped: list[dict[str, Any]] = []
        if self.text is not None:
            shaped.append({"name": "filter", "valueString": self.text})
        shaped.append({"name": "offset", "valueInteger": self.offset})
        shaped.append({"name": "count", "valueInteger": self.count})
        return shaped


def expanded(found: dict[str, Any], page: Page) -> dict[str, Any]:
    """``found`` with the ``expansion`` of ``page`` (422 when the server cannot expand it)."""
    entries = terminology_sources.expansion(found)
    if page.text is not None:
        entries = [entry for entry in entries if entry.matches(page.text)]
    chosen = entries[page.offset : page.offset + page.count]
    expansion: dict[str, Any] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": fhir_instant(utcnow()),
        "total": len(entries),
        "offset": page.offset,
        "parameter": page.parameters(),
    }
    if chosen:
        expansion["contains"] = [_contained(entry) for entry in chosen]
    return {**found, "expansion": expansion}


def _contained(entry: terminology.Entry) -> dict[str, Any]:
    contained = {"system": entry.system, "code": entry.code}
    if entry.display:
        contained["display"] = entry.display
    return contained


add_routes(router, "/ValueSet/$expand", expand_type, _EXTRA)
add_routes(router, f"/ValueSet/{INSTANCE}/$expand", expand_instance, _EXTRA)
