"""Removing jobs that are over: expired ones and cancelled ones, each after its kind's cleanup hook.

A job is swept when it finished (completed, failed or cancelled) and its ``expires_at`` has passed, or when it was
cancelled and no worker holds it (never started, finished before, or its worker died or gave it up). Each is removed
in a write transaction of its own: on PostgreSQL its row is locked (``FOR UPDATE SKIP LOCKED``) so two workers never
sweep the same job at once; the cleanup hook runs, then the row is deleted. A hook that fails leaves the row for the
next sweep (logged).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select

from fhir_server.db.engine import Database
from fhir_server.db.jobs import FINISHED, Job
from fhir_server.db.types import utcnow
from fhir_server.settings import Settings

logger = logging.getLogger("fhir_server.jobs")
Cleanup = Callable[[Settings, str], None]
_BATCH = 100


def sweepable(now: datetime) -> ColumnElement[bool]:
    """The SQL condition of a job that is over at ``now``."""
    expired = and_(Job.state.in_(FINISHED), Job.expires_at < now)
    unheld = or_(Job.lease_owner.is_(None), Job.lease_until < now)
    return or_(expired, and_(Job.state == "cancelled", unheld))


def sweep(database: Database, settings: Settings, cleanups: Mapping[str, Cleanup | None]) -> int:
    """Clean up and delete every job of a kind in ``cleanups`` (kind -> its hook) that is over; how many went."""
    if not cleanups:
        return 0
    now = utcnow()
    with database.read() as session:
        query = select(Job.id).where(sweepable(now), Job.kind.in_(list(cleanups))).limit(_BATCH)
        ids = list(session.scalars(query))
    return sum(1 for job_id in ids if remove(database, settings, cleanups, job_id, now))


def remove(
    database: Database, settings: Settings, cleanups: Mapping[str, Cleanup | None], job_id: uuid.UUID, now: datetime
) -> bool:
    """Clean up and delete the job ``job_id`` when it is over at ``now`` (and no other worker is sweeping it);
    whether it went."""
    try:
        with database.write() as session:
            query = select(Job).where(Job.id == job_id, sweepable(now))
            if not database.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            job = session.scalar(query)
            if job is None:
                return False
            hook = cleanups.get(job.kind)
            if hook is not None:
                hook(settings, str(job.id))
            session.delete(job)
        return True
    except Exception:
        logger.exception("sweeping job %s failed; it is tried again at the next sweep", job_id)
        return False
