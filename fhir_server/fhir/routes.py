"""The FHIR REST API under ``/fhir``: every interaction's router, most specific paths first."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from fhir_server.fhir.bulk import routes as bulk
from fhir_server.fhir.interactions import (
    batch,
    binary,
    capabilities,
    create,
    delete,
    history,
    patch,
    published,
    read,
    search,
    terminology,
    update,
    vread,
)
from fhir_server.fhir.operations import (
    docref,
    everything,
    expand,
    lookup,
    summarize,
    translate,
    validate,
    validate_code,
)
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.types import storable_path_ids

router = APIRouter(prefix="/fhir", tags=["FHIR"], dependencies=[Depends(storable_path_ids)])
router.add_api_route(
    "", batch.batch_or_transaction, methods=["POST"], summary="batch/transaction", openapi_extra=declares("batch")
)
for module in (
    lookup,  # the terminology operations before the published ConceptMaps' /ConceptMap/{id}
    expand,
    validate_code,
    translate,
    published,
    terminology,
    capabilities,
    validate,
    docref,
    history,
    search,
    vread,
    read,
    binary,
    create,
    update,
    patch,
    delete,
):
    router.include_router(module.router)
router.include_router(everything.router)
router.include_router(summarize.router)
router.include_router(bulk.router)
router.include_router(search.compartment_router)  # last: /Patient/{id}/{type} must not shadow _history or $ops
