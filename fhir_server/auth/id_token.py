"""The OpenID Connect id_token of a SMART launch (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
#scopes-for-requesting-identity-data, https://openid.net/specs/openid-connect-core-1_0.html#IDToken).

RS256, signed with the server's key (``kid`` in the header); claims ``iss`` (the OIDC issuer, byte-identical to the
discovery document's), ``sub`` (the user's id), ``aud`` (the client), ``exp``, ``iat``, ``auth_time``, ``nonce`` when
the app sent one, and ``fhirUser`` (with the legacy ``profile``) naming the user's Practitioner or Patient resource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from fhir_server.auth.keys import sign_jwt
from fhir_server.db import AuthorizationCode, Grant, Patient, Practitioner, User
from fhir_server.db.types import utcnow

if TYPE_CHECKING:
    from fhir_server.auth.oauth_server import SmartServer

LIFETIME_SECONDS = 3600


def wanted(scope: str) -> bool:
    """An id_token is issued when ``openid`` is granted together with ``fhirUser`` or ``profile``."""
    granted = set(scope.split())
    return "openid" in granted and bool(granted & {"fhirUser", "profile"})


def fhir_user(session: Session, user: User, base_url: str) -> str | None:
    """The absolute URL of the FHIR resource the user is (their Practitioner, or Patient for a portal user)."""
    if user.practitioner_id is not None:
        practitioner = session.get(Practitioner, user.practitioner_id)
        if practitioner is not None:
            return f"{base_url}/Practitioner/{practitioner.fhir_id}"
    if user.patient_id is not None:
        patient = session.get(Patient, user.patient_id)
        if patient is not None:
            return f"{base_url}/Patient/{patient.fhir_id}"
    return None


def issue(server: SmartServer, grant: Grant, user: User, code: AuthorizationCode) -> str:
    """The signed id_token for ``user`` of ``grant``."""
    now = int(utcnow().timestamp())
    claims: dict[str, Any] = {
        "iss": server.endpoints.issuer,
        "sub": str(user.id),
        "aud": grant.client_id,
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
        "auth_time": int(code.auth_time.timestamp()),
    }
    if code.nonce:
        claims["nonce"] = code.nonce
    resource = fhir_user(server.session, user, server.settings.base_url)
    if resource is not None:
        claims["fhirUser"] = resource
        claims["profile"] = resource
    claims["name"] = user.full_name
    return sign_jwt(server.session, claims)
