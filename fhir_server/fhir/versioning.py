"""The version step of the write pipeline: every change to a served row becomes a FHIR version, whoever makes it
(FHIR API, CLI, seed, imaging sync, intake).

:func:`note_changes` finds each new, changed or deleted row of a served table (or of a table its mapping reads, such
as an appointment's cancellation) in the session's unit of work and gives it ``version_id`` + 1 and a new
``last_updated``, once per recorded version; it runs before every flush of the pipeline (fhir_server.fhir.pipeline).
:func:`record_versions` then renders each such row through its mapping and stores that JSON in ``resource_history``
(one multi-row INSERT), where reads, vreads and history find it. The bookkeeping lives in the transaction's WriteState.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, inspect, update
from sqlalchemy.orm import Session

from fhir_server.db import ResourceHistory
from fhir_server.db.base import FhirResourceMixin
from fhir_server.db.created_rows import note_created
from fhir_server.db.types import utcnow
from fhir_server.db.write_session import WriteState, state_of
from mappings.registry import DEPENDENTS, is_served_row, mapping_of


@dataclass(frozen=True)
class NewVersion:
    """One version just written: the row, its rendered resource (None for a delete) and the method."""

    resource_type: str
    resource_id: str
    version_id: int
    last_updated: datetime
    method: str
    resource: dict[str, Any] | None
    organization_id: Any


def _served(obj: object) -> bool:
    return is_served_row(obj)


def _parent_of(obj: object) -> FhirResourceMixin | None:
    follow = DEPENDENTS.get(type(obj))
    return follow(obj) if follow else None


def _mark(state: WriteState, row: FhirResourceMixin, method: str) -> None:
    """Note ``row`` for a new version (``method``); bump its version and lastUpdated the first time."""
    previous = state.pending.get(id(row))
    if previous is not None and previous[1] == "create":
        method = "delete" if method == "delete" else "create"
    state.pending[id(row)] = (row, method)
    if method == "create":
        note_created(state, row)
    if previous is not None:
        return
    if method != "create":
        row.version_id = (row.version_id or 0) + 1
    now = utcnow()
    row.last_updated = now.replace(microsecond=now.microsecond // 1000 * 1000)  # served to the millisecond


def note_changes(session: Session) -> None:
    """Note every served row the session's unit of work creates, changes or deletes (directly or through a table its
    mapping reads) for a new version. Run before each flush: what a flush wrote is no longer in the unit of work."""
    state = state_of(session)
    for obj in list(session.new):
        noted = state.pending.get(id(obj))
        if noted is not None and noted[0] is obj and noted[1] == "create":
            continue  # noted already (as _mark would leave it): the rows of a batch's earlier creates
        if _served(obj):
            _mark(state, obj, "create")
        elif (parent := _parent_of(obj)) is not None:
            _mark(state, parent, "create" if parent in session.new else "update")
    for obj in list(session.dirty):
        if not session.is_modified(obj, include_collections=False):
            continue
        if _served(obj):
            row: FhirResourceMixin = obj
            _mark(state, row, "delete" if row.deleted_at is not None else "update")
        elif (parent := _parent_of(obj)) is not None:
            _mark(state, parent, "update")
    for obj in list(session.deleted):
        if _served(obj):
            _mark(state, obj, "delete")
        elif (parent := _parent_of(obj)) is not None and parent not in session.deleted:
            _mark(state, parent, "update")


def record_versions(session: Session) -> list[NewVersion]:
    """Store the JSON of every version noted (and flushed) since the last call: the history rows, the previous
    version superseded; each version is kept in the state's ``recorded``. A later change to a row makes another."""
    state = state_of(session)
    pending, state.pending = state.pending, {}
    versions = [_version_of(session, row, method) for row, method in pending.values()]
    for version in versions:
        state.recorded[(version.resource_type, version.resource_id)] = version.resource
        if version.method != "create":  # a new resource has no earlier version to supersede
            _supersede(session, version)
    if versions:  # one multi-row INSERT (no ORM objects: nothing reads them back from the session)
        session.execute(insert(_HISTORY), [_history_row(v) for v in versions])
    return versions


_HISTORY = cast(Table, ResourceHistory.__table__)


def _history_row(version: NewVersion) -> dict[str, Any]:
    return {
        "resource_type": version.resource_type,
        "resource_id": version.resource_id,
        "version_id": version.version_id,
        "organization_id": version.organization_id,
        "last_updated": version.last_updated,
        "method": version.method,
        "resource": version.resource,
        "superseded_at": None,
    }


def recorded_resource(session: Session, resource_type: str, resource_id: str) -> dict[str, Any] | None:
    """The resource as this transaction last recorded it (after :func:`record_versions`); None if it did not."""
    return state_of(session).recorded.get((resource_type, resource_id))


def _supersede(session: Session, version: NewVersion) -> None:
    session.execute(
        update(ResourceHistory)
        .where(
            ResourceHistory.resource_type == version.resource_type,
            ResourceHistory.resource_id == version.resource_id,
            ResourceHistory.superseded_at.is_(None),
        )
        .values(superseded_at=version.last_updated)
    )


def _version_of(session: Session, row: FhirResourceMixin, method: str) -> NewVersion:
    mapping = mapping_of(row)
    hard_delete = bool(inspect(row).was_deleted)
    resource = None if method == "delete" or hard_delete else mapping.to_fhir(row)
    return NewVersion(
        resource_type=mapping.resource_type,
        resource_id=row.fhir_id,
        version_id=row.version_id,
        last_updated=row.last_updated,
        method="delete" if hard_delete else method,
        resource=resource,
        organization_id=getattr(row, "organization_id", None),
    )
