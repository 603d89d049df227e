"""capabilities: ``GET [base]/metadata`` (http://hl7.org/fhir/R4/http.html#capabilities).

Open to anyone (a client reads it before it authorizes). ``mode`` is ``full`` (default), ``normative`` (the same:
CapabilityStatement is normative in R4) or ``terse`` (types and interactions only); ``_summary=true`` marks the
statement SUBSETTED (every element this server fills is a summary element).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.app_context import app_context
from fhir_server.errors import bad_request
from fhir_server.fhir import capability_statement
from fhir_server.fhir.content import FhirResponse, check_accept, is_pretty
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.search.summary import SUBSETTED

router = APIRouter()

_PARAMETERS = frozenset({"mode", "_summary", "_format", "_pretty"})


@router.get("/metadata", summary="capabilities", openapi_extra=declares("capabilities"))
async def metadata(request: Request) -> Response:
    check_accept(request)
    mode, summary = _parameters(request)
    statement = capability_statement.build(
        request.app.openapi()["paths"], app_context(request).settings, request.app.version
    )
    if mode == "terse":
        statement = capability_statement.terse(statement)
    if summary:
        statement["meta"] = {"tag": [SUBSETTED]}
    return FhirResponse(statement, pretty=is_pretty(request))


def _parameters(request: Request) -> tuple[str, bool]:
    for name in request.query_params:
        if name not in _PARAMETERS:
            raise bad_request(f"metadata does not support the parameter {name!r}", name, code="not-supported")
    mode = request.query_params.get("mode", "full")
    if mode not in {"full", "normative", "terse"}:
        raise bad_request(f"mode must be full, normative or terse, not {mode!r}", "mode")
    summary = request.query_params.get("_summary", "false")
    if summary not in {"true", "false"}:
        raise bad_request(f"_summary on metadata may be true or false, not {summary!r}", "_summary", "not-supported")
    return mode, summary == "true"
