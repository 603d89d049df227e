"""``fhir-server worker``: run the durable queue's jobs in the foreground, as a process of its own.

Any number of workers (and serving replicas, with FHIR_SERVER_JOBS_IN_SERVER on) may share one PostgreSQL database:
each job is claimed by exactly one (:mod:`fhir_server.jobs.claim`). Ctrl-C (SIGINT) or SIGTERM stops the worker
cleanly: the running job is interrupted at its next progress call and given back to the queue.

Registered on the command line by :func:`register`; it uses the command line's own helpers (settings, database)
from :mod:`fhir_server.cli`, imported when the command runs (that module imports this one).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from fhir_server.jobs.loop import run_forever
from fhir_server.request_log import configure_logging


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to the ``fhir-server`` command (``app``)."""
    app.command("worker")(worker)


def worker() -> None:
    """Run queued jobs (bulk exports, ...) until stopped with Ctrl-C or SIGTERM; polls every
    FHIR_SERVER_JOBS_POLL_SECONDS. A stopped worker gives its running job back to the queue."""
    from fhir_server import cli

    config = cli.settings()
    configure_logging(config.log_level)
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with cli.database() as db:
            cli.err.print("worker started: running queued jobs (Ctrl-C stops)", highlight=False)
            run_forever(db, config, stopping)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    cli.err.print("worker stopped", highlight=False)
