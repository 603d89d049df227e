"""The loop that runs jobs: in the server (an asyncio task of the app's lifespan, jobs in a thread) and in the
foreground of ``fhir-server worker``. Both poll every ``jobs_poll_seconds``, run whatever is claimable
(:func:`fhir_server.jobs.worker.run_pending`), and stop cleanly: a running job is interrupted at its next progress
call and given back to the queue (its lease released), so another worker runs it again at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from fhir_server import background
from fhir_server.db.engine import Database
from fhir_server.jobs import handlers
from fhir_server.jobs.worker import run_pending, worker_id
from fhir_server.settings import Settings

logger = logging.getLogger("fhir_server.jobs")
STOP_WAIT = 10.0
"""Seconds a stopping server waits for the running job to reach its next progress call and give the job back."""


def run_round(database: Database, settings: Settings, worker: str, stopping: threading.Event) -> None:
    """One round: run whatever is claimable; a failure of the round itself (database down) is logged, not raised."""
    try:
        run_pending(database, settings, worker, stopping=stopping)
    except Exception:
        logger.exception("job round failed; trying again in %g s", settings.jobs_poll_seconds)


def run_forever(database: Database, settings: Settings, stopping: threading.Event) -> None:
    """Rounds in this thread until ``stopping`` is set (``fhir-server worker``)."""
    handlers.load()
    worker = worker_id()
    while not stopping.is_set():
        run_round(database, settings, worker, stopping)
        stopping.wait(settings.jobs_poll_seconds)


class ServerLoop:
    """The job loop of a serving process: started by the app's lifespan, stopped (cleanly) when it ends."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self.stopping = threading.Event()
        self.task: asyncio.Task[None] | None = None
        self.busy = False

    def start(self) -> None:
        handlers.load()
        self.task = asyncio.create_task(self._run(), name="jobs")

    async def _run(self) -> None:
        worker = worker_id()
        while not self.stopping.is_set():
            self.busy = True
            try:
                await asyncio.to_thread(run_round, self.database, self.settings, worker, self.stopping)
            finally:
                self.busy = False
            await asyncio.sleep(self.settings.jobs_poll_seconds)

    async def stop(self) -> None:
        """Interrupt the running job (it goes back to the queue) and end the loop; after :data:`STOP_WAIT` seconds
        the loop is cancelled anyway (a handler that never reports progress keeps its lease until it runs out)."""
        self.stopping.set()
        if self.task is not None and self.busy:  # a round runs in a thread: let it give its job back
            logger.info("stopping: waiting up to %g s for the running job to give itself back", STOP_WAIT)
            await asyncio.wait({self.task}, timeout=STOP_WAIT)
        await background.stop(self.task)


def start(database: Database, settings: Settings) -> ServerLoop | None:
    """Start running jobs in this server when ``jobs_in_server`` is on; the loop to stop at shutdown."""
    if not settings.jobs_in_server:
        return None
    loop = ServerLoop(database, settings)
    loop.start()
    return loop
