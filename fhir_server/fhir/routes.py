"""The FHIR REST API under ``/fhir``: every interaction's router, most specific paths first."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from fhir_server.app_context import app_context
from fhir_server.fhir import references
from fhir_server.fhir.interactions import (
    batch,
    capabilities,
    create,
    delete,
    history,
    patch,
    published,
    read,
    search,
    update,
    vread,
)
from fhir_server.fhir.operations import everything, summarize, validate


async def _public_base_url(request: Request) -> None:
    """Absolute references on the server's public base URL are its own (checked by reference integrity)."""
    references.use_base_url(app_context(request).base_url)


router = APIRouter(prefix="/fhir", tags=["FHIR"], dependencies=[Depends(_public_base_url)])
router.add_api_route("", batch.batch_or_transaction, methods=["POST"], summary="batch/transaction")
for module in (published, capabilities, validate, history, search, vread, read, create, update, patch, delete):
    router.include_router(module.router)
router.include_router(everything.router)
router.include_router(summarize.router)
router.include_router(search.compartment_router)  # last: /Patient/{id}/{type} must not shadow _history or $ops
