"""batch/transaction: ``POST [base]`` with a Bundle (http://hl7.org/fhir/R4/http.html#transaction).

A transaction commits whole or not at all: any entry's failure answers that entry's error status with an
OperationOutcome naming it, and so do two entries writing one resource (http.html#trules). A batch runs each entry
in its own transaction (http.html#brules): an entry that fails, however (invalid, unknown type, bad url, not found,
refused), answers its own 4xx and OperationOutcome in its response entry, and the others still run. Only a Bundle
that is not one refuses the request whole: not JSON, not a batch or transaction, ``entry`` not an array, or longer
than ``FHIR_SERVER_BUNDLE_MAX_ENTRIES`` (413).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from fhir_server.access.context import AccessContext
from fhir_server.errors import FhirError
from fhir_server.fhir import unit_of_work
from fhir_server.fhir.binary_content import expanded
from fhir_server.fhir.bundle_entries import Entry, Parsed, parse_bundle
from fhir_server.fhir.bundles import BundleContext, failed_entry, process, response_bundle
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
        responses = await unit_of_work.write(request, process, access, _valid(entries), bundle_ctx)
    else:
        responses = [await _batch_entry(request, access, entry, bundle_ctx) for entry in entries]
    bundle = await expanded(ctx.database, response_bundle(kind, responses))  # a Binary's content as data
    return FhirResponse(bundle, pretty=is_pretty(request))


async def _batch_entry(request: Request, access: AccessContext, entry: Parsed, ctx: BundleContext) -> dict[str, Any]:
    """The response entry of one batch entry, run in its own database transaction (its failure undoes its writes
    alone and answers in its response entry)."""
    if isinstance(entry, FhirError):
        return failed_entry(entry)
    try:
        responses = await unit_of_work.write(request, process, access, [entry], ctx)
    except FhirError as exc:
        return failed_entry(entry.located(exc))
    return responses[0]


def _valid(entries: list[Parsed]) -> list[Entry]:
    """The entries of a transaction (parse_bundle has refused it when any failed to parse)."""
    return [e for e in entries if isinstance(e, Entry)]


def _entries(body: bytes, max_entries: int, patch_limits: PatchLimits) -> tuple[str, list[Parsed]]:
    """The Bundle's kind and entries, parsed and checked (in the thread pool for a large body)."""
    return parse_bundle(parse_json(body), max_entries, patch_limits)
