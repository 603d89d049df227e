"""batch/transaction: ``POST [base]`` with a Bundle (http://hl7.org/fhir/R4/http.html#transaction).

A transaction commits whole or not at all: any entry's failure answers that entry's error status with an
OperationOutcome naming it. A batch runs each entry in its own transaction and reports each outcome in its
response entry. Bundles longer than ``FHIR_SERVER_BUNDLE_MAX_ENTRIES`` answer 413.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from fhir_server.errors import FhirError
from fhir_server.fhir import unit_of_work
from fhir_server.fhir.binary_content import expanded
from fhir_server.fhir.bundle_entries import Entry, parse_bundle
from fhir_server.fhir.bundles import BundleContext, failed_entry, process
from fhir_server.fhir.content import FhirResponse, Prefer, check_accept, check_content_type, is_pretty
from fhir_server.fhir.patch_limits import PatchLimits
from fhir_server.fhir.request_body import parsed
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.validation import parse_json
from fhir_server.request_context import Context


async def batch_or_transaction(request: Request, ctx: Context) -> Response:
    """Routed at the base itself by fhir_server.fhir.routes (an included router cannot have an empty path)."""
    check_accept(request)
    check_content_type(request)
    settings, access = ctx.settings, ctx.access
    patch_limits = PatchLimits.of(settings)
    kind, entries = await parsed(await request.body(), _entries, settings.bundle_max_entries, patch_limits)
    bundle_ctx = BundleContext(ctx.base_url, ctx.cursor_key, SearchLimits.of(settings), Prefer.parse(request).return_)
    if kind == "transaction":
        responses = await unit_of_work.write(request, process, access, entries, bundle_ctx)
    else:
        responses = []
        for entry in entries:
            try:
                responses.extend(await unit_of_work.write(request, process, access, [entry], bundle_ctx))
            except FhirError as exc:
                responses.append(failed_entry(exc))
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": f"{kind}-response", "entry": responses}
    bundle = await expanded(ctx.database, bundle)  # a Binary's content as data
    return FhirResponse(bundle, pretty=is_pretty(request))


def _entries(body: bytes, max_entries: int, patch_limits: PatchLimits) -> tuple[str, list[Entry]]:
    """The Bundle's kind and entries, parsed and checked (in the thread pool for a large body)."""
    return parse_bundle(parse_json(body), max_entries, patch_limits)
