"""SMART Backend Services (https://hl7.org/fhir/smart-app-launch/backend-services.html) and asymmetric client
authentication (https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html, RFC 7523).

The client signs an assertion with RS384 or ES384 (Authlib and joserfc refuse both by default). The key comes from
the ``jku`` header only when it is the client's registered JWKS URL, else from the registered JWKS or JWKS URL
(fetched and cached by :mod:`fhir_server.auth.client_keys` before the endpoint's transaction opens); exactly one key
must match ``kid`` and a ``kty`` fitting the algorithm. Claims: ``iss`` = ``sub`` = client_id, ``aud`` = this token
endpoint exactly, ``exp`` at most five minutes ahead (plus skew), a ``jti`` never seen before for the client (kept
until the assertion expires).
The ``client_credentials`` grant then issues ``system/`` scopes of the client's registration only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidScopeError, grants
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwk, jwt
from joserfc.errors import JoseError
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from fhir_server.access.scopes import narrow
from fhir_server.auth.client_keys import ASSERTION_TYPE, Fetched
from fhir_server.auth.clients import Client
from fhir_server.db import UsedAssertion
from fhir_server.db.types import utcnow
from fhir_server.errors import error_description

if TYPE_CHECKING:
    from fhir_server.auth.oauth_server import SmartServer

ALGORITHMS = {"RS384": "RSA", "ES384": "EC"}
MAX_LIFETIME = timedelta(minutes=5)
SKEW = timedelta(seconds=60)


def _refuse(description: str) -> InvalidClientError:
    return InvalidClientError(description=error_description(description))


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    """``private_key_jwt`` client authentication, as SMART asks for it."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, server: SmartServer) -> None:
        super().__init__(validate_jti=True, leeway=int(SKEW.total_seconds()))
        self.server = server

    def get_audiences(self) -> list[str]:
        return [self.server.endpoints.token]

    def __call__(self, query_client: Any, request: Any) -> Client | None:
        if request.form.get("client_assertion_type") != ASSERTION_TYPE or not request.form.get("client_assertion"):
            return None
        assertion = request.form["client_assertion"]
        header, claims = self.extract_assertion(assertion)
        client_id = claims.get("sub")
        client = query_client(client_id) if isinstance(client_id, str) else None
        if client is None:
            raise _refuse("the assertion's sub is not a registered client")
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise _refuse(f"assertions must be signed with RS384 or ES384, not {algorithm}")
        key = _pick_key(_key_set(client, header.get("jku"), request), header.get("kid"), ALGORITHMS[algorithm])
        try:
            token = jwt.decode(assertion, key, algorithms=[algorithm])
        except JoseError as exc:
            raise _refuse(f"the assertion's signature does not verify: {exc.description or exc.error}") from exc
        request.client = client
        self.verify_claims(token.claims)
        return self.authenticate_client(client)  # type: ignore[no-any-return]

    def verify_claims(self, claims: Any) -> None:
        super().verify_claims(claims)
        exp = datetime.fromtimestamp(int(claims["exp"]), UTC)
        if exp > utcnow() + MAX_LIFETIME + SKEW:
            raise _refuse("the assertion's exp is more than five minutes ahead")

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            return False
        session = self.server.session
        now = utcnow()
        session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now - SKEW))
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        try:
            with session.begin_nested():
                session.add(UsedAssertion(client_id=str(claims["sub"]), jti=jti, expires_at=expires))
        except IntegrityError:
            return False
        return True


def _key_set(client: Client, jku: Any, request: Any) -> list[jwk.Key]:
    """The client's public keys: the ``jku`` only when it is the registered JWKS URL, whose JWKS was fetched before
    the transaction (:func:`fhir_server.auth.client_keys.prefetch`, in ``request.smart["jwks"]``)."""
    registered_url = client.row.jwks_url
    if jku is not None and jku != registered_url:
        raise _refuse("the assertion's jku is not the client's registered JWKS URL")
    document = _fetched(request, registered_url) if registered_url else client.row.jwks
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _refuse("the client has no usable JWKS")
    keys: list[jwk.Key] = []
    for entry in document["keys"]:
        try:
            keys.append(jwk.import_key(entry))
        except (JoseError, ValueError, TypeError, KeyError):
            continue
    return keys


def _fetched(request: Any, url: str) -> dict[str, Any] | None:
    fetched: Fetched | None = getattr(request, "smart", {}).get("jwks", {}).get(url)
    if fetched is None:
        raise _refuse("the client's JWKS URL was not read")
    if fetched.error is not None:
        raise _refuse(fetched.error)
    return fetched.document


def _pick_key(keys: list[jwk.Key], kid: Any, key_type: str) -> jwk.Key:
    """Exactly one key of ``key_type`` matching ``kid`` (or the only key of that type when there is no kid)."""
    fitting = [k for k in keys if k.key_type == key_type and (kid is None or k.kid == kid)]
    if len(fitting) != 1:
        raise _refuse(f"expected exactly one {key_type} key with kid {kid} in the client's JWKS, found {len(fitting)}")
    return fitting[0]


def system_scope(client: Client, requested: str | None) -> str:
    """The requested ``system/`` scopes the client is registered with (the others dropped); InvalidScopeError when
    none is left."""
    wanted = [s for s in (requested or "").split() if s.startswith("system/")]
    granted = narrow(" ".join(wanted), client.row.scope)
    if not granted:
        raise InvalidScopeError("no requested system/ scope is registered for this client")
    return " ".join(granted)


class SystemClientCredentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """client_credentials for backend services: ``private_key_jwt`` only, ``system/`` scopes of the registration."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        self.request.scope = system_scope(self.request.client, self.request.payload.scope)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER
