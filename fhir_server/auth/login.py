"""Logging a user in at the authorization pages: Argon2 passwords, lockout, browser sessions.

After ``MAX_FAILURES`` wrong passwords in a row an account locks for ``LOCKOUT`` (even the right password is then
refused until the lock ends). Every success, failure and lockout is audited in the same transaction as the counter
change. A login opens a browser session: a random secret in an HttpOnly cookie, its hash in the database.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.auth import audit_events
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.clients import digest
from fhir_server.auth.passwords import hash_password, verify_password
from fhir_server.auth.users import UserError, normalize_email
from fhir_server.db import BrowserSession, User
from fhir_server.db.types import utcnow

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=30)
SESSION_COOKIE = "fhir_server_session"


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class LoginResult:
    """The user when the login succeeded, else None and the message to show."""

    user: User | None
    message: str = ""


def log_in(session: Session, email: str, password: str, origin: Origin) -> LoginResult:
    """Check ``email``/``password``; count failures, lock after ``MAX_FAILURES``; audit every outcome."""
    user = _find(session, email)
    if user is None:
        verify_password(_dummy_hash(), password)  # same work as for a real account
        audit_events.record(
            session, audit_events.LOGIN_FAILED, origin, outcome="minor-failure", detail={"reason": "unknown user"}
        )
        return LoginResult(None, "Wrong email or password.")
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        _audit(session, user, origin, audit_events.LOGIN_FAILED, "account locked")
        return LoginResult(None, "This account is locked after too many failed logins. Try again later.")
    if user.locked_until is not None:  # the lock has ended: start counting afresh
        user.locked_until, user.failed_logins = None, 0
    if not verify_password(user.password_hash, password):
        return _failed(session, user, origin)
    user.failed_logins, user.last_login_at = 0, now
    _audit(session, user, origin, audit_events.LOGIN, None)
    return LoginResult(user)


def _find(session: Session, email: str) -> User | None:
    try:
        normalized = normalize_email(email)
    except UserError:
        return None
    user = session.scalars(select(User).where(User.email == normalized)).first()
    if user is None or not user.active or user.deleted_at is not None:
        return None
    return user


def _failed(session: Session, user: User, origin: Origin) -> LoginResult:
    user.failed_logins = (user.failed_logins or 0) + 1
    _audit(session, user, origin, audit_events.LOGIN_FAILED, "wrong password")
    if user.failed_logins >= MAX_FAILURES:
        user.locked_until = utcnow() + LOCKOUT
        _audit(session, user, origin, audit_events.ACCOUNT_LOCKED, f"{user.failed_logins} failed logins")
        return LoginResult(None, "This account is locked after too many failed logins. Try again later.")
    return LoginResult(None, "Wrong email or password.")


def _audit(session: Session, user: User, origin: Origin, action: str, reason: str | None) -> None:
    audit_events.record(
        session,
        action,
        origin,
        user_id=user.id,
        organization_id=user.organization_id,
        outcome="success" if action in (audit_events.LOGIN, audit_events.LOGOUT) else "minor-failure",
        outcome_detail=reason,
    )


def open_session(session: Session, user: User, lifetime_seconds: int) -> str:
    """Open a browser session for ``user``; returns the cookie value (only its hash is stored)."""
    secret = secrets.token_urlsafe(32)
    session.add(
        BrowserSession(
            session_hash=digest(secret),
            user_id=user.id,
            expires_at=utcnow() + timedelta(seconds=lifetime_seconds),
        )
    )
    return secret


def session_user(session: Session, cookie: str | None) -> User | None:
    """The user of a live browser session cookie, else None."""
    if not cookie or len(cookie) > 200:
        return None
    row = session.get(BrowserSession, digest(cookie))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or user.deleted_at is not None:
        return None
    return user


def close_session(session: Session, cookie: str | None, origin: Origin) -> None:
    """End the browser session of ``cookie`` (log out) and audit it; an unknown or ended session is left alone."""
    if not cookie or len(cookie) > 200:
        return
    row = session.get(BrowserSession, digest(cookie))
    if row is None or row.revoked_at is not None:
        return
    row.revoked_at = utcnow()
    user = session.get(User, row.user_id)
    if user is not None:
        _audit(session, user, origin, audit_events.LOGOUT, None)
