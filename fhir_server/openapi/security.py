"""The OpenAPI security schemes of a SMART server (https://hl7.org/fhir/smart-app-launch/).

``smart``: OAuth 2 authorization code (with PKCE, as Swagger UI sends it) at the endpoints and scopes of the server's
SMART configuration (:func:`fhir_server.auth.smart_configuration.smart_configuration`, so both always agree);
``bearer``: an access token got any other way (a backend service's ``client_credentials`` grant with a signed
assertion, which a browser cannot make). The public endpoints (discovery, the authorization server, the
CapabilityStatement, the published definitions, health) need neither. Without authorization there is no scheme.
"""

from __future__ import annotations

from typing import Any

from fhir_server.auth.smart_configuration import smart_configuration
from fhir_server.fhir.published import PUBLISHED_TYPES
from fhir_server.settings import Settings

_PUBLIC = ("/health", "/fhir/metadata", "/fhir/.well-known", "/fhir/auth", *(f"/fhir/{t}" for t in PUBLISHED_TYPES))
REQUIREMENTS: list[dict[str, list[str]]] = [{"smart": []}, {"bearer": []}]
"""Either scheme will do (OpenAPI security requirement objects are alternatives)."""


def schemes(settings: Settings) -> dict[str, Any]:
    """The security schemes of a server run with ``settings`` (none when authorization is disabled)."""
    if settings.auth != "enabled":
        return {}
    configuration = smart_configuration(settings)
    flow = {
        "authorizationUrl": configuration["authorization_endpoint"],
        "tokenUrl": configuration["token_endpoint"],
        "refreshUrl": configuration["token_endpoint"],
        "scopes": {scope: _meaning(scope) for scope in configuration["scopes_supported"]},
    }
    smart = {
        "type": "oauth2",
        "description": "SMART App Launch: authorization code with PKCE (S256). Register a public client whose "
        "redirect URI is this page's /docs/oauth2-redirect, then Authorize with its client_id.",
        "flows": {"authorizationCode": flow},
    }
    bearer = {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from the token endpoint (e.g. a backend service's client_credentials grant)",
    }
    return {"smart": smart, "bearer": bearer}


def is_public(path: str) -> bool:
    """True for a path anyone may call without a token."""
    return any(path == p or path.startswith(p + "/") for p in _PUBLIC)


def _meaning(scope: str) -> str:
    context, _, rest = scope.partition("/")
    if not rest:
        return f"{scope} (SMART / OpenID Connect)"
    resource, _, permissions = rest.partition(".")
    who = {"patient": "the patient in context", "user": "the signed-in user", "system": "a backend service"}
    return f"{permissions} on {resource} for {who.get(context, context)}"
