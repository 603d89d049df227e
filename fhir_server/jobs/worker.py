"""Running jobs: the handlers of each kind, and :func:`run_pending`, which claims and runs jobs until none is left.

A kind's handler is registered once, when its module is imported (:func:`register`; the modules are listed in
:mod:`fhir_server.jobs.handlers`). ``run(ctx)`` runs synchronously (the server calls it from a thread) and returns
the result stored with state ``completed``; an exception fails the job with its message in ``error``; a
:class:`JobCancelled` (from ``ctx.progress``) ends it as cancelled. The ``cleanup(settings, job_id)`` hook deletes
whatever a run wrote; it is called for a cancelled job, an expired one, and before a job whose worker died or
stopped is run again, so every run starts from nothing (never half files in a manifest). It must be idempotent.
A failed job keeps its outputs until it expires (its ``expires_at``), like a completed one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from fhir_server.db.engine import Database
from fhir_server.db.jobs import Job
from fhir_server.db.types import utcnow
from fhir_server.jobs import claim as claims
from fhir_server.jobs.context import JobCancelled, JobContext, JobInterrupted
from fhir_server.jobs.sweep import Cleanup, remove, sweep
from fhir_server.metrics.instruments import JOBS_FINISHED
from fhir_server.settings import Settings

__all__ = ["JobCancelled", "JobContext", "JobInterrupted", "register", "run_pending", "worker_id"]

logger = logging.getLogger("fhir_server.jobs")
Run = Callable[[JobContext], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Handler:
    """What a kind of job does (``run``) and how its outputs are removed (``cleanup``; None: it leaves none)."""

    run: Run
    cleanup: Cleanup | None


_HANDLERS: dict[str, Handler] = {}


def register(kind: str, run: Run, cleanup: Cleanup | None = None) -> None:
    """Make ``kind`` runnable: ``run(ctx) -> result``; ``cleanup(settings, job_id)`` removes a run's outputs.
    Registering a kind again replaces its handler."""
    if not kind or len(kind) > 32:
        raise ValueError(f"a job kind is 1 to 32 characters: {kind!r}")
    _HANDLERS[kind] = Handler(run, cleanup)


def registered() -> dict[str, Handler]:
    """The registered kinds and their handlers."""
    return dict(_HANDLERS)


def worker_id() -> str:
    """A name for this worker, unique among running ones: host, process and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_pending(
    database: Database,
    settings: Settings,
    worker_id: str,
    limit: int | None = None,
    stopping: threading.Event | None = None,
) -> int:
    """Sweep the jobs that are over, then claim and run jobs (oldest first) until none is claimable, ``limit`` ran,
    or ``stopping`` is set; how many ran (whatever their outcome)."""
    handlers = registered()
    sweep(database, settings, {kind: handler.cleanup for kind, handler in handlers.items()})
    stopping = stopping or threading.Event()
    ran = 0
    while (limit is None or ran < limit) and not stopping.is_set():
        claim = claims.claim(database, settings, f"{worker_id}/{uuid.uuid4().hex[:8]}", handlers)
        if claim is None:
            break
        _run(database, settings, claim, handlers[claim.kind], stopping)
        ran += 1
    return ran


def _run(
    database: Database, settings: Settings, claim: claims.Claim, handler: Handler, stopping: threading.Event
) -> None:
    """Run one claimed job to its end, recording the outcome."""
    job_id = str(claim.holding.job_id)
    if claim.rerun and not _clean_before_rerun(database, settings, claim, handler):
        return
    if claim.exhausted:
        message = f"the job was started {claim.holding.attempt - 1} times and its worker stopped each time"
        _finished(claim, "failed" if claims.fail(database, claim.holding, message) else "lost")
        return
    ctx = JobContext(
        job_id, claim.params, claim.organization_id, claim.owner, claim.holding.attempt, database, settings
    )
    ctx.holding, ctx.stopping = claim.holding, stopping
    try:
        result = handler.run(ctx)
    except JobInterrupted:
        _finished(claim, "interrupted" if claims.release(database, claim.holding) else "lost")
    except JobCancelled:
        _cancelled(database, settings, claim, handler)
    except Exception as exc:
        logger.exception("job %s (%s) failed", job_id, claim.kind)
        _finished(claim, "failed" if claims.fail(database, claim.holding, str(exc) or type(exc).__name__) else "lost")
    else:
        if claims.complete(database, claim.holding, result):
            _finished(claim, "completed")
        else:
            _cancelled(database, settings, claim, handler)


def _clean_before_rerun(database: Database, settings: Settings, claim: claims.Claim, handler: Handler) -> bool:
    """Remove an earlier run's outputs, so this run starts from nothing; when that fails the job fails (a rerun
    over half outputs could publish them) and False is returned."""
    if handler.cleanup is None:
        return True
    try:
        handler.cleanup(settings, str(claim.holding.job_id))
        return True
    except Exception as exc:
        logger.exception("job %s (%s): cleaning up before running it again failed", claim.holding.job_id, claim.kind)
        failed = claims.fail(database, claim.holding, f"cleaning up an earlier run failed: {exc}")
        _finished(claim, "failed" if failed else "lost")
        return False


def _cancelled(database: Database, settings: Settings, claim: claims.Claim, handler: Handler) -> None:
    """The run stopped or ended while the job was no longer ours: when it was cancelled, let go of it and remove
    it (cleanup hook, row) at once; when another worker took it over, leave it to that worker."""
    held = claim.holding
    statement = (
        update(Job)
        .where(Job.id == held.job_id, Job.state == "cancelled", Job.lease_owner == held.lease_owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    with database.write() as session:
        session.execute(statement)
    if claims.was_cancelled(database, held.job_id):
        remove(database, settings, {claim.kind: handler.cleanup}, held.job_id, utcnow())
        _finished(claim, "cancelled")
    else:
        _finished(claim, "lost")


def _finished(claim: claims.Claim, outcome: str) -> None:
    JOBS_FINISHED.labels(claim.kind, outcome).inc()
    logger.info("job %s (%s) %s", claim.holding.job_id, claim.kind, outcome)
