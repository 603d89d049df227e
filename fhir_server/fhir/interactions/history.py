"""history: ``GET [base]/_history``, ``[base]/[type]/_history`` and ``[base]/[type]/[id]/_history``
(http://hl7.org/fhir/R4/http.html#history): a ``history`` Bundle, newest version first, paged by signed cursors."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.fhir import history, unit_of_work
from fhir_server.fhir.binary_content import expanded
from fhir_server.fhir.content import FhirResponse, check_accept, is_pretty
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE, TYPE
from fhir_server.fhir.types import served_type
from fhir_server.request_context import Context, RequestContext

router = APIRouter()


@router.get("/_history", summary="history-system", openapi_extra=declares("history-system"))
async def history_system(request: Request, ctx: Context) -> Response:
    return await _history(request, ctx, None, None)


@router.get(f"/{TYPE}/_history", summary="history-type", openapi_extra=declares("history-type"))
async def history_type(resource_type: str, request: Request, ctx: Context) -> Response:
    return await _history(request, ctx, resource_type, None)


@router.get(f"/{TYPE}/{INSTANCE}/_history", summary="history-instance", openapi_extra=declares("history-instance"))
async def history_instance(resource_type: str, resource_id: str, request: Request, ctx: Context) -> Response:
    return await _history(request, ctx, resource_type, resource_id)


async def _history(
    request: Request, ctx: RequestContext, resource_type: str | None, resource_id: str | None
) -> Response:
    check_accept(request)
    if resource_type is not None:
        served_type(resource_type)
    query = history.parse_query(request.query_params.multi_items(), ctx.cursor_key, resource_type, resource_id)
    page = await unit_of_work.read(request, history.history_page, ctx.access, query)
    bundle = history.history_bundle(page, query, ctx.base_url, ctx.cursor_key)
    bundle = await expanded(ctx.database, bundle)  # a Binary's content as data
    return FhirResponse(bundle, pretty=is_pretty(request))
