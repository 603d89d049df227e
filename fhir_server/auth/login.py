"""Logging a user in at the authorization pages: Argon2 passwords, login backoff, browser sessions.

Repeated failures for a name slow down further attempts from the same source only
(:mod:`fhir_server.auth.login_throttle`); no one can lock an account for everyone. Every success and failure is
audited in the same transaction as the count's change. A login opens a browser session: a random secret in an
HttpOnly cookie, its hash in the database.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.access.digests import digest
from fhir_server.auth import audit_events, login_throttle
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.passwords import hash_password, verify_password
from fhir_server.auth.users import UserError, normalize_email
from fhir_server.db import BrowserSession, User
from fhir_server.db.types import utcnow
from fhir_server.metrics.instruments import LOGIN_FAILURES

SESSION_COOKIE = "fhir_server_session"
FAILED = "Wrong email or password."
WAIT = "Too many failed sign-ins for this email from your network. Try again in {minutes} minute(s)."


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class LoginResult:
    """The user when the login succeeded, else None, the message to show and (when the attempt came too soon after
    repeated failures) the seconds to wait."""

    user: User | None
    message: str = ""
    retry_after: int | None = None


def log_in(session: Session, email: str, password: str, origin: Origin) -> LoginResult:
    """Check ``email``/``password`` under the backoff of :mod:`fhir_server.auth.login_throttle`; audit every outcome.

    Every path verifies one Argon2 hash (the account's, or a dummy one for an unknown or inactive account and for an
    attempt that must wait), and the answer depends only on the name and the source's failures with it, never on
    whether an account exists: unknown, inactive and wrong-password logins all read ``FAILED``.
    """
    user = active_user(session, email)
    attempt = login_throttle.hold(session, email, origin.source_address)
    if attempt.wait is not None:
        verify_password(_dummy_hash(), password)  # same work as a real check
        _refused(session, user, origin, f"waiting after {login_throttle.FREE_FAILURES}+ failures from this source")
        LOGIN_FAILURES.labels("throttled").inc()
        seconds = max(1, math.ceil(attempt.wait.total_seconds()))
        return LoginResult(None, WAIT.format(minutes=math.ceil(seconds / 60)), seconds)
    checked = verify_password(user.password_hash, password) if user is not None else _dummy_check(password)
    if user is None or not checked:
        login_throttle.failed(session, attempt)
        LOGIN_FAILURES.labels("rejected").inc()  # one reason for both: the metrics tell no account's existence
        _refused(session, user, origin, "wrong password" if user is not None else "unknown user")
        return LoginResult(None, FAILED)
    login_throttle.succeeded(session, attempt)
    user.last_login_at = utcnow()
    _audit(session, user, origin, audit_events.LOGIN, None)
    return LoginResult(user)


def _dummy_check(password: str) -> bool:
    """Verify against a dummy hash (always False): an unknown account costs what a known one does."""
    verify_password(_dummy_hash(), password)
    return False


def active_user(session: Session, email: str) -> User | None:
    """The active, undeleted account of ``email`` (any case), else None."""
    try:
        normalized = normalize_email(email)
    except UserError:
        return None
    user = session.scalars(select(User).where(User.email == normalized)).first()
    if user is None or not user.active or user.deleted_at is not None:
        return None
    return user


def _refused(session: Session, user: User | None, origin: Origin, reason: str) -> None:
    if user is None:
        audit_events.record(
            session, audit_events.LOGIN_FAILED, origin, outcome="minor-failure", detail={"reason": reason}
        )
    else:
        _audit(session, user, origin, audit_events.LOGIN_FAILED, reason)


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
