"""``Bundle.total`` of a searchset under each ``_total`` (http://hl7.org/fhir/R4/search.html#total).

Counting every match costs as much as the search without its page limit, so it is done only when the client asks
for it: ``_total=accurate`` (and ``_summary=count``, whose answer is the count) always counts exactly. By default,
and under ``_total=estimate``, matches are counted up to :data:`COUNT_LIMIT`: a total up to that many is exact;
beyond it the default leaves ``Bundle.total`` out (it is optional, 0..1) and ``estimate`` gives PostgreSQL's
planner estimate (never below ``COUNT_LIMIT + 1``; other databases count exactly). ``_total=none`` gives no total.
A first page that holds every match needs no count at all: its length is the total.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.selectable import Select

from fhir_server.fhir.search.params import SearchQuery

COUNT_LIMIT = 1000
"""Matches counted, at most, when the client did not ask for an accurate total."""


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>`` (PostgreSQL): the plan, with the planner's row estimate, not run."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _explain_postgresql(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler.process(element.statement, **kw))


def mode(query: SearchQuery) -> str:
    """``accurate``, ``estimate``, ``capped`` (the default) or ``none``."""
    if query.summary == "count":
        return "estimate" if query.total == "estimate" else "accurate"
    return query.total or "capped"


def total(session: Session, h: Any, where: ColumnElement[bool], query: SearchQuery, whole: int | None) -> int | None:
    """``Bundle.total`` for the versions ``h`` meeting ``where``; ``whole`` is the number of matches when the page
    already holds them all (a first page without a next one), None otherwise."""
    wanted = mode(query)
    if wanted == "none":
        return None
    if whole is not None:
        return whole
    if wanted == "accurate":
        return _count(session, select(literal(1)).select_from(h).where(where))
    counted = _count(session, select(literal(1)).select_from(h).where(where).limit(COUNT_LIMIT + 1))
    if counted <= COUNT_LIMIT:
        return counted
    return _estimate(session, h, where) if wanted == "estimate" else None


def _count(session: Session, matches: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(matches.subquery())) or 0)


def _estimate(session: Session, h: Any, where: ColumnElement[bool]) -> int:
    matches = select(literal(1)).select_from(h).where(where)
    if session.get_bind().dialect.name != "postgresql":
        return _count(session, matches)
    plan = session.execute(_Explain(matches)).scalar_one()
    return max(COUNT_LIMIT + 1, int(plan[0]["Plan"]["Plan Rows"]))
