"""Records every FHIR request in the audit trail that its handler's write transaction did not already record, and
every page view of the browser UI (:mod:`fhir_server.ui`) that ran for a logged-in user, as the FHIR interaction the
page performed (its route declares it, as the API's routes do), marked as a UI view.

Reads, searches, operations, refusals (401/403) and failures each get one ``audit_events`` row, committed after the
response by the loop's :class:`fhir_server.audit.writer.AuditWriter` (group commit: the request's task ends once
its row is in the database) (https://profiles.ihe.net/ITI/BALP/: every RESTful interaction is audited, failed ones
too). A successful write's row is written inside its transaction (:mod:`fhir_server.audit.trail`).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server.app_context import started_context
from fhir_server.audit import trail
from fhir_server.audit.writer import writer_of
from fhir_server.auth.audit_events import Origin
from fhir_server.db.types import utcnow
from fhir_server.fhir.route_interactions import declared

logger = logging.getLogger("fhir_server.audit")
_FHIR_MODULES = ("fhir_server.fhir.", "fhir_server.audit.")
_UI_MODULE = "fhir_server.ui."
_MAX_PEEK = 1 << 20


def is_fhir_request(scope: Scope) -> bool:
    """True for a request routed to a FHIR API handler (or an unknown path under ``/fhir``)."""
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        return str(getattr(endpoint, "__module__", "")).startswith(_FHIR_MODULES)
    path = str(scope.get("path", ""))
    return path.startswith("/fhir") and not path.startswith(("/fhir/auth", "/fhir/.well-known"))


def channel_of(scope: Scope) -> str | None:
    """:data:`trail.API` for a FHIR request; :data:`trail.UI` for a UI page whose route declares an interaction and
    that found its viewer (``state.access``: a browser without a login is only sent to the login page); else None
    (not audited here)."""
    if is_fhir_request(scope):
        return trail.API
    module = str(getattr(scope.get("endpoint"), "__module__", ""))
    if module.startswith(_UI_MODULE) and scope.get("state", {}).get("access") is not None and declared(scope)[0]:
        return trail.UI
    return None


class AuditMiddleware:
    """Pure ASGI middleware: after each FHIR request, the audit row its handler did not write."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        body = bytearray()
        peek = scope["method"] == "POST" and scope["path"].rstrip("/") == "/fhir"  # batch or transaction?

        async def receive_peeking() -> Message:
            message = await receive()
            if peek and message["type"] == "http.request" and len(body) < _MAX_PEEK:
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):  # known before the handler writes anything
                    scope.setdefault("state", {})[trail.BUNDLE_TYPE] = _bundle_type(bytes(body))
            return message

        async def send_noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive_peeking, send_noting)
        finally:
            via = channel_of(scope)
            if via is not None and not scope.get("state", {}).get(trail.RECORDED):
                await self._record(scope, status, via)

    async def _record(self, scope: Scope, status: int, via: str) -> None:
        context = started_context(scope["app"])
        if context is None:
            return
        state: dict[str, Any] = scope.get("state", {})
        interaction = trail.interaction_of(scope)
        origin = Origin(
            scope["client"][0] if scope.get("client") else None,
            _header(scope, b"user-agent"),
            state.get("request_id"),
        )
        query = scope.get("query_string", b"").decode("latin-1") if interaction.action.startswith("search") else None
        record = trail.Record(interaction, state.get("access"), origin, status, None, utcnow(), query, via)
        try:
            await writer_of(scope["app"].state, context.database).record(record)
        except Exception:  # an audit failure must not turn an answered request into another answer
            logger.exception("could not record the audit event", extra={"request_id": origin.request_id})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")[:500] or None
    return None


def _bundle_type(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    kind = parsed.get("type") if isinstance(parsed, dict) else None
    return kind if isinstance(kind, str) else None
