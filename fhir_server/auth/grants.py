"""The token store: authorization codes, grants with their refresh tokens, and opaque access tokens.

Access tokens are opaque random strings; only their SHA-256 is stored, with the grant they belong to. A resource
request costs one primary-key lookup, and revoking a grant (or a client) takes effect on the very next request in
every worker, which self-contained JWT access tokens could not do without the same lookup
(https://www.rfc-editor.org/rfc/rfc6749#section-10.3, https://www.rfc-editor.org/rfc/rfc7009).
Codes are single use: redeeming one is a conditional UPDATE, so two concurrent redemptions cannot both succeed.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fhir_server.access.digests import digest
from fhir_server.db import AccessToken, AuthorizationCode, Grant, OAuthClient, User
from fhir_server.db.types import utcnow


def new_secret() -> str:
    """A fresh high-entropy URL-safe secret (code, token or handle)."""
    return secrets.token_urlsafe(32)


def spend_once(session: Session, row_type: Any, hash_column: Any, secret: str, *conditions: Any) -> object | None:
    """Mark the single-use row whose ``hash_column`` is ``secret``'s digest used, and return it, when it is unused
    and unexpired (and meets ``conditions``); else None. One conditional UPDATE: two concurrent attempts cannot both
    succeed. ``row_type`` has ``used_at`` and ``expires_at`` columns (codes, registration tokens)."""
    now = utcnow()
    spent = session.execute(
        update(row_type)
        .where(hash_column == digest(secret), row_type.used_at.is_(None), row_type.expires_at > now, *conditions)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) != 1:
        return None
    found: object | None = session.get(row_type, digest(secret))
    return found


def redeem_code(session: Session, code: str, client_id: str) -> AuthorizationCode | None:
    """Mark ``code`` used and return it when it is unused, unexpired and issued to ``client_id``; else None.

    A code is spent by the first attempt that names it for its client, even one that then fails (bad PKCE).
    """
    found = spend_once(
        session, AuthorizationCode, AuthorizationCode.code_hash, code, AuthorizationCode.client_id == client_id
    )
    return found if isinstance(found, AuthorizationCode) else None


ISSUED_GRANT = "issued_grant"
"""The key of a redeemed code's ``context`` naming the grant issued from it."""


def revoke_replayed(session: Session, code: str, client_id: str) -> None:
    """When ``code`` was already redeemed by ``client_id``, revoke the grant issued from it (its refresh token and
    access tokens): a replayed code may be a stolen one (RFC 6749 sections 4.1.2 and 10.5)."""
    row = session.get(AuthorizationCode, digest(code)) if code and len(code) <= 200 else None
    if row is None or row.used_at is None or row.client_id != client_id:
        return
    try:
        grant = session.get(Grant, uuid.UUID(str(row.context.get(ISSUED_GRANT))))
    except ValueError:
        return
    if grant is not None:
        revoke_grant(session, grant)


def create_grant(session: Session, **values: Any) -> Grant:
    """A new grant (``client_id``, ``user_id``, ``organization_id``, ``grant_type``, ``scope``, ``context``)."""
    values.setdefault("context", {})
    grant = Grant(id=uuid.uuid4(), **values)
    session.add(grant)
    session.flush()  # before its access tokens reference it
    return grant


def attach_refresh_token(grant: Grant, lifetime_seconds: int) -> str:
    """Give ``grant`` a (new) refresh token valid for ``lifetime_seconds``; returns it."""
    token = new_secret()
    grant.refresh_token_hash = digest(token)
    grant.refresh_expires_at = utcnow() + timedelta(seconds=lifetime_seconds)
    return token


def issue_access_token(session: Session, grant: Grant, scope: str, lifetime_seconds: int) -> tuple[str, datetime]:
    """A new access token under ``grant`` carrying ``scope``; returns it and its expiry."""
    token = new_secret()
    expires_at = utcnow() + timedelta(seconds=lifetime_seconds)
    session.add(AccessToken(token_hash=digest(token), grant_id=grant.id, scope=scope, expires_at=expires_at))
    return token, expires_at


def grant_of_refresh_token(session: Session, refresh_token: str | None) -> Grant | None:
    """The live grant whose refresh token is ``refresh_token``."""
    if not refresh_token or len(refresh_token) > 200:
        return None
    grant = session.scalars(select(Grant).where(Grant.refresh_token_hash == digest(refresh_token))).first()
    if grant is None or grant.revoked_at is not None:
        return None
    if grant.refresh_expires_at is None or grant.refresh_expires_at <= utcnow():
        return None
    return grant


@dataclass(frozen=True)
class LiveToken:
    """An access token in force, with its grant, client and user (None for backend services)."""

    token: AccessToken
    grant: Grant
    client: OAuthClient
    user: User | None


def live_access_token(session: Session, access_token: str | None) -> LiveToken | None:
    """The access token ``access_token`` when it is unexpired and neither it, its grant nor its client is revoked."""
    if not access_token or len(access_token) > 200:
        return None
    row = session.execute(
        select(AccessToken, Grant, OAuthClient)
        .join(Grant, Grant.id == AccessToken.grant_id)
        .join(OAuthClient, OAuthClient.client_id == Grant.client_id)
        .where(AccessToken.token_hash == digest(access_token))
    ).first()
    if row is None:
        return None
    token, grant, client = row[0], row[1], row[2]
    now = utcnow()
    if token.revoked_at or grant.revoked_at or client.revoked_at or token.expires_at <= now:
        return None
    user = session.get(User, grant.user_id) if grant.user_id else None
    if grant.user_id and (user is None or not user.active or user.deleted_at is not None):
        return None
    return LiveToken(token, grant, client, user)


def revoke_grant(session: Session, grant: Grant) -> None:
    """End ``grant``: its refresh token and every access token issued under it stop working."""
    now = utcnow()
    if grant.revoked_at is None:
        grant.revoked_at = now
    session.execute(
        update(AccessToken)
        .where(AccessToken.grant_id == grant.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
