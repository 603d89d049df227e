"""Discovery: ``{base}/.well-known/smart-configuration`` (https://hl7.org/fhir/smart-app-launch/conformance.html),
the OpenID Provider configuration at the issuer (``{base}/.well-known/openid-configuration``,
https://openid.net/specs/openid-connect-discovery-1_0.html), the JWKS, and the ``smart_style_url`` document.

All are public JSON whatever the ``Accept`` header, with absolute URLs, readable from any origin (CORS ``*``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from fhir_server.access.scopes import NON_RESOURCE_SCOPES
from fhir_server.app_context import app_context
from fhir_server.auth.keys import ID_TOKEN_ALGORITHM, public_jwks
from fhir_server.auth.oauth_server import Endpoints
from fhir_server.responses import JsonResponse
from fhir_server.settings import Settings

router = APIRouter()

CAPABILITIES = (
    "launch-standalone",
    "launch-ehr",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-standalone-patient",
    "context-ehr-patient",
    "context-banner",
    "context-style",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
    "authorize-post",
)
"""https://hl7.org/fhir/smart-app-launch/conformance.html#capabilities, exactly as spelled there."""

SCOPES_SUPPORTED = (
    *sorted(NON_RESOURCE_SCOPES),
    "patient/*.cruds",
    "patient/*.rs",
    "patient/*.read",
    "user/*.cruds",
    "user/*.rs",
    "user/*.read",
    "user/*.*",
    "system/*.cruds",
    "system/*.rs",
    "system/*.read",
)
CORS = {"Access-Control-Allow-Origin": "*"}
STYLE = {
    "color_background": "#f4f6f8",
    "color_error": "#cf222e",
    "color_highlight": "#1f6feb",
    "color_modal_backdrop": "",
    "color_success": "#1a7f37",
    "color_text": "#1d2733",
    "dim_border_radius": "8px",
    "dim_font_size": "16px",
    "dim_spacing_size": "16px",
    "font_family_body": "system-ui, sans-serif",
    "font_family_heading": "system-ui, sans-serif",
}


def smart_configuration(settings: Settings) -> dict[str, Any]:
    """The SMART configuration document of a server whose FHIR base is ``settings.base_url``."""
    urls = Endpoints(settings.base_url)
    registration = {"registration_endpoint": urls.url("register")} if settings.dynamic_registration else {}
    return {
        "issuer": urls.issuer,
        "jwks_uri": urls.jwks,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "introspection_endpoint": urls.url("introspect"),
        "revocation_endpoint": urls.url("revoke"),
        "management_endpoint": urls.url("manage"),
        **registration,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "capabilities": list(CAPABILITIES),
    }


def openid_configuration(settings: Settings) -> dict[str, Any]:
    """The OpenID Provider metadata (issuer = the FHIR base URL, as in every id_token's ``iss``)."""
    urls = Endpoints(settings.base_url)
    return {
        "issuer": urls.issuer,
        "authorization_endpoint": urls.authorize,
        "token_endpoint": urls.token,
        "jwks_uri": urls.jwks,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ID_TOKEN_ALGORITHM],
        "scopes_supported": ["openid", "fhirUser", "profile"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser", "profile", "name"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ],
        "code_challenge_methods_supported": ["S256"],
    }


OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def capability_security(settings: Settings) -> dict[str, Any]:
    """``CapabilityStatement.rest.security`` of a SMART server: the SMART-on-FHIR service and the ``oauth-uris``
    extension (https://hl7.org/fhir/smart-app-launch/STU1/conformance/, which fhirclient reads), each a valueUri."""
    urls = Endpoints(settings.base_url)
    uris = {
        "authorize": urls.authorize,
        "token": urls.token,
        "register": urls.url("register") if settings.dynamic_registration else None,
        "manage": urls.url("manage"),
        "introspect": urls.url("introspect"),
        "revoke": urls.url("revoke"),
    }
    return {
        "extension": [
            {"url": OAUTH_URIS, "extension": [{"url": name, "valueUri": uri} for name, uri in uris.items() if uri]}
        ],
        "cors": True,
        "service": [
            {
                "coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}],
                "text": "OAuth2 using SMART-on-FHIR profile (see https://hl7.org/fhir/smart-app-launch/)",
            }
        ],
        "description": f"SMART App Launch 2 and Backend Services; discovery at {settings.base_url}"
        "/.well-known/smart-configuration",
    }


@router.get("/.well-known/smart-configuration", summary="SMART configuration")
async def smart_configuration_document(request: Request) -> Response:
    return JsonResponse(smart_configuration(app_context(request).settings), headers=CORS)


@router.get("/.well-known/openid-configuration", summary="OpenID Connect discovery")
async def openid_configuration_document(request: Request) -> Response:
    return JsonResponse(openid_configuration(app_context(request).settings), headers=CORS)


@router.get("/.well-known/jwks.json", summary="The server's public signing keys (JWKS)")
async def jwks(request: Request) -> Response:
    database = app_context(request).database

    def keys() -> dict[str, Any]:
        with database.write() as session:  # the key is created on first use
            return public_jwks(session)

    return JsonResponse(await run_in_threadpool(keys), headers=CORS)


@router.get("/auth/smart-style.json", summary="SMART style (smart_style_url)")
async def smart_style(request: Request) -> Response:
    return JsonResponse(STYLE, headers=CORS)
