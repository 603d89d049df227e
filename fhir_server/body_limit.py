"""Request body limits, enforced while the body arrives, before any handler parses it.

Every route that reads a body passes through :class:`BodyLimitMiddleware`: a declared ``Content-Length`` above the
route's limit answers 413 at once (the body is never read); otherwise the bytes are counted as the server receives
them, and the first chunk past the limit ends the read with 413, so a chunked body of any size costs no more memory
than the limit. The 413 is a FHIR OperationOutcome (code ``too-costly``) naming the limit; it replaces whatever the
endpoint answers after its body was cut off (a proxy streaming the body on, for one, sees its upload fail).

Limits by path: the authorization pages and endpoints (``/fhir/auth/...``, small forms) :data:`AUTH_FORM_LIMIT`;
DICOMweb (``/dicomweb/...``, whose STOW-RS bodies stream to Orthanc) ``FHIR_SERVER_MAX_STOW_BODY_BYTES``; Binary
(``/fhir/Binary``, ``/fhir/Binary/...``) the FHIR JSON size of a content of ``FHIR_SERVER_BINARY_MAX_BYTES`` (a raw
upload is held to the content limit itself while it is spooled: fhir_server.fhir.interactions.binary); everything
else, the FHIR API included, ``FHIR_SERVER_MAX_BODY_BYTES``.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server.auth.oauth_server import AUTH_PREFIX
from fhir_server.errors import Kind, fail
from fhir_server.fhir.binary_content import json_body_limit
from fhir_server.fhir.outcomes import error_response
from fhir_server.numbers import whole_number
from fhir_server.settings import Settings

AUTH_FORM_LIMIT = 64 * 1024
"""Bytes a request to the authorization server may carry (login and consent forms, token requests with a signed
client assertion: a few KB)."""
_AUTH_PATH = f"/fhir{AUTH_PREFIX}/"
_DICOMWEB_PATH = "/dicomweb/"
_BINARY_PATH = "/fhir/Binary"


class BodyTooLarge(HTTPException):
    """The request body is larger than ``limit`` bytes: 413. Raised from ``receive`` inside the handler, so the
    application's handler of HTTP errors renders it as an OperationOutcome."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than this endpoint's limit of {limit} bytes")
        self.limit = limit


def body_limit(path: str, settings: Settings) -> int:
    """The most bytes a request body to ``path`` may hold."""
    if path.startswith(_AUTH_PATH):
        return AUTH_FORM_LIMIT
    if path.startswith(_DICOMWEB_PATH):
        return settings.max_stow_body_bytes
    if path == _BINARY_PATH or path.startswith(_BINARY_PATH + "/"):
        return json_body_limit(settings.binary_max_bytes)
    return settings.max_body_bytes


class BodyLimitMiddleware:
    """Pure ASGI middleware refusing bodies over :func:`body_limit` with 413, before the application parses them."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "content-length" not in headers and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # HTTP/1.1 framing: a request with neither has no body
            return
        limit = body_limit(scope["path"], self.settings)
        if _declared_length(headers) > limit:
            await _refuse(scope, receive, send, limit)
            return
        received, exceeded, started, replaced = 0, False, False, False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                exceeded = received > limit
                if exceeded:
                    raise BodyTooLarge(limit)
            return message

        async def answering_send(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                # whatever the endpoint made of a cut-off body (a proxy streaming it on: 502), it was too large
                replaced = exceeded and not started
                started = True
                if replaced:
                    await _refuse(scope, receive, send, limit)
            if not replaced:
                await send(message)

        try:
            await self.app(scope, counting_receive, answering_send)
        except BodyTooLarge:
            if started:  # a streaming endpoint had answered already: nothing else can be said
                raise
            await _refuse(scope, receive, send, limit)


def _declared_length(headers: Headers) -> int:
    """The request's Content-Length (0 when absent or not a number: then only the counting applies)."""
    declared = whole_number(headers.get("content-length", ""))
    return declared if declared is not None else 0


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await error_response(fail(Kind.TOO_LARGE, str(BodyTooLarge(limit).detail)))(scope, receive, send)
