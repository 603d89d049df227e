"""After a STOW through the proxy: the stored studies' ImagingStudy rows are written before the answer leaves.

Runs in a worker thread (database and Orthanc REST are synchronous). A failure here does not undo what Orthanc
stored: it becomes a warning on the STOW answer, and the change feed or the next reconciliation catches up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from fhir_server.db.engine import Database
from fhir_server.errors import FhirError
from fhir_server.imaging.orthanc import OrthancClient
from fhir_server.imaging.sync import StudySync, SyncReport
from fhir_server.settings import Settings

logger = logging.getLogger("fhir_server.imaging.sync")


def sync_stored(
    database: Database, settings: Settings, study_uids: Iterable[str], clinic: uuid.UUID | None
) -> list[str]:
    """Sync each study just stored (new studies go to ``clinic`` when given); the warnings to report."""
    report = SyncReport()
    warnings: list[str] = []
    try:
        with OrthancClient(settings) as client:
            syncer = StudySync(database, settings, client)
            for uid in sorted(study_uids):
                if syncer.study_by_uid(uid, clinic, report) is None:
                    warnings.append(f"study {uid} was not found in the archive after storing")
    except FhirError as exc:
        logger.warning("ImagingStudy sync after STOW failed", extra={"error": str(exc)})
        warnings.append("stored, but the ImagingStudy is not updated yet: the archive did not answer")
    texts = warnings + [p.replace('"', "'") for p in report.problems]
    return [t.encode("ascii", "replace").decode("ascii") for t in texts]  # they go into a Warning header
