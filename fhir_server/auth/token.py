"""The token endpoint: ``POST {base}/auth/token`` (RFC 6749 section 3.2, SMART App Launch
https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-access-token and
https://hl7.org/fhir/smart-app-launch/backend-services.html#obtaining-an-access-token).

Grants: ``authorization_code`` (PKCE S256 always), ``refresh_token`` (with or without ``scope``, never wider than the
grant; the refresh token stays valid and its lifetime is renewed) and ``client_credentials`` (backend services,
``private_key_jwt`` only). Responses carry ``scope`` exactly as granted, a numeric ``expires_in``, the launch context
at the top level (``patient`` as a bare id, ``encounter``, ``need_patient_banner``, ``smart_style_url``), an RS256
``id_token`` when ``openid`` is granted with ``fhirUser`` or ``profile``, and ``Cache-Control: no-store``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError, grants
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.responses import Response

from fhir_server.access.digests import digest
from fhir_server.access.patient_context import context_allowed
from fhir_server.access.scopes import is_subset, split_scope
from fhir_server.access.user_scopes import grantable
from fhir_server.app_context import app_context
from fhir_server.auth import audit_events, id_token
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.backend_services import PrivateKeyJwt, SystemClientCredentials
from fhir_server.auth.grants import (
    ISSUED_GRANT,
    attach_refresh_token,
    create_grant,
    issue_access_token,
    new_secret,
    redeem_code,
    revoke_replayed,
)
from fhir_server.auth.grants import (
    grant_of_refresh_token as find_refresh_grant,
)
from fhir_server.auth.oauth_server import FormRequest, SmartServer, read_form_request
from fhir_server.auth.pkce import S256Required
from fhir_server.auth.request_checks import SmartChecks
from fhir_server.db import AuthorizationCode, Grant, User
from fhir_server.db.types import utcnow
from fhir_server.metrics import tokens
from fhir_server.settings import Settings

router = APIRouter()
REFRESH_SCOPES = frozenset({"offline_access", "online_access"})


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """authorization_code: codes redeemed once, for their client, with PKCE (see :mod:`fhir_server.auth.pkce`)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]

    def generate_authorization_code(self) -> str:
        return new_secret()

    def save_authorization_code(self, code: str, request: FormRequest) -> None:
        """Store the code with everything it is bound to (the flow put the launch context in ``request.smart``)."""
        data = request.payload.data
        self.server.session.add(
            AuthorizationCode(
                code_hash=digest(code),
                client_id=request.client.client_id,
                user_id=request.user.id,
                redirect_uri=data.get("redirect_uri") or "",
                scope=request.scope,
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                nonce=data.get("nonce"),
                context=request.smart.get("context", {}),
                expires_at=utcnow() + timedelta(seconds=self.server.settings.authorization_code_lifetime),
            )
        )

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        """The unspent code; a code spent before (a replay, RFC 6749 section 4.1.2) is refused and the grant
        issued from it revoked, its access and refresh tokens with it."""
        redeemed = redeem_code(self.server.session, code, client.client_id)
        if redeemed is None:
            revoke_replayed(self.server.session, code, client.client_id)
        return redeemed

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Already spent when redeemed."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return self.server.session.get(User, authorization_code.user_id)  # type: ignore[no-any-return]

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: AuthorizationCode = self.request.authorization_code
        user = self.authenticate_user(code)
        if user is None or not user.active:
            raise InvalidRequestError("the user of this code is no longer active")
        if user.organization_id != self.request.client.organization_id:
            raise InvalidGrantError("the user of this code is not of the client's clinic")
        if not context_allowed(self.server.session, user, code.context):
            raise InvalidGrantError("a patient's own login can only act for that patient")
        self.request.user = user
        refresh = bool(REFRESH_SCOPES & set(code.scope.split()))
        token = self.generate_token(user=user, scope=code.scope, include_refresh_token=refresh)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """refresh_token: the same grant, a new access token; ``scope`` optional and never wider than granted."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = False

    def _validate_request_token(self, client: Any) -> Grant:
        refresh_token = self.request.form.get("refresh_token")
        if refresh_token is None:
            raise InvalidRequestError("Missing 'refresh_token' in request.")
        grant = find_refresh_grant(self.server.session, refresh_token)
        if grant is None or grant.client_id != client.client_id:
            raise InvalidGrantError("the refresh token is unknown, expired or revoked")
        return grant

    def _validate_token_scope(self, token: Grant) -> None:
        scope = self.request.payload.scope
        if scope and not is_subset(scope, token.scope):
            raise InvalidScopeError("a refresh cannot widen the scope of the grant")

    def authenticate_refresh_token(self, refresh_token: str) -> Grant | None:
        return find_refresh_grant(self.server.session, refresh_token)

    def authenticate_user(self, refresh_token: Grant) -> User | None:
        if refresh_token.user_id is None:
            return None
        user = self.server.session.get(User, refresh_token.user_id)
        return user if user is not None and user.active and user.deleted_at is None else None

    def revoke_old_credential(self, refresh_token: Grant) -> None:
        """The refresh token stays valid (a client that gets no new one keeps using it)."""

    def issue_token(self, user: User, refresh_token: Grant) -> dict[str, Any]:
        """A new access token for the requested scope (default: the grant's), narrowed to what the user's current
        role may be granted (:func:`fhir_server.access.user_scopes.grantable`; no ``system/`` scope)."""
        requested = self.request.payload.scope or refresh_token.scope
        scope = " ".join(grantable(split_scope(requested), user.role))
        if not scope:
            raise InvalidScopeError("the user's role allows none of the requested scopes")
        token: dict[str, Any] = self.generate_token(user=user, scope=scope, include_refresh_token=False)
        return token


def build_server(session: Session, settings: Settings, origin: Origin) -> SmartServer:
    """The authorization server with SMART's grants, client authentication methods and token lifetimes."""
    server = SmartServer(session, settings, origin)
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt(server))
    server.register_grant(CodeGrant, [S256Required(), SmartChecks()])
    server.register_grant(RefreshGrant)
    server.register_grant(SystemClientCredentials)
    server.register_token_generator("default", _token_generator(settings))
    return server


def _token_generator(settings: Settings) -> Any:
    def generate(
        grant_type: str,
        client: Any,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        backend = grant_type == "client_credentials"
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": new_secret(),
            "expires_in": settings.backend_token_lifetime if backend else settings.access_token_lifetime,
            "scope": scope or "",
        }
        if include_refresh_token and not backend:
            token["refresh_token"] = new_secret()
        return token

    return generate


# --- storing what was issued ---------------------------------------------------------------------------------


def save_token(server: SmartServer, token: dict[str, Any], request: FormRequest) -> None:
    """Store the tokens of ``token`` (a response being built) and add the launch context and id_token to it."""
    grant_type = request.payload.grant_type
    session, settings = server.session, server.settings
    if grant_type == "authorization_code":
        grant = _grant_from_code(session, request.authorization_code, request.user, token, settings)
        action = audit_events.TOKEN_ISSUED
    elif grant_type == "refresh_token":
        grant = request.refresh_token
        grant.refresh_expires_at = utcnow() + timedelta(seconds=settings.refresh_token_lifetime)
        action = audit_events.TOKEN_REFRESHED
    else:
        grant = create_grant(
            session,
            client_id=request.client.client_id,
            organization_id=request.client.organization_id,
            grant_type=grant_type,
            scope=token["scope"],
        )
        action = audit_events.TOKEN_ISSUED
    _store_access_token(session, grant, token)
    token.update(_context_fields(grant.context))
    if grant_type == "authorization_code" and id_token.wanted(grant.scope):
        token["id_token"] = id_token.issue(server, grant, request.user, request.authorization_code)
    _audit(server, action, grant, token)


def _grant_from_code(
    session: Session, code: AuthorizationCode, user: User, token: dict[str, Any], settings: Settings
) -> Grant:
    grant = create_grant(
        session,
        client_id=code.client_id,
        user_id=user.id,
        organization_id=user.organization_id,
        grant_type="authorization_code",
        scope=code.scope,
        context=code.context,
    )
    code.context = {**code.context, ISSUED_GRANT: str(grant.id)}  # what a replay of the code revokes
    if "refresh_token" in token:
        token["refresh_token"] = attach_refresh_token(grant, settings.refresh_token_lifetime)
    session.flush()
    return grant


def _store_access_token(session: Session, grant: Grant, token: dict[str, Any]) -> None:
    access, _expires = issue_access_token(session, grant, token["scope"], int(token["expires_in"]))
    token["access_token"] = access


def _context_fields(context: dict[str, Any]) -> dict[str, Any]:
    """The launch context at the top level of the token response (app-launch.html#launch-context-arrives)."""
    names = ("patient", "encounter", "need_patient_banner", "smart_style_url", "fhirContext", "intent", "tenant")
    return {name: context[name] for name in names if context.get(name) is not None}


def _audit(server: SmartServer, action: str, grant: Grant, token: dict[str, Any]) -> None:
    patient = grant.context.get("patient_uuid")
    audit_events.record(
        server.session,
        action,
        server.origin,
        user_id=grant.user_id,
        client_id=grant.client_id,
        organization_id=grant.organization_id,
        patient_id=_uuid(patient),
        detail={"grant": str(grant.id), "grant_type": grant.grant_type, "scope": token["scope"]},
    )


def _uuid(value: Any) -> Any:
    import uuid

    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


# --- the endpoint ---------------------------------------------------------------------------------------------


@router.post("/token", summary="SMART token endpoint")
async def token_endpoint(request: Request) -> Response:
    """``POST`` form: every grant's token request; errors are OAuth 2 JSON (RFC 6749 section 5.2)."""
    oauth_request = await read_form_request(request, "token")  # keys fetched here, outside the transaction
    context = app_context(request)
    settings, database = context.settings, context.database
    origin = Origin.of(request)

    def run() -> Response:
        with database.write() as session:
            server = build_server(session, settings, origin)
            response: Response = server.create_token_response(oauth_request)
            return response

    grant_type = oauth_request.payload.grant_type
    try:
        response = await run_in_threadpool(run)
    except Exception:
        tokens.count(grant_type, None)
        raise
    tokens.count(grant_type, response)
    return response
