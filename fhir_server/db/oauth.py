"""SMART-on-FHIR authorization state, kept in the database so every worker and restart shares it.

Registered clients, authorization requests in progress (stored server-side so a cross-site form POST survives the
login redirect), single-use authorization codes, grants (one per consent or backend token request, holding the
refresh token), opaque access tokens, EHR launch handles, browser login sessions, client-assertion ``jti`` values
already seen, and the server's own signing keys. Secrets (codes, tokens, handles, client secrets) are stored only as
SHA-256 hashes: a database dump does not yield a usable credential.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.db.base import Base, one_of, uuid_pk
from fhir_server.db.types import utcnow

CLIENT_TYPES = ("public", "confidential-symmetric", "confidential-asymmetric")

_HASH = 64  # hex SHA-256


class OAuthClient(Base):
    """A registered SMART app or backend service, bound to one clinic."""

    __tablename__ = "oauth_clients"
    __table_args__ = (one_of("client_type", CLIENT_TYPES),)

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    client_type: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str | None] = mapped_column(String(_HASH), default=None)
    redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    launch_uri: Mapped[str | None] = mapped_column(String(2000), default=None)
    scope: Mapped[str] = mapped_column(Text)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    jwks_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class BrowserSession(Base):
    """A user logged in at the authorization server's pages (cookie holds the secret, the row its hash)."""

    __tablename__ = "oauth_browser_sessions"

    session_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class PasswordResetToken(Base):
    """A one-time password-reset link of a user: its SHA-256, its lifetime, and when it was used (or voided)."""

    __tablename__ = "password_reset_tokens"

    token_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class AuthorizationRequest(Base):
    """An authorization request between its arrival and the code: the validated parameters and the choices made
    on the pages (user, patient, granted scope), bound to the browser session that logged in."""

    __tablename__ = "oauth_authorization_requests"

    handle_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    parameters: Mapped[dict[str, Any]] = mapped_column()
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), default=None)
    session_hash: Mapped[str | None] = mapped_column(String(_HASH), default=None)
    patient_id: Mapped[str | None] = mapped_column(String(64), default=None)
    encounter_id: Mapped[str | None] = mapped_column(String(64), default=None)
    launch_hash: Mapped[str | None] = mapped_column(String(_HASH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class AuthorizationCode(Base):
    """A single-use code, bound to client, redirect URI, PKCE challenge, granted scope and launch context."""

    __tablename__ = "oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    nonce: Mapped[str | None] = mapped_column(String(500), default=None)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    auth_time: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    def get_redirect_uri(self) -> str | None:
        """The redirect URI the authorization request named (the token request must repeat it)."""
        return self.redirect_uri or None

    def get_scope(self) -> str:
        return self.scope


class Grant(Base):
    """What a user (or a backend client) granted a client: scope, launch context and the refresh token.

    Revoking the grant ends every access token and the refresh token issued under it.
    """

    __tablename__ = "oauth_grants"

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[str] = mapped_column(
        String(100), ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), default=None
    )
    grant_type: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(_HASH), unique=True, default=None)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    def get_scope(self) -> str:
        return self.scope


class AccessToken(Base):
    """An opaque bearer token (only its hash is kept) issued under a grant, with the scope it carries."""

    __tablename__ = "oauth_access_tokens"

    token_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("oauth_grants.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class LaunchContext(Base):
    """An EHR launch: the opaque, short-lived ``launch`` handle and the context it stands for."""

    __tablename__ = "oauth_launches"

    launch_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    client_id: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("oauth_clients.client_id", ondelete="CASCADE"), default=None
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), default=None)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), default=None
    )
    patient_id: Mapped[str | None] = mapped_column(String(64), default=None)
    encounter_id: Mapped[str | None] = mapped_column(String(64), default=None)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class UsedAssertion(Base):
    """A client assertion's ``jti`` already accepted, kept until the assertion expires (replays are refused)."""

    __tablename__ = "oauth_used_jtis"
    __table_args__ = (Index("ix_oauth_used_jtis_expires_at", "expires_at"),)

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime]


class SigningKey(Base):
    """The server's own private keys (JWK JSON) signing id_tokens; the newest active one of a purpose signs."""

    __tablename__ = "oauth_signing_keys"

    kid: Mapped[str] = mapped_column(String(100), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), unique=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_jwk: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginThrottle(Base):
    """Failed logins for one account name (the SHA-256 of the normalized email, known account or not) from one
    source address: the login backoff of :mod:`fhir_server.auth.login`. Updated by one atomic upsert per failure."""

    __tablename__ = "login_throttles"
    __table_args__ = (Index("ix_login_throttles_last_failure_at", "last_failure_at"),)

    account_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime]


class RegistrationToken(Base):
    """An initial access token for dynamic client registration (RFC 7591 section 3), issued by an operator with
    ``fhir-server clients registration-token``: registers one client of its clinic, within ``scope``, before
    ``expires_at``. Only its hash is kept."""

    __tablename__ = "oauth_registration_tokens"

    token_hash: Mapped[str] = mapped_column(String(_HASH), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    client_id: Mapped[str | None] = mapped_column(String(100), default=None)
