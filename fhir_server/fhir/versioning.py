"""Every change to a served row becomes a FHIR version, whoever makes it (FHIR API, CLI, seed, imaging sync).

SQLAlchemy session events do the bookkeeping: before a flush, each new, changed or deleted row of a served table
(or of a table its mapping reads, such as an appointment's cancellation) gets ``version_id`` + 1 and a new
``last_updated``, once per recorded version; :func:`record_versions` (also run just before commit) renders each such
row through its mapping and stores that JSON in ``resource_history``, where reads, vreads and history find it.
Listeners registered with :func:`on_version` (the search indexer) see each new version in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session

from fhir_server.db import ResourceHistory
from fhir_server.db.base import FhirResourceMixin
from fhir_server.db.created_rows import forget_created, note_created
from fhir_server.db.types import utcnow
from mappings.registry import BY_MODEL, DEPENDENTS

_PENDING = "fhir_pending_versions"
_BUMPED = "fhir_bumped_rows"
_RECORDED = "fhir_recorded_resources"


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


VersionListener = Callable[[Session, NewVersion], None]
_listeners: list[VersionListener] = []


def on_version(listener: VersionListener) -> None:
    """Call ``listener`` for every version recorded, inside the writing transaction."""
    if listener not in _listeners:
        _listeners.append(listener)


def _served(obj: object) -> bool:
    return type(obj) in BY_MODEL


def _parent_of(obj: object) -> FhirResourceMixin | None:
    follow = DEPENDENTS.get(type(obj))
    return follow(obj) if follow else None


def _mark(session: Session, row: FhirResourceMixin, method: str) -> None:
    pending: dict[int, tuple[FhirResourceMixin, str]] = session.info.setdefault(_PENDING, {})
    bumped: set[int] = session.info.setdefault(_BUMPED, set())
    previous = pending.get(id(row), (row, method))[1]
    if previous == "create":
        method = "delete" if method == "delete" else "create"
    pending[id(row)] = (row, method)
    if method == "create":
        note_created(session, row)
    if id(row) in bumped:
        return
    bumped.add(id(row))
    if method != "create":
        row.version_id = (row.version_id or 0) + 1
    now = utcnow()
    row.last_updated = now.replace(microsecond=now.microsecond // 1000 * 1000)  # served to the millisecond


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in list(session.new):
        if _served(obj):
            _mark(session, obj, "create")
        elif (parent := _parent_of(obj)) is not None:
            _mark(session, parent, "create" if parent in session.new else "update")
    for obj in list(session.dirty):
        if not session.is_modified(obj, include_collections=False):
            continue
        if _served(obj):
            row: FhirResourceMixin = obj
            _mark(session, row, "delete" if row.deleted_at is not None else "update")
        elif (parent := _parent_of(obj)) is not None:
            _mark(session, parent, "update")
    for obj in list(session.deleted):
        if _served(obj):
            _mark(session, obj, "delete")
        elif (parent := _parent_of(obj)) is not None and parent not in session.deleted:
            _mark(session, parent, "update")


def record_versions(session: Session) -> list[NewVersion]:
    """Flush, then store the JSON of every version made in this transaction so far (idempotent)."""
    session.flush()
    pending: dict[int, tuple[FhirResourceMixin, str]] = session.info.pop(_PENDING, {})
    session.info.get(_BUMPED, set()).difference_update(pending)  # a later change to a row makes another version
    versions = [_version_of(session, row, method) for row, method in pending.values()]
    recorded: dict[tuple[str, str], dict[str, Any] | None] = session.info.setdefault(_RECORDED, {})
    for version in versions:
        recorded[(version.resource_type, version.resource_id)] = version.resource
        if version.method != "create":  # a new resource has no earlier version to supersede
            _supersede(session, version)
        session.add(
            ResourceHistory(
                resource_type=version.resource_type,
                resource_id=version.resource_id,
                version_id=version.version_id,
                organization_id=version.organization_id,
                last_updated=version.last_updated,
                method=version.method,
                resource=version.resource,
            )
        )
        for listener in _listeners:
            listener(session, version)
    if versions:
        session.flush()
    return versions


def recorded_resource(session: Session, resource_type: str, resource_id: str) -> dict[str, Any] | None:
    """The resource as this transaction last recorded it (after :func:`record_versions`); None if it did not."""
    found: dict[str, Any] | None = session.info.get(_RECORDED, {}).get((resource_type, resource_id))
    return found


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
    mapping = BY_MODEL[type(row)]
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


def _before_commit(session: Session) -> None:
    session.flush()  # commit flushes only after this event: flush now so every change is marked
    if session.info.get(_PENDING):
        record_versions(session)


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_BUMPED, None)
    session.info.pop(_RECORDED, None)
    forget_created(session)


def install() -> None:
    """Attach the bookkeeping to every SQLAlchemy session of the process (idempotent)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_commit", _forget)
        event.listen(Session, "after_soft_rollback", _forget)


install()
