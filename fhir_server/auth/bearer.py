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

from fhir_server.auth.clients import digest
from fhir_server.db import AccessToken, Grant, OAuthClient, Patient, User
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow

_HASH = "bearer_token_hash"
_MAX_TOKEN = 200


@dataclass(frozen=True)
class BearerGrant:
    """What a live access token grants: its scope, its client, the user (None for a backend service) and the
    patient in context (the grant's launch context, else a portal user's own record)."""

    scope: str
    client_id: str
    user_id: uuid.UUID | None
    role: str | None
    organization_id: uuid.UUID | None
    patient_id: str | None


def _lookup() -> Select[Any]:
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
    return (
        select(*columns)
        .join(Grant, Grant.id == AccessToken.grant_id)
        .join(OAuthClient, OAuthClient.client_id == Grant.client_id)
        .outerjoin(User, User.id == Grant.user_id)
        .outerjoin(Patient, Patient.id == User.patient_id)
        .where(AccessToken.token_hash == bindparam(_HASH, required=False))
    )


_LOOKUP = _lookup()


async def live_grant(database: Database, token: str) -> BearerGrant | None:
    """What ``token`` grants when it is a live access token; None when it is unknown, expired or revoked."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    row = await database.fetch_one(_LOOKUP, {_HASH: digest(token)})
    if row is None:
        return None
    scope, expires_at, revoked_at, grant_revoked_at, context, grant_user = row[:6]
    client_id, client_revoked_at, client_organization = row[6:9]
    user_id, active, deleted_at, role, user_organization, own_patient = row[9:]
    if revoked_at or grant_revoked_at or client_revoked_at or _expired(expires_at):
        return None
    if grant_user is not None and (user_id is None or not active or deleted_at is not None):
        return None
    patient = (context or {}).get("patient")
    if patient is None and role == "patient":
        patient = own_patient
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
