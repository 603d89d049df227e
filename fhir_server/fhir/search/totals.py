"""``Bundle.total`` of a searchset under each ``_total`` (http://hl7.org/fhir/R4/search.html#total).

Counting every match costs as much as the search without its page limit (a name prefix matching 3% of a million
patients reads 33,000 index rows to count them, against ~600 for its first page), so the count is made only when
the client asks for it. ``Bundle.total`` is optional (0..1), and a first page that holds every match needs no
count: its length is the total. Beyond that:

- ``_total=accurate``, ``_summary=count`` and ``_count=0`` (whose answer is the count): every match is counted;
- ``_total=estimate``: matches are counted up to :data:`COUNT_LIMIT` (exact up to there); beyond it, PostgreSQL's
  planner estimate (never below ``COUNT_LIMIT + 1``; other databases count exactly);
- ``_total=none``, and no ``_total`` when the first page does not hold every match: no total (as HAPI FHIR and
  Medplum do for large results).
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
"""Matches counted, at most, under ``_total=estimate``."""


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>`` (PostgreSQL): the plan, with the planner's row estimate, not run."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _explain_postgresql(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler.process(element.statement, **kw))


def mode(query: SearchQuery) -> str:
    """``accurate``, ``estimate``, ``none`` or ``free`` (the default: only a total known without counting)."""
    if query.summary == "count":
        return "estimate" if query.total == "estimate" else "accurate"
    if query.total is not None:
        return query.total
    return "accurate" if query.count == 0 else "free"


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
    if wanted != "estimate":
        return None
    counted = _count(session, select(literal(1)).select_from(h).where(where).limit(COUNT_LIMIT + 1))
    return counted if counted <= COUNT_LIMIT else _estimate(session, h, where)


def _count(session: Session, matches: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(matches.subquery())) or 0)


def _estimate(session: Session, h: Any, where: ColumnElement[bool]) -> int:
    matches = select(literal(1)).select_from(h).where(where)
    if session.get_bind().dialect.name != "postgresql":
        return _count(session, matches)
    plan = session.execute(_Explain(matches)).scalar_one()
    return max(COUNT_LIMIT + 1, int(plan[0]["Plan"]["Plan Rows"]))
