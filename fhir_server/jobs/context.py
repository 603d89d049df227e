"""What a running job's handler is given (:class:`JobContext`) and how it reports progress.

A handler calls :meth:`JobContext.progress` now and then. That records the progress and renews the worker's lease on
the job, at most every :func:`renew_interval` seconds (no row is written for every call), and it is where a handler
learns that it must stop: :class:`JobCancelled` when the job was cancelled or another worker took it over (the lease
was lost), :class:`JobInterrupted` when its worker process is shutting down.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, update

from fhir_server.db.engine import Database
from fhir_server.db.jobs import Job
from fhir_server.db.types import utcnow
from fhir_server.settings import Settings


class JobCancelled(Exception):  # noqa: N818 - the name other packages code against (issue 17)
    """The job must stop now: it was cancelled, or this worker no longer holds it (its lease ran out and another
    worker claimed it). A handler lets it propagate."""


class JobInterrupted(JobCancelled):
    """The worker is shutting down: the job goes back to the queue and is run again from the start later."""


def renew_interval(settings: Settings) -> float:
    """Seconds between two writes of progress (and lease renewals): a few seconds, well inside the lease."""
    return min(5.0, settings.jobs_lease_seconds / 4)


@dataclass(frozen=True, slots=True)
class Holding:
    """Which claim of a job a worker holds: the row is still ours while it is running under this lease owner and
    attempt (a worker that claimed it again after our lease ran out changed both)."""

    job_id: uuid.UUID
    lease_owner: str
    attempt: int

    def mine(self) -> ColumnElement[bool]:
        """The SQL condition "the row is still held by this claim"."""
        return (
            (Job.id == self.job_id)
            & (Job.state == "running")
            & (Job.lease_owner == self.lease_owner)
            & (Job.attempts == self.attempt)
        )


@dataclass
class JobContext:
    """A running job as its handler sees it: its id (text), parameters, clinic, owner, which attempt this is
    (1 the first time), the database and the settings. ``progress`` reports and is the handler's stop point."""

    job_id: str
    params: dict[str, Any]
    organization_id: uuid.UUID | None
    owner: str | None
    attempt: int
    database: Database
    settings: Settings
    holding: Holding | None = field(default=None, repr=False)
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    last_progress: dict[str, Any] | None = field(default=None, repr=False)
    _renewed_at: float = field(default_factory=time.monotonic, repr=False)

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Record that ``done`` of ``total`` (None: unknown) units are done, ``message`` saying what is being done
        (e.g. a resource type). Renews the lease when the last renewal is :func:`renew_interval` old. Raises
        JobInterrupted when the worker is stopping, JobCancelled when the job was cancelled or is no longer held."""
        self.last_progress = {"done": done, "total": total, "message": message}
        if self.stopping.is_set():
            raise JobInterrupted(f"job {self.job_id}: the worker is stopping")
        if time.monotonic() - self._renewed_at >= renew_interval(self.settings):
            self.renew()

    def renew(self) -> None:
        """Write the latest progress and extend the lease now; JobCancelled when the row is no longer ours."""
        if self.holding is None:
            return
        until = utcnow() + timedelta(seconds=self.settings.jobs_lease_seconds)
        statement = (
            update(Job)
            .where(self.holding.mine())
            .values(progress=self.last_progress, lease_until=until)
            .execution_options(synchronize_session=False)
        )
        with self.database.write() as session:
            changed = cast(CursorResult[Any], session.execute(statement)).rowcount
        self._renewed_at = time.monotonic()
        if changed != 1:
            raise JobCancelled(f"job {self.job_id} was cancelled or taken over by another worker")
