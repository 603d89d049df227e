"""Running a parsed search: the page of matches in a stable order, keyset-paged, with the total.

Order: the ``_sort`` keys (each as "is missing" then the value, so resources without one come last), then the
resource id; a page continues strictly after (or, for ``previous``, before) the keys of the row it starts from.
The cursor state is a plain dict; fhir_server.fhir.cursors signs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from fhir_server.access.compartment import in_compartment
from fhir_server.db import ResourceHistory
from fhir_server.db.fhir import same_version
from fhir_server.db.types import UtcDateTime
from fhir_server.fhir.search.dates import MIN
from fhir_server.fhir.search.params import SearchQuery
from fhir_server.fhir.search.registry import parameters_for
from fhir_server.fhir.search.sql import TABLES, Scope, criteria_clauses, visible
from fhir_server.fhir.search.totals import total

_SORT_COLUMN = {
    "string": "normalized",
    "token": "code",
    "reference": "target_id",
    "uri": "uri",
    "number": "value",
    "quantity": "value",
}


@dataclass(frozen=True)
class SortColumn:
    expr: Any
    descending: bool
    kind: str  # "flag" | "text" | "date" | "number"


@dataclass
class Page:
    """One page of matches (current JSON of each), the total (fhir_server.fhir.search.totals: None when not asked or
    not counted), and the states of the next/previous page."""

    resources: list[dict[str, Any]]
    total: int | None
    next_state: dict[str, Any] | None
    previous_state: dict[str, Any] | None
    keys: list[list[Any]] = field(default_factory=list)
    """The order key of each resource (as a cursor holds it), for merging with matches found elsewhere."""


def matches_clause(h: Any, query: SearchQuery, scope: Scope) -> ColumnElement[bool]:
    clauses = [visible(h, query.resource_type, scope), *criteria_clauses(h, query.criteria, scope)]
    if query.compartment is not None:
        clauses.append(in_compartment(h, query.resource_type, query.compartment, scope.base_url))
    return and_(*clauses)


def execute(session: Session, query: SearchQuery, scope: Scope, state: dict[str, Any] | None) -> Page:
    h = aliased(ResourceHistory)
    where = matches_clause(h, query, scope)
    columns = _sort_columns(h, query)
    if scope.code_point_order and session.get_bind().dialect.name == "postgresql":
        columns = [_by_code_point(c) for c in columns]
    backward = state is not None and state.get("dir") == "before"
    ordered = [SortColumn(c.expr, c.descending != backward, c.kind) for c in columns]
    statement = select(h.resource, *(c.expr for c in columns)).where(where)
    if state is not None:
        statement = statement.where(_after(ordered, _values(columns, state["key"])))
    order = [c.expr.desc() if c.descending else c.expr.asc() for c in ordered]
    wanted = 0 if query.summary == "count" else query.count
    rows = list(session.execute(statement.order_by(*order).limit(wanted + 1)).all()) if wanted else []
    more = len(rows) > wanted
    rows = rows[:wanted]
    if backward:
        rows.reverse()
    resources = [row[0] for row in rows]
    keys = [[_dump(v) for v in row[1:]] for row in rows]
    whole = len(rows) if wanted and state is None and not more else None
    count = total(session, h, where, query, whole)
    as_of = scope.as_of.isoformat()
    next_state = previous_state = None
    if rows and (more or backward):
        next_state = {"as_of": as_of, "dir": "after", "key": keys[-1]}
    if rows and state is not None and (more or not backward):
        previous_state = {"as_of": as_of, "dir": "before", "key": keys[0]}
    return Page(resources, count, next_state, previous_state, keys)


def _sort_columns(h: Any, query: SearchQuery) -> list[SortColumn]:
    columns: list[SortColumn] = []
    for code, descending in query.sort:
        value, kind = _sort_value(h, query.resource_type, code, descending)
        columns.append(SortColumn(case((value.is_(None), 1), else_=0), False, "flag"))
        columns.append(SortColumn(func.coalesce(value, _sentinel(kind)), descending, kind))
    columns.append(SortColumn(h.resource_id, False, "text"))
    return columns


def _by_code_point(column: SortColumn) -> SortColumn:
    """``column`` compared by code point (PostgreSQL's ``C`` collation; SQLite's default already is)."""
    if column.kind != "text":
        return column
    return SortColumn(column.expr.collate("C"), column.descending, column.kind)


def _sort_value(h: Any, resource_type: str, code: str, descending: bool) -> tuple[Any, str]:
    if code == "_id":
        return h.resource_id, "text"
    if code == "_lastUpdated":
        return h.last_updated, "date"
    param = parameters_for(resource_type)[code]
    table = aliased(TABLES[param.type])
    if param.type == "date":
        column, kind = (table.high if descending else table.low), "date"
    else:
        column = getattr(table, _SORT_COLUMN[param.type])
        kind = "number" if param.type in {"number", "quantity"} else "text"
    aggregate = func.max(column) if descending else func.min(column)
    subquery = select(aggregate).where(
        same_version(table, h),
        table.param == code,
    )
    return subquery.scalar_subquery(), kind


def _sentinel(kind: str) -> Any:
    if kind == "date":
        return literal(MIN, UtcDateTime())
    if kind == "number":
        return literal(Decimal(0))
    return literal("")


def _after(columns: list[SortColumn], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``columns`` (lexicographic)."""
    alternatives = []
    for i, column in enumerate(columns):
        equal = [c.expr == v for c, v in zip(columns[:i], values[:i], strict=True)]
        beyond = column.expr < values[i] if column.descending else column.expr > values[i]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)


def _dump(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _values(columns: list[SortColumn], key: list[Any]) -> list[Any]:
    if len(key) != len(columns):
        raise ValueError("cursor does not fit this query")
    loaded: list[Any] = []
    for column, value in zip(columns, key, strict=True):
        if column.kind == "date":
            loaded.append(datetime.fromisoformat(value))
        elif column.kind == "number":
            loaded.append(Decimal(value))
        else:
            loaded.append(value)
    return loaded
