"""A tiny job kind for the tests of the queue: it records each run and each cleanup in files of the directory that
the environment variable ``JOBS_TEST_DIR`` names, so tests (and worker processes they start) can see what ran.

params: ``steps`` (progress calls, default 1), ``fail`` (raise with this message after the steps), ``hold`` (keep
reporting progress until stopped: cancelled, interrupted or its lease lost). The cleanup hook fails while the file
``CLEANUP_FAILS`` exists in the directory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fhir_server.jobs.worker import JobCancelled, JobContext, register
from fhir_server.settings import Settings

KIND = "test-steps"
RUNS = "runs.log"
CLEANUPS = "cleanups.log"
STOPS = "stops.log"
CLEANUP_FAILS = "cleanup-fails"
"""A file whose presence makes the cleanup hook fail."""
HOLD_LIMIT = 120.0
"""Seconds a holding job keeps going at most (a test that forgot to stop it must not hang)."""


def directory() -> Path:
    return Path(os.environ["JOBS_TEST_DIR"])


def _append(name: str, line: str) -> None:
    with (directory() / name).open("a") as log:
        log.write(line + "\n")


def lines(name: str) -> list[str]:
    """The lines logged to ``name`` so far."""
    path = directory() / name
    return path.read_text().splitlines() if path.exists() else []


def output(job_id: str) -> Path:
    """The file a run of ``job_id`` writes (its "output")."""
    return directory() / f"output-{job_id}"


def run(ctx: JobContext) -> dict[str, Any]:
    _append(RUNS, f"{ctx.job_id} {ctx.attempt}")
    output(ctx.job_id).write_text(str(ctx.attempt))
    steps = int(ctx.params.get("steps", 1))
    try:
        for step in range(steps):
            ctx.progress(step, steps, "step")
        until = time.monotonic() + HOLD_LIMIT
        while ctx.params.get("hold") and time.monotonic() < until:
            ctx.progress(steps, None, "holding")
            time.sleep(0.02)
    except JobCancelled as exc:
        _append(STOPS, f"{ctx.job_id} {type(exc).__name__}")
        raise
    if ctx.params.get("fail"):
        raise RuntimeError(str(ctx.params["fail"]))
    return {"steps": steps, "attempt": ctx.attempt}


def cleanup(_settings: Settings, job_id: str) -> None:
    if (directory() / CLEANUP_FAILS).exists():
        raise OSError("the outputs cannot be removed")
    _append(CLEANUPS, job_id)
    output(job_id).unlink(missing_ok=True)


register(KIND, run, cleanup)
