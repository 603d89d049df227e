"""Dynamic client registration: ``POST {base}/auth/register`` (RFC 7591, SMART's optional ``registration_endpoint``,
https://hl7.org/fhir/smart-app-launch/conformance.html#metadata).

Served only with ``FHIR_SERVER_DYNAMIC_REGISTRATION=true`` (otherwise 404, and not advertised). Every request needs an
initial access token from ``fhir-server clients registration-token`` as ``Authorization: Bearer`` (RFC 7591 section 3;
missing, unknown, expired or spent: 401 ``invalid_token``, RFC 6750). It registers one client of the token's clinic
through :func:`fhir_server.auth.clients.register_client`, so with exactly the checks of ``fhir-server clients
create``: a public app (``token_endpoint_auth_method`` ``none``) or a ``private_key_jwt`` client (``jwks`` or
``jwks_uri``); shared secrets are not handed out here. The scope must lie within the token's. Errors are RFC 7591
section 3.2.2 JSON: 400 ``invalid_redirect_uri`` or ``invalid_client_metadata`` naming what was wrong; a refused
registration leaves the token unspent. The body is held to the authorization server's limit
(:data:`fhir_server.body_limit.AUTH_FORM_LIMIT`, 64 KiB; more: 413). The answer is 201 with
``client_id``, ``client_id_issued_at`` and the metadata as registered (section 3.2.1). Audited as
``client-registered``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.responses import Response

from fhir_server.access.scopes import is_subset
from fhir_server.app_context import app_context
from fhir_server.auth import audit_events, registration_tokens
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.clients import ClientError, register_client
from fhir_server.db import OAuthClient, Organization
from fhir_server.errors import bearer_challenge, error_description
from fhir_server.responses import JsonResponse

router = APIRouter()
logger = logging.getLogger(__name__)
REGISTERED = "client-registered"
AUTH_METHODS = {"none": "public", "private_key_jwt": "confidential-asymmetric"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RegistrationError(Exception):
    """A registration refused: the RFC 7591/6750 ``error`` code, its description and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def invalid(description: str) -> RegistrationError:
    return RegistrationError("invalid_client_metadata", description)


@dataclass(frozen=True)
class Metadata:
    """The client metadata of a registration request (RFC 7591 section 2) that this server registers."""

    auth_method: str
    name: str
    scope: str
    redirect_uris: list[str]
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    grant_types: list[str] | None
    response_types: list[str] | None


def read_metadata(document: Any) -> Metadata:
    """The metadata of a parsed JSON body; ``invalid_client_metadata`` naming the first field of a wrong type.
    Fields this server does not use (``client_uri``, ``logo_uri``, ``contacts``, ...) are ignored (section 2)."""
    if not isinstance(document, dict):
        raise invalid("the body must be a JSON object of client metadata")
    method = document.get("token_endpoint_auth_method")
    if method not in AUTH_METHODS:
        raise invalid("token_endpoint_auth_method must be none (a public app) or private_key_jwt (a client with keys)")
    return Metadata(
        auth_method=method,
        name=_field(document, "client_name", str) or "App registered dynamically",
        scope=_field(document, "scope", str) or "",
        redirect_uris=_strings(document, "redirect_uris") or [],
        jwks=_field(document, "jwks", dict),
        jwks_uri=_field(document, "jwks_uri", str),
        grant_types=_strings(document, "grant_types"),
        response_types=_strings(document, "response_types"),
    )


def _field(document: dict[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if value is not None and not isinstance(value, kind):
        raise invalid(f"{name} must be a JSON {'string' if kind is str else 'object'}")
    return value


def _strings(document: dict[str, Any], name: str) -> list[str] | None:
    value = document.get(name)
    if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        raise invalid(f"{name} must be an array of strings")
    return value


BAD_TOKEN = RegistrationError("invalid_token", "the initial access token is unknown, expired or already used", 401)


def register(
    session: Session, token: str | None, metadata: Metadata | RegistrationError, origin: Origin
) -> dict[str, Any]:
    """Spend ``token`` and register the client it allows; the registration response (RFC 7591 section 3.2.1).
    A bad token is refused before the metadata is judged (``metadata`` may be why it could not be read)."""
    spent = registration_tokens.spend(session, token)
    if spent is None:
        raise BAD_TOKEN
    if isinstance(metadata, RegistrationError):
        raise metadata
    clinic = session.get_one(Organization, spent.organization_id)
    try:
        registered = register_client(
            session,
            name=metadata.name,
            client_type=AUTH_METHODS[metadata.auth_method],
            organization=clinic,
            scope=metadata.scope,
            redirect_uris=metadata.redirect_uris,
            jwks=metadata.jwks,
            jwks_url=metadata.jwks_uri,
        )
    except ClientError as exc:
        code = "invalid_redirect_uri" if exc.field == "redirect_uris" else "invalid_client_metadata"
        raise RegistrationError(code, str(exc).replace("--", "")) from exc
    if not is_subset(metadata.scope, spent.scope):
        raise invalid(f"scope goes beyond what the initial access token allows ({spent.scope})")
    row = registered.client
    answer = _response(row, metadata)
    spent.client_id = row.client_id
    detail = {"type": row.client_type, "scope": row.scope, "grant_types": answer["grant_types"]}
    audit_events.record(
        session, REGISTERED, origin, client_id=row.client_id, organization_id=row.organization_id, detail=detail
    )
    return answer


def _response(row: OAuthClient, metadata: Metadata) -> dict[str, Any]:
    usable = ["authorization_code", "refresh_token"] if row.redirect_uris else []
    usable += ["client_credentials"] if row.client_type == "confidential-asymmetric" else []
    grant_types = metadata.grant_types if metadata.grant_types is not None else usable
    beyond = [g for g in grant_types if g not in usable]
    if beyond:
        raise invalid(f"grant_types {' '.join(beyond)} cannot be used by this client (it may use {' '.join(usable)})")
    response_types = ["code"] if "authorization_code" in grant_types else []
    if metadata.response_types is not None and metadata.response_types != response_types:
        raise invalid(f"response_types must be {json.dumps(response_types)} for these grant_types")
    answer: dict[str, Any] = {
        "client_id": row.client_id,
        "client_id_issued_at": int(row.created_at.timestamp()),
        "client_name": row.name,
        "token_endpoint_auth_method": metadata.auth_method,
        "grant_types": grant_types,
        "response_types": response_types,
        "redirect_uris": row.redirect_uris,
        "scope": row.scope,
    }
    if row.jwks is not None:
        answer["jwks"] = row.jwks
    if row.jwks_url is not None:
        answer["jwks_uri"] = row.jwks_url
    return answer


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


async def _metadata(request: Request) -> Metadata:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise invalid("the registration request must be application/json")
    try:
        document = json.loads(await request.body())
    except ValueError:
        raise invalid("the body is not JSON") from None
    return read_metadata(document)


def _error(exc: RegistrationError) -> Response:
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = bearer_challenge(exc.error, exc.description)
    body = {"error": exc.error, "error_description": error_description(exc.description)}
    return JsonResponse(body, exc.status, headers)


@router.post("/register", summary="Dynamic client registration (RFC 7591)")
async def registration_endpoint(request: Request) -> Response:
    """Register a client with an initial access token; 201 with the registered metadata."""
    context = app_context(request)
    if not context.settings.dynamic_registration:
        off = "dynamic client registration is off on this server: an administrator registers apps"
        return JsonResponse({"error": "invalid_request", "error_description": off}, 404, NO_STORE)
    token, origin, database = _bearer(request), Origin.of(request), context.database

    def run(metadata: Metadata | RegistrationError) -> dict[str, Any]:
        with database.read() as session:
            if not registration_tokens.usable(session, token):
                raise BAD_TOKEN
        with database.write() as session:
            return register(session, token, metadata, origin)

    try:
        if token is None:
            raise RegistrationError("invalid_token", "an initial access token is required (Bearer)", 401)
        try:
            metadata: Metadata | RegistrationError = await _metadata(request)
        except RegistrationError as exc:
            metadata = exc
        answer = await run_in_threadpool(run, metadata)
    except RegistrationError as exc:
        logger.info("client registration refused: %s (%s)", exc.error, exc.description)
        return _error(exc)
    logger.info("client %s registered dynamically", answer["client_id"])
    return JsonResponse(answer, 201, NO_STORE)
