"""A SMART Backend Services client for the tests (https://hl7.org/fhir/smart-app-launch/backend-services.html):
its key pairs (RS384 and ES384, generated once per test run), its registration at a clinic, and the
``client_credentials`` request with a ``private_key_jwt`` assertion signed by one of its keys.

Used by the tests of the token endpoint (tests/auth) and by the FHIR tests that run with authorization on, which get
their access token the way a real backend service does.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey
from sqlalchemy.orm import Session

from fhir_server.auth.clients import register_client
from fhir_server.db import Organization

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RS384 = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": "RS384"}, private=True)
ES384 = ECKey.generate_key("P-384", parameters={"kid": "ec-1", "alg": "ES384"}, private=True)
PUBLIC_JWKS = {"keys": [RS384.as_dict(private=False), ES384.as_dict(private=False)]}


def register_backend(session: Session, organization: Organization, scope: str, **keys: Any) -> str:
    """Register a backend service (``confidential-asymmetric``) of ``organization`` allowed ``scope``, with the
    public keys ``PUBLIC_JWKS`` unless ``keys`` names others (``jwks=`` or ``jwks_url=``); returns its client_id."""
    keys = keys or {"jwks": PUBLIC_JWKS}
    registered = register_client(
        session, name="Backend", client_type="confidential-asymmetric", organization=organization, scope=scope, **keys
    )
    return registered.client.client_id


def assertion(client_id: str, key: Key, alg: str, audience: str, **claims: Any) -> str:
    """A client assertion of ``client_id`` for the token endpoint ``audience``, signed with ``key``; ``claims``
    override (None: drop) the standard ones, ``_header`` adds header fields."""
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "exp": int(time.time()) + 300,
        "jti": str(uuid.uuid4()),
    }
    body.update(claims)
    header = {"alg": alg, "kid": key.kid, "typ": "JWT", **claims.pop("_header", {})}
    return jwt.encode(header, {k: v for k, v in body.items() if v is not None}, key, algorithms=[alg])


def request_token(client: TestClient | httpx.Client, token_url: str, signed: str, scope: str, **extra: str) -> Any:
    """POST a ``client_credentials`` request with the assertion ``signed`` to ``token_url``; the response."""
    data = {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION,
        "client_assertion": signed,
        **extra,
    }
    return client.post(token_url, data=data)
