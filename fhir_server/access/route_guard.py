"""401 before routing reveals anything: a FHIR path no route serves answers as a protected one does.

Without this, ``GET /fhir/NoSuchType/1/x`` answered 404 and ``PATCH /fhir/Patient`` 405 to anyone, while a served
path answered 401: the difference maps the API without a token. :class:`RouteGuardMiddleware` watches each FHIR
request's answer; when routing found no route (404 with no endpoint) or no route for the method (405 from a route
that does not take it), it checks the caller's token the way every FHIR handler does
(:func:`fhir_server.access.context.resolve_access`) and answers that check's 401 (same ``WWW-Authenticate`` challenge)
in place of the 404/405 when the token is missing or not live. With a live token, or with authorization disabled,
the 404/405 stands. The public endpoints (``metadata``, ``.well-known``, the authorization server, the published
definitions) are never touched: a 405 on their paths (``DELETE /fhir/metadata``) stays, as anyone may know them.
The check runs only on those unrouted answers: the hot path pays nothing but a look at the status.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server.access.context import access_context, resolve_access
from fhir_server.audit.middleware import is_fhir_request
from fhir_server.errors import FhirError
from fhir_server.fhir.outcomes import error_response


def unrouted(scope: Scope, status: int) -> bool:
    """True when ``status`` is routing's own answer: no route for the path, or none for the method."""
    if status == 404:
        return scope.get("endpoint") is None
    methods = getattr(scope.get("route"), "methods", None)
    return status == 405 and methods is not None and scope["method"] not in methods


class RouteGuardMiddleware:
    """Pure ASGI middleware: the token's 401 in place of routing's 404/405 under ``/fhir``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/fhir"):
            await self.app(scope, receive, send)
            return
        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and unrouted(scope, message["status"]):
                challenge = await _challenge(scope, receive)
                if challenge is not None:
                    replaced = True
                    await challenge(scope, receive, send)
            if not replaced:
                await send(message)

        await self.app(scope, receive, guarded_send)


async def _challenge(scope: Scope, receive: Receive) -> Response | None:
    """The 401 a protected FHIR path would answer this request; None when the caller may be told more."""
    if not is_fhir_request(scope) or _open(scope.get("route")):
        return None
    try:
        await resolve_access(Request(scope, receive))
    except FhirError as refusal:
        return error_response(refusal)
    return None


def _open(route: Any) -> bool:
    """True for a route that serves anyone (its handler does not depend on the caller's access: ``metadata``, the
    published definitions): a 405 on its path tells nothing a caller without a token could not learn."""
    dependant = getattr(route, "dependant", None)
    return dependant is not None and not _takes_token(dependant)


def _takes_token(dependant: Any) -> bool:
    return any(d.call is access_context or _takes_token(d) for d in dependant.dependencies)
