"""The FHIR REST API under ``/fhir``: every interaction's router, most specific paths first."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from fhir_server.fhir import references
from fhir_server.fhir.interactions import capabilities, create, delete, history, patch, read, update, vread
from fhir_server.fhir.operations import validate


async def _public_base_url(request: Request) -> None:
    """Absolute references on the server's public base URL are its own (checked by reference integrity)."""
    references.use_base_url(request.app.state.settings.base_url)


router = APIRouter(prefix="/fhir", tags=["FHIR"], dependencies=[Depends(_public_base_url)])
for module in (capabilities, validate, history, vread, read, create, update, patch, delete):
    router.include_router(module.router)
