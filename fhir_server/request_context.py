"""The one typed context of a FHIR request: the application's (:class:`~fhir_server.app_context.AppContext`:
settings, public base URL, cursor key, database) and the caller's access.

FHIR handlers take it as a parameter (``ctx: Context``); FastAPI builds it once per request from the application's
context and the access dependency (:data:`fhir_server.access.context.Access`), so a handler that also asks for
``Access`` gets the same caller. Building it costs one small object: nothing is parsed or derived per request.
Code without an access dependency (plain Starlette endpoints, middleware, the authorization server) reads the
application's part with :func:`fhir_server.app_context.app_context`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import Request

from fhir_server.access.context import Access, AccessContext
from fhir_server.app_context import AppContext, app_context
from fhir_server.db.engine import Database
from fhir_server.settings import Settings


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The application's context (``app``) and the caller (``access``) of one request."""

    app: AppContext
    access: AccessContext

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def base_url(self) -> str:
        """The public FHIR base URL (links, Location, the server's own absolute references)."""
        return self.app.base_url

    @property
    def cursor_key(self) -> bytes:
        """The key page cursors are signed with (:mod:`fhir_server.fhir.cursors`)."""
        return self.app.cursor_key

    @property
    def database(self) -> Database:
        return self.app.database


async def request_context(request: Request, access: Access) -> RequestContext:
    """FastAPI dependency: the request's context (401, as :data:`Access`, when the caller's token is not live)."""
    return RequestContext(app_context(request), access)


Context = Annotated[RequestContext, Depends(request_context)]
