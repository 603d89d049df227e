"""The job queue as the request side sees it: put a job in, find it, count a client's, cancel, delete.

Plain functions over a SQLAlchemy session; the caller commits (a kick-off enqueues in the transaction that also
audits it). Workers claim and run the jobs (:mod:`fhir_server.jobs.worker`); DESIGN.md "Background work".
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from fhir_server.db.jobs import Job
from fhir_server.db.types import utcnow

ACTIVE = ("queued", "running")
"""States of a job a worker still has to run or is running."""


def enqueue(
    session: Session,
    kind: str,
    params: dict[str, Any],
    *,
    organization_id: uuid.UUID | None,
    owner: str | None,
    expires_in: timedelta | None,
) -> Job:
    """A new queued job of ``kind`` with ``params`` (JSON), for the clinic ``organization_id``, started by ``owner``
    (an OAuth client_id; None: the command line). ``expires_in`` (None: never) is how long the job's row and outputs
    are kept once it has finished: the clock starts again when it finishes (:func:`finished_expiry`)."""
    now = utcnow()
    expires_at = None if expires_in is None else now + expires_in
    job = Job(
        id=uuid.uuid4(),
        kind=kind,
        organization_id=organization_id,
        owner=owner,
        state="queued",
        params=params,
        attempts=0,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(job)
    session.flush()
    return job


def finished_expiry(job: Job, now: datetime) -> datetime | None:
    """When ``job``, finishing ``now``, expires: as long after ``now`` as its expiry was after its creation."""
    if job.expires_at is None:
        return None
    return now + (job.expires_at - job.created_at)


def parse_id(job_id: str) -> uuid.UUID | None:
    """The job id ``job_id`` names; None when it is not one (any malformed text)."""
    try:
        return uuid.UUID(job_id)
    except (ValueError, AttributeError, TypeError):
        return None


def find(session: Session, job_id: str) -> Job | None:
    """The job ``job_id`` (its public id); None when there is none or the id is malformed."""
    key = parse_id(job_id)
    return None if key is None else session.get(Job, key)


def running_count(session: Session, kind: str, owner: str) -> int:
    """How many jobs of ``kind`` that ``owner`` started are queued or running (for a 429 when there are too many)."""
    query = select(func.count()).select_from(Job).where(Job.kind == kind, Job.owner == owner, Job.state.in_(ACTIVE))
    return int(session.scalar(query) or 0)


def cancel(session: Session, job_id: str) -> Job | None:
    """Cancel the job ``job_id`` (None when there is none): its state becomes ``cancelled`` whatever it was. A running
    handler notices at its next progress call and stops; a worker then calls the kind's cleanup hook and deletes the
    row (at once for a running job; within a poll interval for one queued or finished), so its outputs go too."""
    job = find(session, job_id)
    if job is None:
        return None
    now = utcnow()
    if job.state != "running":
        job.lease_owner, job.lease_until = None, None
    job.state, job.finished_at = "cancelled", job.finished_at or now
    session.flush()
    return job


def delete(session: Session, job: Job) -> None:
    """Remove ``job``'s row (after its cleanup hook has removed its outputs)."""
    session.delete(job)
    session.flush()


def depth(session: Session) -> list[tuple[str, str, int, datetime | None]]:
    """(kind, state, jobs, oldest created_at) of the queued and running jobs, for the queue's metrics."""
    query = (
        select(Job.kind, Job.state, func.count(), func.min(Job.created_at))
        .where(or_(Job.state == "queued", Job.state == "running"))
        .group_by(Job.kind, Job.state)
    )
    return [(kind, state, int(count), oldest) for kind, state, count, oldest in session.execute(query)]
