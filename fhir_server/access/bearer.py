"""The resource server's check of a Bearer access token (RFC 6750), in one indexed query per request.

The token is opaque; its SHA-256 is the primary key of ``oauth_access_tokens``. One statement joins the token to
its grant, its client, the grant's user and that user's own patient record, so the check costs one round trip
(on PostgreSQL, on the event loop's async pool, prepared). A token is live, as
:func:`fhir_server.auth.grants.live_access_token` defines it, when it is unexpired and neither it, its grant nor its
client is revoked, and the grant's user (if any) is active and not deleted. Revocation takes effect on the next
request in every worker: nothing is cached.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select

from fhir_server.access.patient_context import PORTAL_ROLE
from fhir_server.auth.clients import digest
from fhir_server.db import AccessToken, Grant, OAuthClient, Patient, User
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow

_MAX_TOKEN = 200


@dataclass(frozen=True)
class BearerGrant:
    """What a live access token grants: its scope, its client, the user (None for a backend service) and the
    patient in context (a portal user's own record, whatever the grant says; else the grant's launch context)."""

    scope: str
    client_id: str
    user_id: uuid.UUID | None
    role: str | None
    organization_id: uuid.UUID | None
    patient_id: str | None


def lookup(token_hash: Any = None) -> Select[Any]:
    """The token's row (:data:`WIDTH` columns, read by :func:`grant_of`) for the hash ``token_hash`` (a value or
    a bind parameter; by default the bind parameter :data:`HASH_PARAM`)."""
    columns: list[Any] = [
        AccessToken.scope,
        AccessToken.expires_at,
        AccessToken.revoked_at,
        Grant.revoked_at,
        Grant.context,
        Grant.user_id,
        OAuthClient.client_id,
        OAuthClient.revoked_at,
        OAuthClient.organization_id,
        User.id,
        User.active,
        User.deleted_at,
        User.role,
        User.organization_id,
        Patient.fhir_id,
    ]
    wanted = bindparam(HASH_PARAM, required=False) if token_hash is None else token_hash
    return (
        select(*columns)
        .join(Grant, Grant.id == AccessToken.grant_id)
        .join(OAuthClient, OAuthClient.client_id == Grant.client_id)
        .outerjoin(User, User.id == Grant.user_id)
        .outerjoin(Patient, Patient.id == User.patient_id)
        .where(AccessToken.token_hash == wanted)
    )


HASH_PARAM = "bearer_token_hash"
WIDTH = 15
"""The number of columns of :func:`lookup`."""
_LOOKUP = lookup()


def token_hash(token: str) -> str | None:
    """The stored hash of ``token``; None when it cannot be a token of ours (empty or overlong)."""
    return digest(token) if token and len(token) <= _MAX_TOKEN else None


async def live_grant(database: Database, token: str) -> BearerGrant | None:
    """What ``token`` grants when it is a live access token; None when it is unknown, expired or revoked."""
    hashed = token_hash(token)
    if hashed is None:
        return None
    row = await database.fetch_one(_LOOKUP, {HASH_PARAM: hashed})
    return None if row is None else grant_of(row[:WIDTH])


def grant_of(row: tuple[Any, ...]) -> BearerGrant | None:
    """What the token of a :func:`lookup` row grants, when it is live (else None)."""
    scope, expires_at, revoked_at, grant_revoked_at, context, grant_user = row[:6]
    client_id, client_revoked_at, client_organization = row[6:9]
    user_id, active, deleted_at, role, user_organization, own_patient = row[9:WIDTH]
    if scope is None or revoked_at or grant_revoked_at or client_revoked_at or _expired(expires_at):
        return None
    if grant_user is not None and (user_id is None or not active or deleted_at is not None):
        return None
    patient = own_patient if role == PORTAL_ROLE else (context or {}).get("patient")
    return BearerGrant(
        scope=scope,
        client_id=client_id,
        user_id=user_id,
        role=role,
        organization_id=user_organization if user_id is not None else client_organization,
        patient_id=patient,
    )


def _expired(expires_at: datetime) -> bool:
    return expires_at <= utcnow()
