"""SMART's own checks of an authorization request, as an Authlib grant extension
(https://hl7.org/fhir/smart-app-launch/app-launch.html#request-authorization-code).

``aud`` (or its synonym ``resource``) must be this server's FHIR base URL, compared after dropping a trailing slash;
a ``launch`` handle must be live and made for the requesting client. Failures become ``error=invalid_request``
redirects carrying ``state``, so no code is ever issued for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError

from fhir_server.auth.launch import resolve_launch

if TYPE_CHECKING:
    from fhir_server.auth.oauth_server import SmartServer


class SmartChecks:
    """Authlib grant extension: ``aud``, a ``scope`` and the ``launch`` handle of an authorization request."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.check)

    def check(self, grant: Any, redirect_uri: str) -> None:
        server: SmartServer = grant.server
        data = grant.request.payload.data
        aud = data.get("aud") or data.get("resource")
        if not aud or aud.rstrip("/") != server.settings.base_url.rstrip("/"):
            raise InvalidRequestError(f"aud must be this FHIR server's base URL {server.settings.base_url}")
        launch = data.get("launch")
        if launch is not None:
            row = resolve_launch(server.session, launch, grant.request.payload.client_id)
            if row is None:
                raise InvalidRequestError("the launch parameter is unknown, expired or made for another app")
            grant.request.smart["launch"] = row
