"""$docref: ``GET [base]/DocumentReference/$docref?patient=...`` (US Core 3.1.1 Fetch DocumentReference,
http://hl7.org/fhir/us/core/STU3.1.1/OperationDefinition-docref.html).

A search of the patient's DocumentReferences under another name, answered as a searchset Bundle by the search
engine, with the caller's access rules: ``patient`` (required) is ``patient``, ``type`` is ``type``, and
``start``/``end`` bound the care dates (``DocumentReference.context.period``, the ``period`` search parameter).
This server assembles no document on demand: ``on-demand=true`` finds the stored documents alone, as the operation
allows. ``profile`` (a document profile to assemble) is not supported: 400. Without ``start`` and ``end`` every
document of the patient is returned (a superset of "the most current" one the operation describes).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.errors import bad_request
from fhir_server.fhir.interactions.search import respond
from fhir_server.fhir.route_interactions import declares
from fhir_server.request_context import Context

router = APIRouter()
NAMES = ("patient", "start", "end", "type", "on-demand", "profile")
_PASSED_ON = {"_format", "_pretty", "_count", "_summary", "_elements"}


def search_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The DocumentReference search that answers $docref with ``pairs``; 400 naming what cannot be answered."""
    found: list[tuple[str, str]] = []
    for name, value in pairs:
        if name == "patient":
            found.append(("patient", value))
        elif name == "type":
            found.append(("type", value))
        elif name in ("start", "end"):
            found.append(("period", ("ge" if name == "start" else "le") + value))
        elif name == "on-demand":
            if value not in ("true", "false"):
                raise bad_request(f"on-demand must be true or false (got {value[:40]!r})", "on-demand")
        elif name == "profile":
            raise bad_request("$docref assembles no document, so the profile parameter is not supported", "profile")
        elif name in _PASSED_ON:
            found.append((name, value))
        else:
            raise bad_request(f"$docref has no parameter {name[:40]!r} (it takes {', '.join(NAMES)})", name[:40])
    if sum(1 for name, _ in found if name == "patient") != 1:
        raise bad_request("$docref needs exactly one patient parameter", "patient", code="required")
    return found


@router.get("/DocumentReference/$docref", summary="$docref", openapi_extra=declares("$docref"))
async def docref(request: Request, ctx: Context) -> Response:
    pairs = search_pairs(request.query_params.multi_items())
    return await respond(request, ctx, "DocumentReference", pairs, f"{ctx.base_url}/DocumentReference")
