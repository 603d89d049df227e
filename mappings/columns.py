"""What the internal tables can hold, checked before a write: string lengths and unique keys.

A value a column cannot hold must answer 422 naming its FHIR element (http://hl7.org/fhir/R4/http.html#update:
"the proposed resource violated ... server business rules"), not fail in the database: PostgreSQL refuses an
over-long ``VARCHAR(n)`` (a 500) where SQLite silently keeps it, and a taken unique key surfaces as a bare 409 that
names nothing. Both rules are read from the table definitions (``String(n)``, ``UniqueConstraint``), so a column
added later is covered without another check.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, UniqueConstraint, and_, select
from sqlalchemy.orm import Session


def length_limit(model: Any, attr: str) -> int | None:
    """The length of ``model.attr`` when it is a ``String(n)`` column (None otherwise)."""
    column = model.__table__.columns.get(attr)
    if column is None or not isinstance(column.type, String):
        return None
    length = column.type.length
    return length if isinstance(length, int) else None


def too_long(model: Any, attr: str, value: Any) -> str | None:
    """Why ``value`` does not fit ``model.attr`` (None when it does)."""
    limit = length_limit(model, attr)
    if isinstance(value, str) and limit is not None and len(value) > limit:
        return f"at most {limit} characters are kept here (got {len(value)})"
    return None


def unique_keys(model: Any, attr: str) -> list[tuple[str, ...]]:
    """The unique keys (column names) of ``model``'s table that include ``attr``."""
    return [
        tuple(column.name for column in constraint.columns)
        for constraint in model.__table__.constraints
        if isinstance(constraint, UniqueConstraint) and attr in constraint.columns
    ]


def held_elsewhere(session: Session, row: Any, attr: str) -> bool:
    """True when another row (deleted or not) already holds ``row``'s value of ``attr`` under one of its unique
    keys (with the other columns of that key, such as the clinic of a medical record number)."""
    model = type(row)
    for key in unique_keys(model, attr):
        values = {name: getattr(row, name) for name in key}
        if any(value is None for value in values.values()):
            continue
        if any(_holds(other, row, values) for other in session.new):  # written earlier in this transaction
            return True
        same = and_(*(getattr(model, name) == value for name, value in values.items()))
        query = select(model.id).where(same)
        if row.id is not None:
            query = query.where(model.id != row.id)
        with session.no_autoflush:
            if session.scalars(query.limit(1)).first() is not None:
                return True
    return False


def _holds(other: Any, row: Any, values: dict[str, Any]) -> bool:
    return other is not row and type(other) is type(row) and all(getattr(other, k) == v for k, v in values.items())
