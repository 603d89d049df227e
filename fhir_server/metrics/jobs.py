"""The job queue's depth and age, as gauges read from the database when ``/metrics`` is scraped.

The queue lives in the database, shared by every worker and replica: one query per scrape (the queued and running
jobs grouped by kind and state) tells how many jobs wait and how long the oldest has waited. Every registered kind
is reported, with 0 when it has none.
"""

from __future__ import annotations

from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
from fhir_server.jobs import queue
from fhir_server.jobs.worker import registered
from fhir_server.metrics.instruments import JOBS, JOBS_OLDEST_QUEUED_AGE


def refresh(database: Database) -> None:
    """Set the queue gauges from the database as it is now (blocking: call it from a thread)."""
    with database.read() as session:
        rows = queue.depth(session)
    now = utcnow()
    kinds = set(registered()) | {kind for kind, _, _, _ in rows}
    counts = {(kind, state): count for kind, state, count, _ in rows}
    oldest = {kind: created for kind, state, _, created in rows if state == "queued"}
    for kind in kinds:
        for state in queue.ACTIVE:
            JOBS.labels(kind, state).set(counts.get((kind, state), 0))
        created = oldest.get(kind)
        JOBS_OLDEST_QUEUED_AGE.labels(kind).set(0 if created is None else max(0.0, (now - created).total_seconds()))
