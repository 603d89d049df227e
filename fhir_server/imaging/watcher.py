"""The background task that keeps ImagingStudy rows in step with Orthanc while the server runs.

First a full pass (every study Orthanc holds; the feed position is taken before it, so nothing stored meanwhile
is missed), then forever: follow ``/changes`` every ``imaging_poll_interval`` seconds, and reconcile every
``imaging_reconcile_interval`` seconds for the deletions the feed never reports. Orthanc being down is logged
and retried (with backoff up to a minute); the task ends only when the application stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from fhir_server import background
from fhir_server.db.engine import Database
from fhir_server.errors import FhirError
from fhir_server.imaging.orthanc import OrthancClient
from fhir_server.imaging.passes import follow_changes, full_pass, reconcile
from fhir_server.imaging.sync import SyncReport
from fhir_server.metrics.instruments import IMAGING_LAST_SUCCESS, IMAGING_ROUNDS
from fhir_server.settings import Settings

logger = logging.getLogger("fhir_server.imaging.watcher")
MAX_BACKOFF = 60.0


@dataclass
class Watcher:
    """State of the watch: where in the feed it is, and when it last reconciled."""

    database: Database
    settings: Settings
    since: int | None = None
    reconciled_at: float = 0.0

    def round(self) -> SyncReport:
        """One round (blocking): the full pass first, then the feed, and a reconciliation when it is due."""
        with OrthancClient(self.settings) as client:
            if self.since is None:
                since = client.last_change()
                report = full_pass(self.database, self.settings, client)
                self.since, self.reconciled_at = since, time.monotonic()
                return report
            self.since, report = follow_changes(self.database, self.settings, client, self.since)
            if time.monotonic() - self.reconciled_at >= self.settings.imaging_reconcile_interval:
                report = reconcile(self.database, self.settings, client)
                self.reconciled_at = time.monotonic()
            return report

    async def run(self) -> None:
        """Rounds until cancelled."""
        delay = self.settings.imaging_poll_interval
        while True:
            try:
                report = await run_in_threadpool(self.round)
                if any(report.counts.get(k) for k in ("created", "updated", "deleted", "skipped")):
                    logger.info("imaging sync", extra={"summary": report.summary()})
                delay = self.settings.imaging_poll_interval
                IMAGING_ROUNDS.labels("success").inc()
                IMAGING_LAST_SUCCESS.set(time.time())
            except FhirError as exc:
                logger.warning("imaging sync: Orthanc unavailable", extra={"error": str(exc)})
                IMAGING_ROUNDS.labels("orthanc_unavailable").inc()
                delay = min(max(delay * 2, 1.0), MAX_BACKOFF)
            except Exception:
                logger.exception("imaging sync round failed")
                IMAGING_ROUNDS.labels("failed").inc()
                delay = min(max(delay * 2, 1.0), MAX_BACKOFF)
            await asyncio.sleep(delay)


def start(database: Database, settings: Settings) -> asyncio.Task[None] | None:
    """Start watching when an Orthanc is configured and watching is on; the task to cancel at shutdown."""
    if not settings.orthanc_url or not settings.imaging_watch:
        return None
    return asyncio.create_task(Watcher(database, settings).run(), name="imaging-watcher")


async def stop(task: asyncio.Task[None] | None) -> None:
    await background.stop(task)
