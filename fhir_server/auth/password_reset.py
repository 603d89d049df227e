"""Password reset by a one-time link (the "forgot password" page, or ``fhir-server users reset-password``).

A link carries a random secret; only its SHA-256 is stored (``password_reset_tokens``), with an expiry
(``FHIR_SERVER_PASSWORD_RESET_LIFETIME``). It works once: setting a password voids every link of the user. Asking for
a link answers the same whether an account exists or not, and is throttled like a login (per email and source, by
:mod:`fhir_server.auth.login_throttle` under its own key), and an account holds at most ``MAX_LIVE_LINKS`` live links,
so nobody can flood an inbox. A new password follows the rules of user creation; setting it ends the user's login
sessions and revokes the user's grants (refresh and access tokens): whoever knew the old password is out. Every
step is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fhir_server.access.digests import digest
from fhir_server.auth import audit_events, login_throttle
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.grants import new_secret, revoke_grant
from fhir_server.auth.login import active_user
from fhir_server.auth.users import new_password_hash
from fhir_server.db import BrowserSession, Grant, PasswordResetToken, User
from fhir_server.db.types import utcnow

MAX_LIVE_LINKS = 3
"""Most unused, unexpired links one account may hold; asking for more sends nothing."""


class ResetError(ValueError):
    """The link is unknown, used or expired, or the new password breaks the rules; the message says which."""


@dataclass(frozen=True)
class ResetLink:
    """A link issued for the account ``email`` of clinic ``organization_id`` (the secret is only in ``url``)."""

    email: str
    organization_id: uuid.UUID
    url: str


def issue_link(
    session: Session, user: User, base_url: str, lifetime_seconds: int, origin: Origin, by: str
) -> ResetLink:
    """A new one-time link for ``user``, audited as asked ``by`` the user (the page) or an operator (the CLI)."""
    secret = new_secret()
    session.add(
        PasswordResetToken(
            token_hash=digest(secret),
            user_id=user.id,
            expires_at=utcnow() + timedelta(seconds=lifetime_seconds),
        )
    )
    _audit(session, audit_events.PASSWORD_RESET_REQUESTED, user, origin, {"by": by})
    return ResetLink(user.email, user.organization_id, f"{base_url}/auth/reset-password?{urlencode({'token': secret})}")


def request_link(
    session: Session, email: str, base_url: str, lifetime_seconds: int, origin: Origin
) -> ResetLink | None:
    """The forgot-password page's request: a link for the active account of ``email``, or None (no such account,
    too many requests for it from this source, or ``MAX_LIVE_LINKS`` live links already). Never tells which."""
    attempt = login_throttle.hold(session, f"password-reset:{email}", origin.source_address)
    if attempt.wait is not None:
        return None
    login_throttle.failed(session, attempt)  # every request counts: the throttle bounds requests, not failures
    user = active_user(session, email)
    if user is None or _live_links(session, user) >= MAX_LIVE_LINKS:
        return None
    return issue_link(session, user, base_url, lifetime_seconds, origin, "user")


def _live_links(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(PasswordResetToken)
            .where(
                PasswordResetToken.user_id == user.id,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > utcnow(),
            )
        )
        or 0
    )


def user_of_link(session: Session, secret: str | None) -> User | None:
    """The active user of a live (unused, unexpired) link, else None."""
    if not secret or len(secret) > 200:
        return None
    row = session.get(PasswordResetToken, digest(secret))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active and user.deleted_at is None else None


def reset_with_link(session: Session, secret: str | None, password: str, origin: Origin) -> User:
    """Set the password of the link's user (ResetError for a dead link or a password breaking the rules)."""
    user = user_of_link(session, secret)
    if user is None:
        raise ResetError("This link is unknown, expired or was used already. Ask for a new one.")
    set_password(session, user, password, origin, "link")
    return user


def set_password(session: Session, user: User, password: str, origin: Origin, by: str) -> None:
    """Give ``user`` a new password (ResetError when it breaks the rules); void the user's links, end the user's
    login sessions and revoke the user's grants; audited as done ``by`` a link or an operator."""
    try:
        user.password_hash = new_password_hash(password)
    except ValueError as exc:
        raise ResetError(str(exc)) from None
    now = utcnow()
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    session.execute(
        update(BrowserSession)
        .where(BrowserSession.user_id == user.id, BrowserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    grants = session.scalars(select(Grant).where(Grant.user_id == user.id, Grant.revoked_at.is_(None))).all()
    for grant in grants:
        revoke_grant(session, grant)
    _audit(session, audit_events.PASSWORD_RESET, user, origin, {"by": by, "grants_revoked": str(len(grants))})


def _audit(session: Session, action: str, user: User, origin: Origin, detail: dict[str, str]) -> None:
    audit_events.record(session, action, origin, user_id=user.id, organization_id=user.organization_id, detail=detail)
