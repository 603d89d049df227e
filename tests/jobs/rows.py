"""Helpers of the job tests: change a job's row behind the queue's back, and wait for what a worker does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from fhir_server.db.engine import Database
from fhir_server.db.jobs import Job
from fhir_server.jobs import queue

WAIT = 60.0
"""Seconds a test waits for a worker, a thread or a process before it fails."""


def change(database: Database, job_id: str, **values: Any) -> None:
    """Set columns of the job ``job_id`` (a lease in the past stands for a worker that died)."""
    with database.write() as session:
        session.execute(update(Job).where(Job.id == queue.parse_id(job_id)).values(**values))


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; fail after :data:`WAIT` seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)
