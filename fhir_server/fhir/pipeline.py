"""The write pipeline: the steps every write goes through, in order, whoever makes it.

http://hl7.org/fhir/R4/http.html#versioning: every change to a served resource is a new version. Whoever writes
(a FHIR interaction through :mod:`fhir_server.fhir.repository`, a Bundle, the CLI, seed, imaging sync, intake, the
AI summary), a write goes through these steps, each a plain function called in this order:

1. validate: the request body (fhir_server.fhir.validation, at the edge, before the transaction);
2. map: the resource onto clinic rows (the mapping's ``from_fhir``/``apply``, by the repository), or rows changed
   directly (CLI, seed, sync);
3. :func:`note_changes`: the follow-ups of what the transaction changed (an appointment's intake status follows its
   forms: fhir_server.intake.appointment_intake), then every changed served row marked for a new version (version
   id and lastUpdated bumped). :func:`flush` runs it before writing the rows, so nothing reaches the database
   unnoted (the write session refuses that: fhir_server.db.write_session);
4. :func:`version`: the rows written, each new version rendered through its mapping into a history row (and a
   Binary's content stored under its version: fhir_server.fhir.binary_content);
5. :func:`index`: the search index rows of the new versions queued; :func:`write_index` writes them (before any
   search inside the transaction and before commit);
6. the caller's reach checks (repository), then the audit row (fhir_server.audit.trail, per request).

:func:`finish` runs steps 3-5 for whatever the transaction still holds unrecorded: ``Database.write`` calls it at the
end of every write transaction (the application builds its Database with it), so an internal change (CLI, seed,
imaging sync, intake) is visible through FHIR at once. The per-transaction state is the session's WriteState.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from fhir_server.fhir import binary_content, versioning
from fhir_server.fhir.search.indexer import flush_index, index_version
from fhir_server.fhir.versioning import NewVersion
from fhir_server.intake.appointment_intake import follow_forms


def note_changes(session: Session) -> None:
    """Apply the follow-ups of the session's pending (unflushed) changes, then note every changed served row for a
    new version (see :func:`fhir_server.fhir.versioning.note_changes`)."""
    follow_forms(session)
    versioning.note_changes(session)


def flush(session: Session) -> None:
    """Write the session's pending changes, noted first (the only way the pipeline's writers flush)."""
    note_changes(session)
    session.flush()


def version(session: Session) -> list[NewVersion]:
    """Write the pending changes and record a version (history row) of every served row changed since the last
    call; the new versions."""
    flush(session)
    versions = versioning.record_versions(session)
    if versions:
        session.flush()
        binary_content.record(session, versions)
    return versions


def index(session: Session, versions: list[NewVersion]) -> None:
    """Queue the search index rows of ``versions`` (and drop the rows of versions no paged search can still see)."""
    for new in versions:
        index_version(session, new)


def write_index(session: Session) -> None:
    """Write the queued index rows (:func:`fhir_server.fhir.search.indexer.flush_index`)."""
    flush_index(session)


def finish(session: Session) -> None:
    """The end of a write transaction, before it commits: every change versioned and indexed, the index written."""
    index(session, version(session))
    write_index(session)
