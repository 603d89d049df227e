"""The server's signing key (RS256, for OpenID Connect id_tokens) and the JWKS that publishes it.

The private key lives in the database (``oauth_signing_keys``) so every worker, replica and restart signs with the
same key. It is generated on first use inside the caller's transaction; when two workers race on the first use,
the unique ``purpose`` lets one insert win and the other reads the winner's key
(https://openid.net/specs/openid-connect-core-1_0.html#Signing, https://www.rfc-editor.org/rfc/rfc7517).
"""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fhir_server.db import SigningKey

ID_TOKEN_PURPOSE = "id_token"  # noqa: S105 - a key purpose, not a secret
ID_TOKEN_ALGORITHM = "RS256"  # noqa: S105


def _stored(session: Session, purpose: str) -> SigningKey | None:
    return session.scalars(select(SigningKey).where(SigningKey.purpose == purpose)).first()


def signing_key(session: Session, purpose: str = ID_TOKEN_PURPOSE) -> RSAKey:
    """The private RSA key of ``purpose``, created (2048 bits) when there is none yet."""
    row = _stored(session, purpose)
    if row is None:
        row = _create(session, purpose)
    return RSAKey.import_key(row.private_jwk)


def _create(session: Session, purpose: str) -> SigningKey:
    key = RSAKey.generate_key(2048, private=True)
    kid = key.thumbprint()
    jwk = {**key.as_dict(private=True), "kid": kid, "use": "sig", "alg": ID_TOKEN_ALGORITHM}
    row = SigningKey(kid=kid, purpose=purpose, algorithm=ID_TOKEN_ALGORITHM, private_jwk=jwk)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        winner = _stored(session, purpose)  # a concurrent first use inserted its key: use that one
        if winner is None:
            raise
        return winner
    return row


def public_jwks(session: Session) -> dict[str, Any]:
    """The JSON Web Key Set of every signing key, public parts only (served at ``jwks_uri``)."""
    signing_key(session)
    rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
    return {"keys": [_public(row.private_jwk) for row in rows]}


def _public(private_jwk: dict[str, Any]) -> dict[str, Any]:
    key = RSAKey.import_key(private_jwk)
    extra: dict[str, Any] = {name: private_jwk[name] for name in ("kid", "use", "alg") if name in private_jwk}
    return {**key.as_dict(private=False), **extra}


def sign_jwt(session: Session, claims: dict[str, Any]) -> str:
    """``claims`` as a compact JWS signed RS256 with the current key; the header names the key (``kid``)."""
    key = signing_key(session)
    header = {"alg": ID_TOKEN_ALGORITHM, "typ": "JWT", "kid": key.kid}
    return jwt.encode(header, claims, KeySet([key]), algorithms=[ID_TOKEN_ALGORITHM])
