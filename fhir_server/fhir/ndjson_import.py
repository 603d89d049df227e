"""Importing NDJSON resources through the write pipeline, in batches, line by line where a batch fails.

Each line is a resource written as an update (http://hl7.org/fhir/R4/http.html#update: PUT semantics, create-on-
update under the line's id), so the ids of an export are kept and importing the same files again changes nothing
(an update equal to the stored version records none). A line without an id is created under a new one. A line of a
``deleted`` file (a Bundle of DELETE requests, :func:`fhir_server.fhir.ndjson_files.is_deletions`) deletes what it
lists; a resource this server does not hold is reported ``absent``, not as a failure.

Every line is validated as a request body is (:func:`fhir_server.fhir.validation.check_resource`); the valid ones
are written ``batch_size`` at a time in one transaction: creates staged and recorded together as a transaction
Bundle's are (:mod:`fhir_server.fhir.bundles`), updates through :func:`fhir_server.fhir.repository.update`. When a
batch fails, nothing of it is kept and its lines are written again one per transaction, so every good line lands and
every bad one is reported with its OperationOutcome's message. A line whose only fault is a reference to a resource
not yet written is tried again after the others (an Observation naming another Observation further on, a cycle);
what still fails then is reported. Each line's fate reaches ``report`` as an :class:`Outcome`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.db.engine import Database
from fhir_server.db.mrn import expect_patients
from fhir_server.errors import FhirError, collision
from fhir_server.fhir import pipeline, repository
from fhir_server.fhir.ndjson_files import Line
from fhir_server.fhir.ndjson_prepare import Action, Item, Outcome, message_of, prepared
from fhir_server.fhir.references import literal_references, prefetch
from fhir_server.fhir.validation import check_resource
from mappings.registry import MAPPINGS

DEFAULT_BATCH = 500
FLUSH_EVERY = 50
"""Staged creates written to the database (not yet versioned) every this many lines: noting a create's changes
walks every row still pending, so a batch of n unflushed creates would cost n^2/2 steps."""


class BatchError(Exception):
    """A batch rolled back: the line that failed (None: the database refused the commit) and why."""

    def __init__(self, item: Item | None, error: FhirError) -> None:
        super().__init__(str(error))
        self.item, self.error = item, error


def _missing_reference(error: FhirError) -> bool:
    """True when every issue is a reference naming nothing yet (fhir_server.fhir.references.missing)."""
    return bool(error.issues) and all(i.code == "not-found" and "does not exist" in i.diagnostics for i in error.issues)


class Importer:
    """Writes prepared lines in batches of ``batch_size`` as ``access`` (the command line's open access, confined to
    one clinic when it names one); every line's :class:`Outcome` goes to ``report``, every notice (a batch retried
    line by line) to ``notice``."""

    def __init__(
        self,
        database: Database,
        access: AccessContext,
        batch_size: int,
        report: Callable[[Outcome], None],
        notice: Callable[[str], None],
        pool: Executor | None = None,
        workers: int = 0,
    ) -> None:
        self.database, self.access, self.batch_size = database, access, batch_size
        self.report, self.notice, self.pool, self.workers = report, notice, pool, workers
        self.deferred: list[Item] = []

    def run(self, lines: Iterable[Line]) -> None:
        """Check ``lines`` (in ``pool``'s processes when given, while earlier batches are written) and write the valid
        ones in batches; lines deferred for a missing reference wait for :meth:`finish`."""
        for chunk in prepared(lines, self.batch_size, self.pool, self.workers):
            batch = [p for p in chunk if isinstance(p, Item)]
            for outcome in chunk:
                if isinstance(outcome, Outcome):
                    self.report(outcome)
            if batch:
                self._write_batch(batch)

    def finish(self) -> None:
        """Retry the deferred lines until a round writes none of them. What is left may be a reference cycle (an
        Appointment's supportingInformation naming its intake QuestionnaireResponse, which names the Appointment):
        each line whose missing references all name other lines left is then written first without the elements
        holding them (:func:`first_pass`), and whole in the next rounds. Report the rest as failed (a first pass
        of theirs deleted again)."""
        first_passes: set[tuple[str, str | None]] = set()
        while self.deferred:
            pending, self.deferred = self.deferred, []
            for item in pending:
                self._write_alone(item, defer=True)
            if len(self.deferred) < len(pending):
                continue
            if first_passes:
                break
            waiting = {f"{i.resource_type}/{i.resource_id}" for i in self.deferred}
            cycles = [i for i in self.deferred if missing_targets(i) <= waiting]
            first_passes = {(i.resource_type, i.resource_id) for i in cycles if self._write_first_pass(i)}
            if not first_passes:
                break
        for item in self.deferred:
            self._give_up(item, (item.resource_type, item.resource_id) in first_passes)
        self.deferred = []

    def _write_first_pass(self, item: Item) -> bool:
        """Write ``item`` without the elements holding its missing references; False when that is no valid resource
        or fails too (its whole write then reports why)."""
        resource = first_pass(item)
        if resource is None:
            return False
        try:
            check_resource(resource)
            self._transaction(lambda session: write_batch(session, self.access, [Item(item.line, resource, [])]))
        except (FhirError, BatchError):
            return False
        return True

    def _give_up(self, item: Item, first_pass_written: bool) -> None:
        assert item.error is not None
        message = message_of(item.error)
        if first_pass_written and item.resource_id is not None:
            resource_type, resource_id = item.resource_type, item.resource_id
            with self.database.write() as session:
                repository.delete(session, self.access, resource_type, resource_id)
            message += " (its first pass, written without those references, was deleted again)"
        self.report(
            Outcome(item.line, item.resource_type, item.resource_id, "failed", message, "after the other lines")
        )

    def _write_batch(self, batch: list[Item]) -> None:
        try:
            outcomes = self._transaction(lambda session: write_batch(session, self.access, batch))
        except BatchError as failed:
            where = f"{failed.item.line.where}: " if failed.item is not None else ""
            self.notice(
                f"{where}{message_of(failed.error)}; the batch of {len(batch)} lines from {batch[0].line.where} "
                "was rolled back and its lines are written one at a time"
            )
            for item in batch:
                self._write_alone(item, defer=True, retried="alone")
            return
        for outcome in outcomes:
            self.report(outcome)

    def _write_alone(self, item: Item, *, defer: bool, retried: str = "") -> None:
        try:
            outcomes = self._transaction(lambda session: write_batch(session, self.access, [item]))
        except BatchError as failed:
            if defer and _missing_reference(failed.error):
                item.error = failed.error
                self.deferred.append(item)
                return
            message = message_of(failed.error)
            self.report(Outcome(item.line, item.resource_type, item.resource_id, "failed", message, retried))
            return
        for outcome in outcomes:
            self.report(Outcome(outcome.line, outcome.resource_type, outcome.resource_id, outcome.action, "", retried))

    def _transaction(self, work: Callable[[Session], list[Outcome]]) -> list[Outcome]:
        """``work`` in one write transaction; a unique-key collision (the id taken in another clinic, a race)
        fails the batch as the 409 it would be over HTTP."""
        try:
            with self.database.write() as session:
                return work(session)
        except IntegrityError as exc:
            raise BatchError(None, collision()) from exc


def missing_targets(item: Item) -> set[str]:
    """The references (``Type/id``) that the item's last write found naming nothing."""
    if item.resource is None or item.error is None:
        return set()
    where = {e for i in item.error.issues for e in i.expression}
    return {reference for expression, reference in literal_references(item.resource) if expression in where}


def first_pass(item: Item) -> dict[str, Any] | None:
    """The item's resource without the top-level elements that hold the references its last write found missing
    (named by the issues' expressions: ``Appointment.supportingInformation[0]`` drops ``supportingInformation``);
    None when there is nothing such to drop."""
    if item.resource is None or item.error is None:
        return None
    dropped = {e.split(".")[1].split("[")[0] for i in item.error.issues for e in i.expression if "." in e}
    if not dropped or dropped & {"id", "resourceType", "meta"}:
        return None
    return {k: v for k, v in item.resource.items() if k not in dropped}


def write_batch(session: Session, access: AccessContext, batch: list[Item]) -> list[Outcome]:
    """Write ``batch`` in ``session``: new resources staged (recorded together when the transaction finishes),
    known ones updated; BatchError names the first line that failed."""
    resources = [i.resource for i in batch if i.resource is not None]
    known = _stored_ids(session, resources)
    prefetch(session, resources, None)  # every reference's target in one query per type, not one per resource
    expect_patients(
        session, sum(1 for i in batch if i.resource_type == "Patient" and ("Patient", i.resource_id) not in known)
    )
    outcomes: list[Outcome] = []
    for number, item in enumerate(batch, start=1):
        try:
            outcomes.extend(_write_item(session, access, item, known))
        except FhirError as exc:
            raise BatchError(item, exc) from None
        if number % FLUSH_EVERY == 0:
            pipeline.flush(session)  # each staged create notes every pending row: keep them few
    return outcomes


def _write_item(session: Session, access: AccessContext, item: Item, known: set[tuple[str, str]]) -> list[Outcome]:
    if item.resource is None:
        return [_delete(session, access, item, t, i) for t, i in item.deletions]
    resource_type, resource_id = item.resource_type, item.resource_id
    if resource_id is not None and (resource_type, resource_id) in known:
        written = repository.update(session, access, item.resource, resource_id, base_url=None)
        action: Action = "created" if written.created else "updated"
        return [Outcome(item.line, resource_type, resource_id, action)]
    autoflush, session.autoflush = session.autoflush, True  # as a transaction's staged creates (bundles._stage)
    try:
        row = repository.add(session, access, item.resource, resource_id, base_url=None)
    finally:
        session.autoflush = autoflush
    known.add((resource_type, row.fhir_id))  # the same id again further on is an update
    return [Outcome(item.line, resource_type, row.fhir_id, "created")]


def _delete(session: Session, access: AccessContext, item: Item, resource_type: str, resource_id: str) -> Outcome:
    row = repository.load_row(session, resource_type, resource_id)
    if row is None:
        return Outcome(item.line, resource_type, resource_id, "absent", "not held by this server")
    deleted = repository.delete(session, access, resource_type, resource_id)
    if not deleted:
        return Outcome(item.line, resource_type, resource_id, "absent", "already deleted")
    return Outcome(item.line, resource_type, resource_id, "deleted")


def _stored_ids(session: Session, resources: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The (type, id) pairs among ``resources`` this server holds a row for (deleted or not): one query per type."""
    wanted: dict[str, set[str]] = {}
    for resource in resources:
        if isinstance(resource.get("id"), str):
            wanted.setdefault(resource["resourceType"], set()).add(resource["id"])
    known: set[tuple[str, str]] = set()
    for resource_type, ids in wanted.items():
        model = MAPPINGS[resource_type].model
        query = MAPPINGS[resource_type].select_rows().where(model.fhir_id.in_(ids)).with_only_columns(model.fhir_id)
        known.update((resource_type, fhir_id) for fhir_id in session.scalars(query))
    return known
