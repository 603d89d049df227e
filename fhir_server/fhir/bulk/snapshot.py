"""The export's data as of its ``transactionTime``, as SQL: the versions current then (the search engine's own
:func:`~fhir_server.fhir.search.sql.visible` rule, with the caller's access rules in the same statement), narrowed by
``_since``, ``_typeFilter`` and, at Patient and Group level, to the patients' compartments; and the deletions the
IG's ``deleted`` array lists (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#response---complete-status).

Rows come in keyset order (resource id) in batches of a bounded size, each batch its own short query: memory stays
flat however large a type, and no transaction stays open for the whole export.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, cast, false, or_, select, true
from sqlalchemy.orm import Session, aliased

from fhir_server.access.compartment import PatientTest, member_clauses
from fhir_server.access.context import AccessContext
from fhir_server.db import ResourceHistory, SearchReference
from fhir_server.db.engine import Database
from fhir_server.db.fhir import same_version
from fhir_server.errors import not_found
from fhir_server.fhir.bulk.plan import ExportPlan
from fhir_server.fhir.search.sql import Scope, criteria_clauses, local_reference, visible

RAW_TYPES = frozenset({"Binary", "Bundle"})
"""Types whose stored JSON is not what is served: a Binary's content lives beside it (a Bundle may hold Binaries):
they are decoded and expanded (fhir_server.fhir.binary_content) instead of copied as stored text."""


def scope_of(plan: ExportPlan) -> Scope:
    """The search scope of the export: its snapshot instant, base URL and the caller's access rules."""
    return Scope(as_of=plan.transaction_time, base_url=plan.base_url, restrict=plan.access.search_restriction())


def group_members(
    session: Session, access: AccessContext, group_id: str, as_of: datetime, base_url: str | None = None
) -> list[str]:
    """The ids of the Patients the Group ``group_id`` lists as ``member.entity`` as of ``as_of``; 404 when the Group
    is unknown then, deleted, or beyond the caller's reach (another clinic's: :func:`cohort_reader`). With
    ``base_url`` (the public base), an absolute reference to another server does not count."""
    scope = Scope(as_of=as_of, base_url=base_url or "", restrict=cohort_reader(access).search_restriction())
    g = aliased(ResourceHistory)
    found = session.scalar(select(g.id).where(g.resource_id == group_id, visible(g, "Group", scope, by_id=True)))
    if found is None:
        raise not_found(f"Group/{group_id} is not known")
    return list(session.scalars(_member_ids(group_id, scope, base_url is not None)).all())


def cohort_reader(access: AccessContext) -> AccessContext:
    """Who looks up the cohort of a Group-level export: the caller's clinic, not its scopes. The Group only names
    whose data is exported (each type's data then passes the caller's own rules); bulk clients ask for scopes of the
    types they export, not for Group (SMART's smart-fetch requests ``system/<type>.read`` of its ``--type`` list
    only). A caller bound to no clinic keeps its own rules; with authorization disabled the context is open."""
    if access.open or access.organization_id is None:
        return access
    return AccessContext(open=True, organization_id=access.organization_id)


def _member_ids(group_id: str, scope: Scope, local_only: bool = True) -> Select[Any]:
    """The Patient ids the Group's version current at ``scope.as_of`` lists as members (its ``member`` index)."""
    g, ref = aliased(ResourceHistory), aliased(SearchReference)
    return (
        select(ref.target_id)
        .where(
            g.resource_id == group_id,
            visible(g, "Group", scope, by_id=True),
            same_version(ref, g),
            ref.param == "member",
            ref.target_type == "Patient",
            local_reference(ref, scope) if local_only else true(),
        )
        .distinct()
    )


def _patients(plan: ExportPlan, scope: Scope) -> PatientTest | None:
    """Which patients' compartments a Patient or Group level export covers (None: every patient's)."""
    tests: list[PatientTest] = []
    if plan.level == "group" and plan.group_id is not None:
        cohort = replace(scope, restrict=cohort_reader(plan.access).search_restriction())
        members = _member_ids(plan.group_id, cohort)
        tests.append(lambda column: column.in_(members))
    if plan.patients is not None:
        wanted = list(plan.patients)
        tests.append(lambda column: column.in_(wanted))
    if not tests:
        return None
    return lambda column: and_(*(test(column) for test in tests))


def live_clause(h: Any, plan: ExportPlan, resource_type: str, scope: Scope) -> ColumnElement[bool]:
    """Version ``h`` is exported: current at the snapshot instant and visible to the caller, changed after ``since``,
    matching one of the type's filters, and (Patient, Group level) in a covered patient's compartment."""
    clauses = [visible(h, resource_type, scope)]
    if plan.since is not None:
        clauses.append(h.last_updated > plan.since)
    if queries := plan.filters.get(resource_type):
        clauses.append(or_(*(and_(*criteria_clauses(h, q.criteria, scope)) for q in queries)))
    if plan.level != "system":
        clauses.append(_in_compartments(h, resource_type, plan, scope))
    return and_(*clauses)


def _in_compartments(h: Any, resource_type: str, plan: ExportPlan, scope: Scope) -> ColumnElement[bool]:
    members = member_clauses(h, resource_type, _patients(plan, scope), scope.base_url)
    return or_(*members) if members else and_(false())


def deleted_clause(d: Any, last: Any, plan: ExportPlan, resource_type: str, scope: Scope) -> ColumnElement[bool]:
    """``d`` is a deletion of ``resource_type`` after ``since`` still in force at the snapshot instant, and ``last``
    the live version it ended, which the caller's access rules (clinic, compartment) and the level's compartments
    are applied to (a deletion itself holds no data to test)."""
    clauses = [
        d.resource_type == resource_type,
        d.method == "delete",
        d.last_updated <= scope.as_of,
        or_(d.superseded_at.is_(None), d.superseded_at > scope.as_of),
        last.resource_type == d.resource_type,
        last.resource_id == d.resource_id,
        last.version_id == d.version_id - 1,
    ]
    if plan.since is not None:
        clauses.append(d.last_updated > plan.since)
    if scope.restrict is not None and (rule := scope.restrict(last, resource_type)) is not None:
        clauses.append(rule)
    if plan.level != "system":
        clauses.append(_in_compartments(last, resource_type, plan, scope))
    return and_(*clauses)


def batches(
    database: Database, plan: ExportPlan, resource_type: str, batch_size: int, raw: bool
) -> Iterator[list[Any]]:
    """The exported versions of ``resource_type`` in resource id order, ``batch_size`` at a time, each batch read by
    its own query continuing after the last id of the one before: as stored JSON text when ``raw`` (copied to the
    file as is), else as decoded JSON."""
    scope = scope_of(plan)
    h = aliased(ResourceHistory)
    column = cast(h.resource, Text) if raw else h.resource
    statement = select(h.resource_id, column).where(live_clause(h, plan, resource_type, scope))
    for rows in _keyset(database, statement, h.resource_id, batch_size):
        yield [row[1] for row in rows]


def deleted_batches(database: Database, plan: ExportPlan, resource_type: str, batch_size: int) -> Iterator[list[Any]]:
    """The ids of the ``resource_type`` resources deleted after ``since`` (and not re-created by the snapshot
    instant) that the caller could see before, in id order, ``batch_size`` at a time."""
    scope = scope_of(plan)
    d, last = aliased(ResourceHistory), aliased(ResourceHistory)
    statement = select(d.resource_id).where(deleted_clause(d, last, plan, resource_type, scope))
    for rows in _keyset(database, statement, d.resource_id, batch_size):
        yield [row[0] for row in rows]


def _keyset(database: Database, statement: Select[Any], key: Any, batch_size: int) -> Iterator[list[Any]]:
    """The rows of ``statement`` in ``key`` order, ``batch_size`` at a time, each batch a query of its own continuing
    strictly after the last key of the one before (the key is unique among the rows)."""
    after: str | None = None
    while True:
        page = statement if after is None else statement.where(key > after)
        with database.read() as session:
            rows = session.execute(page.order_by(key).limit(batch_size)).all()
        if not rows:
            return
        yield list(rows)
        if len(rows) < batch_size:
            return
        after = rows[-1][0]
