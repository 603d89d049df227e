"""Token introspection: ``POST {base}/auth/introspect`` (RFC 7662, https://www.rfc-editor.org/rfc/rfc7662;
https://hl7.org/fhir/smart-app-launch/token-introspection.html).

The caller authenticates as a confidential client or with a live Bearer access token (a public client presenting
its own token). A caller learns only about tokens issued to its own client, unless it is a resource server named in
the ``introspection_clients`` setting; of any other token it is told ``{"active": false}``. The answer is always
200 JSON: ``{"active": false}`` and nothing else for an unknown, expired or revoked token (or one the caller may not
see); for a live access token ``active``, ``scope`` (as in the token response), ``client_id``, ``exp``,
``iat``, ``token_type``, ``sub``/``iss``/``fhirUser`` (as in the id_token) and the launch context (``patient``,
``encounter``) as bare ids.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from fhir_server.app_context import app_context
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.grants import LiveToken, live_access_token
from fhir_server.auth.id_token import fhir_user
from fhir_server.auth.oauth_server import FormRequest, SmartServer, read_form_request
from fhir_server.auth.token import build_server
from fhir_server.settings import Settings

router = APIRouter()


def resource_servers(settings: Settings) -> frozenset[str]:
    """The client ids designated as resource servers: they may introspect every token."""
    return frozenset(settings.introspection_clients.replace(",", " ").split())


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662 over the token store; Bearer tokens are accepted as caller authentication."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def authenticate_endpoint_client(self, request: FormRequest) -> Any:
        authorization = request.headers.get("authorization", "")
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer":
            live = live_access_token(self.server.session, credential.strip())
            if live is None:
                raise InvalidClientError(status_code=401, description="the Bearer token is not valid")
            request.client = live.client
            return live.client
        return super().authenticate_endpoint_client(request)

    def check_permission(self, token: LiveToken, client: Any, request: Any) -> bool:
        """Only the token's own client, or a resource server named in ``introspection_clients``, learns about it;
        anyone else is told ``{"active": false}`` (RFC 7662 section 2.2)."""
        caller = client.client_id
        return bool(caller == token.client.client_id or caller in resource_servers(self.server.settings))

    def query_token(self, token_string: str, token_type_hint: str | None) -> LiveToken | None:
        return live_access_token(self.server.session, token_string)

    def create_introspection_payload(self, token: LiveToken | None) -> dict[str, Any]:
        if token is None:
            return {"active": False}
        return self.introspect_token(token)

    def introspect_token(self, token: LiveToken) -> dict[str, Any]:
        server: SmartServer = self.server
        payload: dict[str, Any] = {
            "active": True,
            "scope": token.token.scope,
            "client_id": token.client.client_id,
            "token_type": "Bearer",
            "exp": int(token.token.expires_at.timestamp()),
            "iat": int(token.token.issued_at.timestamp()),
            "iss": server.endpoints.issuer,
        }
        if token.user is not None:
            payload["sub"] = str(token.user.id)
            payload["username"] = token.user.email
            resource = fhir_user(server.session, token.user, server.settings.base_url)
            if resource is not None:
                payload["fhirUser"] = resource
        for name in ("patient", "encounter"):
            if token.grant.context.get(name):
                payload[name] = token.grant.context[name]
        return payload


@router.post("/introspect", summary="OAuth 2 token introspection (RFC 7662)")
async def introspect(request: Request) -> Response:
    oauth_request = await read_form_request(request, "introspect")  # keys fetched here, outside the transaction
    context = app_context(request)
    settings, database = context.settings, context.database
    origin = Origin.of(request)

    def run() -> Response:
        with database.write() as session:  # a client assertion's jti is recorded
            server = build_server(session, settings, origin)
            server.register_endpoint(Introspection)
            response: Response = server.create_endpoint_response(Introspection.ENDPOINT_NAME, oauth_request)
            return response

    return await run_in_threadpool(run)
