"""HEAD is GET without the body (RFC 9110 section 9.3.2): every path that takes GET takes HEAD, with the headers GET
would answer (status, ETag, Last-Modified, Content-Type, Content-Length) and no content.

Routing sees a GET (so a HEAD is routed, authorized and audited as the read it stands for); the answer's body is
dropped on the way out. Routes need not list HEAD, and ``Allow`` lists it wherever GET is
(:func:`fhir_server.fhir.route_interactions.allowed_methods`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadRequestsMiddleware:
    """Pure ASGI middleware: a HEAD request is served as GET, without the response body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        scope["method"] = "GET"  # in place: the middlewares around see what was routed

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_headers_only)
