"""Token revocation: ``POST {base}/auth/revoke`` (RFC 7009, https://www.rfc-editor.org/rfc/rfc7009).

Confidential clients authenticate; public clients send their ``client_id``. The answer is 200 even for an unknown
token. Revoking a refresh token ends the whole grant (its access tokens stop working at once); revoking an access
token ends that token. Each revocation is audited in the same transaction.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from fhir_server.app_context import app_context
from fhir_server.auth import audit_events
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.grants import LiveToken, grant_of_refresh_token, live_access_token, revoke_grant
from fhir_server.auth.oauth_server import read_form_request
from fhir_server.auth.token import build_server
from fhir_server.db import Grant
from fhir_server.db.types import utcnow

router = APIRouter()


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009 over the token store."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Grant | LiveToken | None:
        session = self.server.session
        if token_type_hint == "access_token":  # noqa: S105 - a hint name
            return live_access_token(session, token_string) or grant_of_refresh_token(session, token_string)
        return grant_of_refresh_token(session, token_string) or live_access_token(session, token_string)

    def authenticate_token(self, request: Any, client: Any) -> Grant | LiveToken | None:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        owner = token.client_id if isinstance(token, Grant) else token.client.client_id if token else None
        return token if owner == client.client_id else None  # another client's token: nothing to do

    def revoke_token(self, token: Grant | LiveToken, request: Any) -> None:
        session = self.server.session
        if isinstance(token, Grant):
            revoke_grant(session, token)
            grant, what = token, "grant"
        else:
            token.token.revoked_at = utcnow()
            grant, what = token.grant, "access token"
        audit_events.record(
            session,
            audit_events.TOKEN_REVOKED,
            self.server.origin,
            user_id=grant.user_id,
            client_id=grant.client_id,
            organization_id=grant.organization_id,
            detail={"grant": str(grant.id), "revoked": what},
        )


@router.post("/revoke", summary="OAuth 2 token revocation (RFC 7009)")
async def revoke(request: Request) -> Response:
    oauth_request = await read_form_request(request, "revoke")  # keys fetched here, outside the transaction
    context = app_context(request)
    settings, database = context.settings, context.database
    origin = Origin.of(request)

    def run() -> Response:
        with database.write() as session:
            server = build_server(session, settings, origin)
            server.register_endpoint(Revocation)
            response: Response = server.create_endpoint_response(Revocation.ENDPOINT_NAME, oauth_request)
            return response

    return await run_in_threadpool(run)
