"""The sessions of write transactions and the one typed object that holds a transaction's bookkeeping.

:meth:`fhir_server.db.engine.Database.write` opens one :class:`WriteSession` per transaction; its ``state`` (a
:class:`WriteState`) is created with the session and dies with it. The write pipeline
(:mod:`fhir_server.fhir.pipeline`) fills it step by step; nothing else of the transaction's bookkeeping is kept
anywhere (no ``session.info`` keys, no module globals).

Two guards hold the pipeline to its contract (:func:`refuse_unnoted_changes`, :func:`refuse_unrecorded_versions`):
a served row (a :class:`~fhir_server.db.base.FhirResourceMixin`) changed behind the pipeline's back cannot be
flushed, and a change the pipeline noted cannot be committed without its version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fhir_server.db.base import FhirResourceMixin
from fhir_server.errors import Issue

Row = dict[str, Any]


@dataclass
class WriteState:
    """What one write transaction keeps between the pipeline's steps.

    ``pending``: rows changed since their last recorded version (``id(row)`` -> row, method), each bumped once;
    ``created``: rows this transaction inserted; ``recorded``: (type, id) -> the resource as last recorded (None for
    a deletion); ``index_rows``: search index rows queued for writing, by table; ``rows``: (type, id) -> row this
    transaction wrote or looked up (references); ``default_clinic``: the clinic a write naming none goes to, once
    known (fhir_server.fhir.default_clinic);
    ``mrn_blocks``/``mrn_expected``/``mrn_inside``: medical record numbers taken ahead, announced, and clinics whose
    counter is this transaction's own (fhir_server.db.mrn); ``binary_contents``: Binary id -> the content of its next
    version (fhir_server.fhir.binary_content);
    ``lenient``: the request asked for ``Prefer: handling=lenient`` (http://hl7.org/fhir/R4/http.html#prefer): a rule
    that cannot be checked (a QuestionnaireResponse naming a Questionnaire not held here) is waived, with a
    warning in ``warnings`` (fhir_server.intake.questionnaires);
    ``classified``: ``id(resource)`` -> (the resource, base URL, its references classified) for resources whose
    references a batch looked up ahead (fhir_server.fhir.references.prefetch), each taken once by their write.
    """

    pending: dict[int, tuple[FhirResourceMixin, str]] = field(default_factory=dict)
    created: dict[int, object] = field(default_factory=dict)
    recorded: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    index_rows: dict[type[Any], list[Row]] = field(default_factory=dict)
    rows: dict[tuple[str, str], Any] = field(default_factory=dict)
    default_clinic: uuid.UUID | None = None
    mrn_blocks: dict[tuple[uuid.UUID, int], list[int]] = field(default_factory=dict)
    mrn_expected: int = 1
    mrn_inside: set[uuid.UUID] = field(default_factory=set)
    binary_contents: dict[str, Any] = field(default_factory=dict)
    lenient: bool = False
    warnings: list[Issue] = field(default_factory=list)
    classified: dict[int, tuple[Any, str | None, Any]] = field(default_factory=dict)


class WriteSession(Session):
    """A session of :meth:`Database.write`: one transaction, its :class:`WriteState`, the engine medical record
    number counters are taken on (``counters``; None on SQLite, whose one writer needs none) and the clinic a write
    naming none goes to as configured (``default_clinic``: its id, FHIR id, NPI or name; None: the only clinic)."""

    def __init__(
        self, *args: Any, counters: Engine | None = None, default_clinic: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.counters = counters
        self.default_clinic = default_clinic
        self.state = WriteState()


def write_state(session: Session) -> WriteState | None:
    """The transaction state of a write session; None for a read session (which writes nothing)."""
    return session.state if isinstance(session, WriteSession) else None


def state_of(session: Session) -> WriteState:
    """The transaction state of a write session; TypeError for any other session (writes run in Database.write)."""
    state = write_state(session)
    if state is None:
        raise TypeError("a write step ran outside a write transaction (Database.write)")
    return state


class UnversionedChangeError(RuntimeError):
    """A served row was changed outside the write pipeline: it would be stored without a FHIR version (a bug)."""


def refuse_unnoted_changes(session: Session, _context: Any, _instances: Any) -> None:
    """``before_flush`` of write sessions: refuse to write a served row the pipeline has not noted as changed."""
    state = write_state(session)
    if state is None:
        return
    changed = [r for r in session.dirty if _served(r) and session.is_modified(r, include_collections=False)]
    for row in chain(session.new, session.deleted, changed):
        if _served(row) and id(row) not in state.pending:
            name = f"{type(row).__name__} {row.fhir_id}"
            raise UnversionedChangeError(f"{name} changed outside the write pipeline (fhir_server.fhir.pipeline)")


def _served(row: object) -> bool:
    return isinstance(row, FhirResourceMixin)


def refuse_unrecorded_versions(session: Session) -> None:
    """``before_commit`` of write sessions: refuse to commit a change whose version the pipeline never recorded."""
    state = write_state(session)
    if state is not None and state.pending:
        names = ", ".join(sorted(f"{type(row).__name__} {row.fhir_id}" for row, _ in state.pending.values()))
        raise UnversionedChangeError(f"committing without recording the versions of {names}")
