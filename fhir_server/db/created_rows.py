"""Which rows the current transaction of a session inserted.

A row inserted by the current transaction can only have child rows (an appointment's cancellation, the intake
forms linked to it) that the same transaction wrote, which the session holds: rendering it needs no query for them.
The versioning hook notes each new row; the note ends with the transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

_CREATED = "fhir_created_rows"


def note_created(session: Session, row: object) -> None:
    session.info.setdefault(_CREATED, {})[id(row)] = row  # the row itself is held, so its id() stays its own


def created_in_transaction(session: Session, row: object) -> bool:
    return id(row) in session.info.get(_CREATED, {})


def forget_created(session: Session) -> None:
    session.info.pop(_CREATED, None)
