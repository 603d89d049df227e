"""Login backoff per (account name, source address), instead of an account lock that anyone could trigger.

The first ``FREE_FAILURES`` wrong logins for a name from one source cost nothing; after that each attempt for that
name from that source must wait ``FIRST_DELAY`` doubled per further failure (at most ``MAX_DELAY``) after the last
failure, and is refused unchecked before then. Other sources are not affected: the account's owner elsewhere still
logs in. The name counts whether an account has it or not (its SHA-256 is stored), so the backoff says nothing about
which accounts exist. A success clears the count of its source; counts untouched for ``FORGET_AFTER`` are dropped.

Race-free on PostgreSQL: :func:`hold` upserts the (name, source) row first, which locks it until the login's
transaction ends, so concurrent attempts for the same name and source take turns and each sees the count the
previous one left; failures are counted by a single ``UPDATE ... SET failures = failures + 1``. (SQLite serializes
write transactions anyway.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fhir_server.access.digests import digest
from fhir_server.db import LoginThrottle
from fhir_server.db.types import utcnow

FREE_FAILURES = 5
FIRST_DELAY = timedelta(seconds=15)
MAX_DELAY = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Attempt:
    """One login attempt's place in the backoff: its key, and how long it must still wait (None: it may go on)."""

    account_hash: str
    source: str
    wait: timedelta | None


def account_key(email: str) -> str:
    """The stored form of a login name: SHA-256 of the trimmed, lower-cased text (an account or not)."""
    return digest(email.strip().lower()[:320])


def hold(session: Session, email: str, source: str | None) -> Attempt:
    """Lock the (name, source) count for this transaction and say whether the attempt must wait."""
    key, where = account_key(email), (source or "unknown")[:64]
    now = utcnow()
    insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(LoginThrottle)
        .values(account_hash=key, source=where, failures=0, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.account_hash, LoginThrottle.source],
            set_={"failures": LoginThrottle.failures},  # no change, but the row is now locked by this transaction
        )
        .returning(LoginThrottle.failures, LoginThrottle.last_failure_at)
    )
    failures, last_failure_at = session.execute(statement).one()
    return Attempt(key, where, _wait(failures, last_failure_at, now))


def _wait(failures: int, last_failure_at: datetime, now: datetime) -> timedelta | None:
    if failures < FREE_FAILURES:
        return None
    delay = min(MAX_DELAY, FIRST_DELAY * 2 ** min(failures - FREE_FAILURES, 20))
    left = last_failure_at + delay - now
    return left if left > timedelta(0) else None


def failed(session: Session, attempt: Attempt) -> None:
    """Count a failure of ``attempt`` (one atomic UPDATE) and drop counts nobody touched for ``FORGET_AFTER``."""
    now = utcnow()
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.account_hash == attempt.account_hash, LoginThrottle.source == attempt.source)
        .values(failures=LoginThrottle.failures + 1, last_failure_at=now)
    )
    _forget_old(session, now)


def _forget_old(session: Session, now: datetime) -> None:
    """Drop up to 100 counts untouched for ``FORGET_AFTER``, skipping rows other logins hold (no lock waits, so no
    deadlock between two logins cleaning up)."""
    key = tuple_(LoginThrottle.account_hash, LoginThrottle.source)
    old = session.execute(
        select(LoginThrottle.account_hash, LoginThrottle.source)
        .where(LoginThrottle.last_failure_at < now - FORGET_AFTER)
        .limit(100)
        .with_for_update(skip_locked=True)
    ).all()
    if old:
        session.execute(delete(LoginThrottle).where(key.in_([tuple(row) for row in old])))


def succeeded(session: Session, attempt: Attempt) -> None:
    """Clear the count of the attempt's name and source."""
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.account_hash == attempt.account_hash, LoginThrottle.source == attempt.source
        )
    )
