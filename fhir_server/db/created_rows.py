"""Which rows the current transaction of a session inserted.

A row inserted by the current transaction can only have child rows (an appointment's cancellation, the intake
forms linked to it) that the same transaction wrote, which the session holds: rendering it needs no query for them.
The write pipeline notes each new row in the transaction's WriteState; the note ends with the transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from fhir_server.db.write_session import WriteState, write_state


def note_created(state: WriteState, row: object) -> None:
    state.created[id(row)] = row  # the row itself is held, so its id() stays its own


def created_in_transaction(session: Session, row: object) -> bool:
    state = write_state(session)
    return state is not None and id(row) in state.created
