"""The FHIR REST API under ``/fhir``: every interaction's router, most specific paths first."""

from __future__ import annotations

from fastapi import APIRouter

from fhir_server.fhir.interactions import capabilities, create, delete, history, patch, read, update, vread

router = APIRouter(prefix="/fhir", tags=["FHIR"])
for module in (capabilities, history, vread, read, create, update, patch, delete):
    router.include_router(module.router)
