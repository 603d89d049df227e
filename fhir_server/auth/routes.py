"""The authorization server's routes: discovery under ``/fhir/.well-known/`` and the endpoints under ``/fhir/auth/``.

Included before the FHIR router, so ``/fhir/.well-known/...`` and ``/fhir/auth/...`` are never taken for a read of
``[type]/[id]``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from fhir_server.auth import (
    account_pages,
    authorize,
    branding,
    dynamic_registration,
    introspection,
    logout,
    password_pages,
    revocation,
    smart_configuration,
    token,
)
from fhir_server.auth.oauth_server import AUTH_PREFIX
from fhir_server.auth.same_origin import same_origin_only

router = APIRouter(prefix="/fhir", tags=["SMART authorization"])
router.include_router(smart_configuration.router)
_endpoints = APIRouter(prefix=AUTH_PREFIX, dependencies=[Depends(same_origin_only)])  # CSRF: see same_origin
for module in (
    token,
    introspection,
    revocation,
    authorize,
    account_pages,
    logout,
    branding,
    password_pages,
    dynamic_registration,
):
    _endpoints.include_router(module.router)
router.include_router(_endpoints)
