"""The three ways studies reach the ImagingStudy table: a full pass, Orthanc's change feed, and reconciliation.

- :func:`full_pass` re-reads every study Orthanc holds and deletes rows of studies it no longer has (what
  ``fhir-server imaging sync`` and the watcher's first round do);
- :func:`follow_changes` reads ``GET /changes`` after a sequence number and syncs each study named by a
  NewStudy or StableStudy change (https://orthanc.uclouvain.be/book/users/rest.html#tracking-changes);
- :func:`reconcile` compares the study ids of Orthanc with the rows: Orthanc reports no deletions in its feed.
"""

from __future__ import annotations

from collections.abc import Callable

from fhir_server.db.engine import Database
from fhir_server.imaging.orthanc import OrthancClient
from fhir_server.imaging.sync import SYNCED_CHANGES, StudySync, SyncReport, live_orthanc_ids
from fhir_server.settings import Settings

Progress = Callable[[int, int], None]
"""``progress(done, total)`` after each study."""


def full_pass(
    database: Database, settings: Settings, client: OrthancClient, progress: Progress | None = None
) -> SyncReport:
    """Sync every study of Orthanc, then delete the rows of studies Orthanc no longer has."""
    report = SyncReport()
    ids = client.study_ids()
    syncer = StudySync(database, settings, client)
    for done, orthanc_id in enumerate(ids, start=1):
        syncer.study(orthanc_id, report=report)
        if progress:
            progress(done, len(ids))
    _delete_missing(syncer, set(ids), report)
    return report


def reconcile(database: Database, settings: Settings, client: OrthancClient) -> SyncReport:
    """Sync the studies Orthanc has and the table lacks; delete the rows of studies Orthanc no longer has."""
    report = SyncReport()
    present = set(client.study_ids())
    with database.read() as session:
        known = live_orthanc_ids(session)
    syncer = StudySync(database, settings, client)
    for orthanc_id in sorted(present - known):
        syncer.study(orthanc_id, report=report)
    _delete_missing(syncer, present, report)
    return report


def follow_changes(database: Database, settings: Settings, client: OrthancClient, since: int) -> tuple[int, SyncReport]:
    """Sync the studies changed after ``since``; return the new ``since`` and what was done."""
    report = SyncReport()
    studies: dict[str, None] = {}
    while True:
        page = client.changes(since)
        for change in page.changes:
            if change.resource_type == "Study" and change.change_type in SYNCED_CHANGES:
                studies[change.orthanc_id] = None
        since = max(since, page.last)
        if page.done or not page.changes:
            break
    syncer = StudySync(database, settings, client)
    for orthanc_id in studies:
        syncer.study(orthanc_id, report=report)
    return since, report


def _delete_missing(syncer: StudySync, present: set[str], report: SyncReport) -> None:
    with syncer.database.read() as session:
        gone = live_orthanc_ids(session) - present
    for orthanc_id in sorted(gone):
        syncer.study(orthanc_id, report=report)
