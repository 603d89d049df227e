"""Initial access tokens for dynamic client registration (RFC 7591 section 3; section 1.2 "initial access token").

An operator issues one with ``fhir-server clients registration-token``; it registers **one** client of its clinic,
within its ``scope`` (by default every scope an app acting for users may hold, no ``system/`` scope: a backend
service's reach over the whole clinic needs an operator's explicit ``--scope``), before it expires (at most
``MAX_LIFETIME``). Only its SHA-256 is stored. Spending it is a conditional UPDATE in the registration's transaction:
two concurrent registrations cannot both use it, and a registration refused for its metadata leaves it unspent.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.orm import Session

from fhir_server.access.digests import digest
from fhir_server.access.scopes import parse_scopes, split_scope
from fhir_server.auth import audit_events
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.grants import new_secret, spend_once
from fhir_server.db import Organization, RegistrationToken
from fhir_server.db.types import utcnow

MAX_LIFETIME = timedelta(days=30)
DEFAULT_SCOPE = (
    "launch launch/patient launch/encounter openid fhirUser profile offline_access online_access "
    "patient/*.cruds user/*.cruds"
)
ISSUED = "registration-token-issued"
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class RegistrationTokenError(ValueError):
    """No initial access token can be issued as asked; the message says why."""


def duration(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d`` (or ``3600s``) as a timedelta of at most MAX_LIFETIME."""
    match = _DURATION.match(text)
    if match is None:
        raise RegistrationTokenError(f"--expires must be a number with s, m, h or d (such as 24h), not {text!r}")
    lifetime = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise RegistrationTokenError(f"--expires must be more than 0 and at most {MAX_LIFETIME.days} days")
    return lifetime


def issue(session: Session, clinic: Organization, lifetime: timedelta, scope: str, origin: Origin) -> str:
    """A new initial access token registering one client of ``clinic`` within ``scope``; audited."""
    parsed = parse_scopes(scope)
    if parsed.unknown or not split_scope(scope):
        raise RegistrationTokenError(f"--scope must be SMART scopes, not {' '.join(parsed.unknown) or 'empty'}")
    token = new_secret()
    session.add(
        RegistrationToken(
            token_hash=digest(token),
            organization_id=clinic.id,
            scope=" ".join(split_scope(scope)),
            expires_at=utcnow() + lifetime,
        )
    )
    audit_events.record(session, ISSUED, origin, organization_id=clinic.id, detail={"scope": scope})
    return token


def usable(session: Session, token: str | None) -> bool:
    """True when ``token`` is known, unexpired and unused (a read: refusing a bad token takes no write lock)."""
    if not token or len(token) > 200:
        return False
    row = session.get(RegistrationToken, digest(token))
    return row is not None and row.used_at is None and row.expires_at > utcnow()


def spend(session: Session, token: str | None) -> RegistrationToken | None:
    """Mark ``token`` used and return it, when it is known, unexpired and unused; else None."""
    if not token or len(token) > 200:
        return None
    found = spend_once(session, RegistrationToken, RegistrationToken.token_hash, token)
    return found if isinstance(found, RegistrationToken) else None
