"""Medical record numbers: ``CLI-YYYY-NNNNN``, per clinic and year, never reused, safe under concurrency."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fhir_server.db.people import MrnCounter

MRN_PREFIX = "CLI"


def allocate_mrn(session: Session, organization_id: uuid.UUID, year: int) -> str:
    """Take the next MRN of ``organization_id`` for ``year``.

    One atomic upsert bumps the counter row and returns the new value: PostgreSQL row-locks it until the
    caller's transaction ends, so concurrent transactions queue and each gets its own number; SQLite has one
    writer at a time. A rolled-back transaction also rolls back its number, which no committed patient holds.
    """
    dialect = session.get_bind().dialect.name
    insert: postgresql.Insert | sqlite.Insert = (
        postgresql.insert(MrnCounter) if dialect == "postgresql" else sqlite.insert(MrnCounter)
    )
    statement = (
        insert.values(organization_id=organization_id, year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=[MrnCounter.organization_id, MrnCounter.year],
            set_={"last_value": MrnCounter.last_value + 1},
        )
        .returning(MrnCounter.last_value)
    )
    number: int = session.execute(statement).scalar_one()
    return format_mrn(year, number)


def format_mrn(year: int, number: int) -> str:
    return f"{MRN_PREFIX}-{year:04d}-{number:05d}"
