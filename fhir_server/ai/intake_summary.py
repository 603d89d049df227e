"""The AI summary of an intake form (QuestionnaireResponse): prepared from its answers, kept in
``ai_intake_summaries``, every model call audited.

The steps of a request (``$summarize``, fhir_server.fhir.operations.summarize) are separate so that no database
transaction stays open while the model thinks: :func:`prepare` reads the form (in a read session) and builds the
messages from its answers only (fhir_server.ai.prompt); the model is called (fhir_server.ai.chat_model);
:func:`record` then stores the outcome and its audit event in one write transaction. A failure is recorded as
status ``failed``; the summary generated before it, if any, is kept. The audit event (``audit_events``, action
``ai-summary``) says who asked, about which response and patient, which model, how it ended and after how many
attempts; never what was sent or answered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from fhir_server.access.context import AccessContext
from fhir_server.ai.chat_model import ModelOutcome
from fhir_server.ai.prompt import answered, messages
from fhir_server.ai.redaction import Redactor
from fhir_server.auth.audit_events import Origin
from fhir_server.db import AiIntakeSummary, AuditEvent, IntakeForm, Patient, ResourceHistory
from fhir_server.db.types import utcnow
from fhir_server.errors import not_found, unprocessable
from fhir_server.fhir import repository
from fhir_server.intake.questionnaires import find_questionnaire, questionnaire_resource

RESOURCE_TYPE = "QuestionnaireResponse"
AUDIT_ACTION = "ai-summary"
USABLE_STATUSES = ("generated", "edited")
"""Statuses of a stored summary that hold one (``failed`` may hold an older one; ``generating`` none yet)."""


@dataclass(frozen=True)
class StoredSummary:
    """A summary as stored, with whether the response changed after it was generated (``outdated``)."""

    response_id: str
    status: str
    model: str | None
    generated_at: datetime | None
    summary: str | None
    patient_concerns: tuple[str, ...]
    medications: tuple[str, ...]
    allergies: tuple[str, ...]
    key_notes: tuple[str, ...]
    outdated: bool

    @property
    def usable(self) -> bool:
        return self.status in USABLE_STATUSES


@dataclass(frozen=True)
class SummaryJob:
    """What a model call needs and what recording it needs: the form, its patient and clinic, the messages."""

    form_id: uuid.UUID
    response_id: str
    patient_id: uuid.UUID | None
    organization_id: uuid.UUID
    messages: list[dict[str, str]]
    stored: StoredSummary | None


@dataclass(frozen=True)
class Caller:
    """Who asked, as the audit trail records it."""

    user_id: uuid.UUID | None
    client_id: str | None
    origin: Origin


def _form(session: Session, access: AccessContext, response_id: str) -> tuple[IntakeForm, dict[str, Any]]:
    """The intake form behind a QuestionnaireResponse the caller may read, and the resource as served (404 unknown
    or hidden, 410 deleted)."""
    served = repository.read(session, access, RESOURCE_TYPE, response_id)
    if not _visible(session, access, response_id):
        raise not_found(f"{RESOURCE_TYPE}/{response_id} is not known")
    return session.scalars(select(IntakeForm).where(IntakeForm.fhir_id == response_id)).one(), served


def _visible(session: Session, access: AccessContext, response_id: str) -> bool:
    """Whether the current version of the response meets the caller's access rule (the SQL rule of a search)."""
    rule = access.search_restriction("read")
    h = aliased(ResourceHistory)
    condition = rule(h, RESOURCE_TYPE) if rule is not None else None
    if condition is None:
        return True
    current = (h.resource_type == RESOURCE_TYPE, h.resource_id == response_id, h.superseded_at.is_(None))
    return session.scalar(select(h.resource_id).where(*current, condition)) is not None


def _summary_of(session: Session, form: IntakeForm) -> StoredSummary | None:
    row = session.scalars(select(AiIntakeSummary).where(AiIntakeSummary.intake_form_id == form.id)).first()
    return None if row is None else _stored(row, form)


def _stored(row: AiIntakeSummary, form: IntakeForm) -> StoredSummary:
    generated = row.generated_at
    return StoredSummary(
        response_id=form.fhir_id,
        status=row.status,
        model=row.model,
        generated_at=generated,
        summary=row.summary,
        patient_concerns=tuple(row.concerns or ()),
        medications=tuple(row.medications or ()),
        allergies=tuple(row.allergies or ()),
        key_notes=tuple(row.key_notes or ()),
        outdated=generated is not None and form.last_updated > generated,
    )


def stored_summary(session: Session, access: AccessContext, response_id: str) -> StoredSummary | None:
    """The stored summary of a response the caller may read (None when there is none yet)."""
    return _summary_of(session, _form(session, access, response_id)[0])


def prepare(session: Session, access: AccessContext, response_id: str) -> SummaryJob:
    """The model request for a response: its answers, labelled and redacted (422 when it has none)."""
    form, served = _form(session, access, response_id)
    questionnaire = find_questionnaire(session, form.questionnaire, form.organization_id)
    definitions = questionnaire_resource(questionnaire).get("item") if questionnaire is not None else None
    redact = Redactor.for_patient(session.get(Patient, form.patient_id) if form.patient_id is not None else None)
    entries = answered(definitions, served.get("item"), redact)
    if not entries:
        raise unprocessable(f"{RESOURCE_TYPE}/{response_id} has no answers to summarize", f"{RESOURCE_TYPE}.item")
    return SummaryJob(
        form.id, response_id, form.patient_id, form.organization_id, messages(entries), _summary_of(session, form)
    )


def record(session: Session, job: SummaryJob, outcome: ModelOutcome, model: str, caller: Caller) -> StoredSummary:
    """Store the outcome of a model call (the summary, or ``failed``) and its audit event."""
    form = session.get(IntakeForm, job.form_id)
    if form is None:
        raise not_found(f"{RESOURCE_TYPE}/{job.response_id} is not known")
    row = session.scalars(select(AiIntakeSummary).where(AiIntakeSummary.intake_form_id == form.id)).first()
    if row is None:
        row = AiIntakeSummary(intake_form_id=form.id, model=model)
        session.add(row)
    result = outcome.result
    if result is None:
        row.status = "failed"
    else:
        row.summary, row.concerns, row.key_notes = result.summary, result.patient_concerns, result.key_notes
        row.medications, row.allergies = result.medications, result.allergies
        row.model, row.status, row.generated_at = model, "generated", utcnow()
    session.add(_audit_event(job, outcome, model, caller))
    session.flush()
    return _stored(row, form)


def _audit_event(job: SummaryJob, outcome: ModelOutcome, model: str, caller: Caller) -> AuditEvent:
    failure = outcome.failure
    detail: dict[str, object] = {"model": model, "attempts": outcome.attempts}
    if failure is not None:
        detail["failure"] = failure.kind
        if failure.status is not None:
            detail["upstreamStatus"] = failure.status
    result = "summary generated" if failure is None else f"{failure.kind} after {outcome.attempts} attempt(s)"
    return AuditEvent(
        organization_id=job.organization_id,
        user_id=caller.user_id,
        client_id=caller.client_id,
        action=AUDIT_ACTION,
        resource_type=RESOURCE_TYPE,
        resource_id=job.response_id,
        patient_id=job.patient_id,
        outcome="success" if failure is None else "serious-failure",
        outcome_detail=result,
        source_address=caller.origin.source_address,
        user_agent=caller.origin.user_agent,
        request_id=caller.origin.request_id,
        detail=detail,
    )
