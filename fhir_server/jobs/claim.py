"""Claiming a job so that exactly one worker runs it, and recording how its run ended.

A job is claimable when it is ``queued``, or ``running`` under a lease that has run out (its worker died). The claim
is one write transaction: on PostgreSQL the oldest claimable row is locked with ``SELECT ... FOR UPDATE SKIP LOCKED``
(other workers skip it and take the next), then a compare-and-set UPDATE makes it ``running`` under this worker's
lease; on SQLite, whose write transactions run one at a time (``BEGIN IMMEDIATE``), the compare-and-set UPDATE alone
decides (``WHERE id = :id AND state = :seen ...``: exactly one UPDATE changes the row). So any number of workers
and replicas sharing a PostgreSQL database run each job once (DESIGN.md "Background work").
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, or_, select, update

from fhir_server.db.engine import Database
from fhir_server.db.jobs import Job
from fhir_server.db.types import utcnow
from fhir_server.jobs.context import Holding
from fhir_server.jobs.queue import finished_expiry
from fhir_server.settings import Settings

_CANDIDATES = 5
"""Rows a SQLite claim looks at before giving up for this round (another worker may win each one)."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A job this worker now holds. ``rerun``: it was started before (its earlier run may have left outputs: the
    kind's cleanup hook runs first); ``exhausted``: its workers died ``jobs_max_attempts`` times already, so it is
    failed instead of run again."""

    holding: Holding
    kind: str
    params: dict[str, Any]
    organization_id: uuid.UUID | None
    owner: str | None
    rerun: bool
    exhausted: bool


def claimable(kinds: Collection[str], now: datetime) -> ColumnElement[bool]:
    """The SQL condition of a job of one of ``kinds`` that a worker may claim at ``now``."""
    abandoned = and_(Job.state == "running", Job.lease_until < now)
    return and_(Job.kind.in_(list(kinds)), or_(Job.state == "queued", abandoned))


def claim(database: Database, settings: Settings, lease_owner: str, kinds: Collection[str]) -> Claim | None:
    """Claim the oldest claimable job of ``kinds`` for ``lease_owner``; None when there is none (or, on SQLite, when
    other workers won each candidate)."""
    if not kinds or not _any_claimable(database, kinds):
        return None
    with database.write() as session:
        now = utcnow()
        query = select(Job).where(claimable(kinds, now)).order_by(Job.created_at)
        if database.is_sqlite:
            candidates = list(session.scalars(query.limit(_CANDIDATES)))
        else:
            candidates = list(session.scalars(query.limit(1).with_for_update(skip_locked=True)))
        for job in candidates:
            taken = _take(session, job, settings, lease_owner, now)
            if taken is not None:
                return taken
    return None


def _any_claimable(database: Database, kinds: Collection[str]) -> bool:
    """Whether a job looks claimable, read without a write transaction (an idle worker takes no write lock)."""
    with database.read() as session:
        return session.scalar(select(Job.id).where(claimable(kinds, utcnow())).limit(1)) is not None


def _take(session: Any, job: Job, settings: Settings, lease_owner: str, now: datetime) -> Claim | None:
    """Compare-and-set ``job`` (as read) to running under ``lease_owner``; None when another worker changed it first."""
    seen = and_(Job.id == job.id, Job.state == job.state, Job.attempts == job.attempts)
    seen = and_(seen, Job.lease_owner.is_(None) if job.lease_owner is None else Job.lease_owner == job.lease_owner)
    attempt = job.attempts + 1
    lease_until = now + timedelta(seconds=settings.jobs_lease_seconds)
    values = {"state": "running", "attempts": attempt, "lease_owner": lease_owner, "lease_until": lease_until}
    values |= {"started_at": now, "progress": None}
    statement = update(Job).where(seen).values(**values).execution_options(synchronize_session=False)
    if cast(CursorResult[Any], session.execute(statement)).rowcount != 1:
        return None
    exhausted = job.state == "running" and job.attempts >= settings.jobs_max_attempts
    holding = Holding(job.id, lease_owner, attempt)
    return Claim(holding, job.kind, dict(job.params), job.organization_id, job.owner, job.attempts > 0, exhausted)


def complete(database: Database, holding: Holding, result: dict[str, Any]) -> bool:
    """Record the run's ``result``: state ``completed``. False when the job was no longer ours (cancelled meanwhile,
    or taken over), in which case the result is dropped."""
    return _end(database, holding, "completed", result=result, error=None)


def fail(database: Database, holding: Holding, error: str) -> bool:
    """Record that the run failed with ``error``: state ``failed``. False when the job was no longer ours."""
    return _end(database, holding, "failed", result=None, error=error)


def _end(database: Database, holding: Holding, state: str, *, result: dict[str, Any] | None, error: str | None) -> bool:
    with database.write() as session:
        job = session.get(Job, holding.job_id)
        now = utcnow()
        expires_at = None if job is None else finished_expiry(job, now)
        values = {"state": state, "result": result, "error": error, "finished_at": now, "expires_at": expires_at}
        values |= {"lease_owner": None, "lease_until": None}
        statement = update(Job).where(holding.mine()).values(**values).execution_options(synchronize_session=False)
        return cast(CursorResult[Any], session.execute(statement)).rowcount == 1


def release(database: Database, holding: Holding) -> bool:
    """Give the job back to the queue (this worker is stopping): ``queued`` again, to be run from the start (after
    its cleanup) by whichever worker claims it next. False when it was no longer ours."""
    values = {"state": "queued", "lease_owner": None, "lease_until": None, "progress": None}
    statement = update(Job).where(holding.mine()).values(**values).execution_options(synchronize_session=False)
    with database.write() as session:
        return cast(CursorResult[Any], session.execute(statement)).rowcount == 1


def was_cancelled(database: Database, job_id: uuid.UUID) -> bool:
    """True when the job is (still) there and cancelled."""
    with database.read() as session:
        return session.scalar(select(Job.state).where(Job.id == job_id)) == "cancelled"
