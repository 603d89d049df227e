"""``fhir-server reindex``: the search index rebuilt from the stored versions.

Needed when the way resources are indexed changed (an upgrade that indexes a parameter differently, a new
SearchParameter) or when index rows were lost. Every version a search can see (the current ones, and those
replaced less than SNAPSHOT_LIFETIME ago, which searches paged since before still show) is read in batches (keyset
on ``resource_history.id``, so memory stays flat however large the database) and, one transaction per batch, its
index rows are deleted and written anew from its JSON (http://hl7.org/fhir/R4/search.html: the index serves
every parameter of fhir_server.fhir.search.registry). Rows of versions that no longer exist, or that no paged
search can still see, are dropped at the end.

With ``rerender``, each served row is first rendered again through its mapping; when that differs from its
stored current version (a row changed by SQL that bypassed the write pipeline), a new version is recorded,
exactly as an internal change through a session records it: by the pipeline's finish step (versioned, indexed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, tuple_
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import flag_modified

from fhir_server.db import ResourceHistory
from fhir_server.db.engine import Database
from fhir_server.db.fhir import same_version
from fhir_server.db.types import utcnow
from fhir_server.fhir.search.indexer import INDEX_TABLES, SNAPSHOT_LIFETIME, index_rows
from mappings.registry import MAPPINGS

DEFAULT_BATCH = 500
Progress = Callable[[int], None]
"""Called with the number of versions just indexed."""


@dataclass
class Reindexed:
    """What a rebuild did: versions indexed, index rows written, new versions recorded by ``rerender``."""

    versions: int = 0
    rows: int = 0
    rerendered: int = 0


def _searchable(h: Any, cutoff: datetime) -> Any:
    """``h`` is a version some search can see: current or replaced after ``cutoff``, and not a deletion."""
    return and_(h.method != "delete", or_(h.superseded_at.is_(None), h.superseded_at >= cutoff))


def _cutoff() -> datetime:
    return utcnow() - SNAPSHOT_LIFETIME


def count_versions(database: Database) -> int:
    """How many versions a rebuild indexes: the current ones, and those replaced recently enough that a search
    paged since before still sees them."""
    with database.read() as session:
        searchable = _searchable(ResourceHistory, _cutoff())
        return int(session.scalar(select(func.count()).select_from(ResourceHistory).where(searchable)) or 0)


def rebuild(
    database: Database, batch_size: int = DEFAULT_BATCH, rerender: bool = False, progress: Progress | None = None
) -> Reindexed:
    """Rebuild every index row from the searchable versions (after re-rendering the rows first if asked)."""
    done = Reindexed()
    if rerender:
        done.rerendered = sum(_rerender_type(database, t, batch_size) for t, m in MAPPINGS.items() if not m.stored)
    after, cutoff = 0, _cutoff()
    while True:
        with database.write() as session:
            batch = list(session.execute(_batch_query(after, batch_size, cutoff)))
            if not batch:
                break
            done.rows += _reindex_batch(session, batch)
        done.versions += len(batch)
        after = batch[-1].id
        if progress is not None:
            progress(len(batch))
    with database.write() as session:
        _drop_stale_rows(session, cutoff)
    return done


def _batch_query(after: int, batch_size: int, cutoff: datetime) -> Any:
    columns = (ResourceHistory.id, ResourceHistory.resource_type, ResourceHistory.resource_id)
    return (
        select(*columns, ResourceHistory.version_id, ResourceHistory.resource)
        .where(_searchable(ResourceHistory, cutoff), ResourceHistory.id > after)
        .order_by(ResourceHistory.id)
        .limit(batch_size)
    )


def _reindex_batch(session: Session, batch: list[Any]) -> int:
    """Replace the index rows of the batch's versions; the number of rows written."""
    keys = [(v.resource_type, v.resource_id, v.version_id) for v in batch]
    for table in INDEX_TABLES:
        session.execute(delete(table).where(tuple_(table.resource_type, table.resource_id, table.version_id).in_(keys)))
    written: dict[Any, list[dict[str, Any]]] = {}
    for version in batch:
        key = {"resource_type": version.resource_type, "resource_id": version.resource_id}
        for table, rows in index_rows(version.resource).items():
            written.setdefault(table, []).extend({**key, "version_id": version.version_id, **r} for r in rows)
    for table, rows in written.items():
        session.execute(insert(table), rows)
    return sum(len(rows) for rows in written.values())


def _drop_stale_rows(session: Session, cutoff: datetime) -> None:
    """Delete index rows of versions that are gone, deletions, or replaced before ``cutoff``."""
    for table in INDEX_TABLES:
        h = aliased(ResourceHistory)
        still_seen = exists().where(
            same_version(h, table),
            _searchable(h, cutoff),
        )
        session.execute(delete(table).where(~still_seen))


# --- re-rendering from the internal rows ---------------------------------------------------------------------


def _rerender_type(database: Database, resource_type: str, batch_size: int) -> int:
    """Record a new version of every row of ``resource_type`` whose rendering differs from its current version."""
    changed, after = 0, ""
    mapping = MAPPINGS[resource_type]
    model: Any = mapping.model
    while True:
        with database.write() as session:
            rows = list(
                session.scalars(
                    mapping.select_rows()
                    .where(model.deleted_at.is_(None), model.fhir_id > after)
                    .order_by(model.fhir_id)
                    .limit(batch_size)
                )
            )
            if not rows:
                return changed
            changed += sum(1 for _ in _stale_rows(session, resource_type, rows))
        after = rows[-1].fhir_id


def _stale_rows(session: Session, resource_type: str, rows: list[Any]) -> Iterator[Any]:
    """The rows whose rendering differs from their stored current version, each marked changed (so that the
    write pipeline records a new version when the transaction ends: fhir_server.fhir.pipeline.finish)."""
    current = select(ResourceHistory.resource_id, ResourceHistory.resource).where(
        ResourceHistory.resource_type == resource_type,
        ResourceHistory.resource_id.in_([r.fhir_id for r in rows]),
        ResourceHistory.superseded_at.is_(None),
    )
    stored: dict[str, dict[str, Any] | None] = {
        resource_id: resource for resource_id, resource in session.execute(current)
    }
    mapping = MAPPINGS[resource_type]
    for row in rows:
        if mapping.to_fhir(row) != stored.get(row.fhir_id):
            flag_modified(row, "extra")
            yield row
