"""An appointment's intake follows the forms filled in for it, whoever writes them (FHIR API, CLI, seed).

``appointments.intake_status`` is ``completed`` once a form linked to the appointment is submitted or reviewed
(QuestionnaireResponse.status ``completed`` or ``amended``), ``sent`` while its forms are pending (a form issued,
``in-progress``), and ``missing`` when no form is linked any more. The Appointment is served with
``supportingInformation`` pointing at each linked form (mappings.appointment); so a form linked, moved or unlinked
(deleted) makes a new Appointment version too.

:func:`follow_forms` is a step of the write pipeline (fhir_server.fhir.pipeline), run before the changes of a
transaction are noted for versioning: the appointments it changes are then versioned in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import flag_modified

from fhir_server.db import Appointment, IntakeForm
from fhir_server.db.created_rows import created_in_transaction

COMPLETED_FORM_STATUSES = ("submitted", "reviewed")


def intake_status(form_statuses: Iterable[str | None]) -> str:
    """The appointment's intake status given the statuses of its live forms (a form without one, entered in
    error, counts as none)."""
    statuses = {s for s in form_statuses if s is not None}
    if statuses & set(COMPLETED_FORM_STATUSES):
        return "completed"
    return "sent" if statuses else "missing"


def linked_form_ids(appointment: Appointment) -> list[str]:
    """The FHIR ids of the live intake forms linked to a stored appointment (none for an unsaved row)."""
    session = object_session(appointment)
    if session is None or not inspect(appointment).persistent:
        return []
    if created_in_transaction(session, appointment) and not _holds_forms(session):
        return []  # a new appointment's forms would be this transaction's, and it holds none
    query = select(IntakeForm.fhir_id).where(
        IntakeForm.appointment_id == appointment.id, IntakeForm.deleted_at.is_(None)
    )
    with session.no_autoflush:
        return list(session.scalars(query.order_by(IntakeForm.fhir_id)))


def _holds_forms(session: Session) -> bool:
    """Whether the session holds an intake form (new, or loaded: the identity map's keys name each object's mapped
    class first, so the objects need not be looked at; a batch of writes holds hundreds)."""
    if any(isinstance(o, IntakeForm) for o in session.new):
        return True
    return any(key[0] is IntakeForm for key in session.identity_map.keys())  # noqa: SIM118 (typed without __iter__)


def _live(form: IntakeForm, session: Session) -> bool:
    return form.deleted_at is None and form not in session.deleted


def _target(form: IntakeForm) -> uuid.UUID | None:
    """The appointment a form is linked to once flushed (the relationship, when it was just set, else the key)."""
    relationship = inspect(form).attrs.appointment.history
    if relationship.added or relationship.deleted:
        linked = next((a for a in relationship.added if a is not None), None)
        return linked.id if linked is not None else None
    return form.appointment_id


def _touched(session: Session, form: IntakeForm) -> dict[uuid.UUID, bool]:
    """appointment id -> whether the form's link to it changed (else only its status may have)."""
    target = _target(form)
    if form in session.new or form in session.deleted:
        return {target: True} if target is not None else {}
    state = inspect(form)
    key, relationship = state.attrs.appointment_id.history, state.attrs.appointment.history
    before = [a for a in (*key.deleted, *key.unchanged) if a is not None]
    before += [a.id for a in relationship.deleted if a is not None]
    moved = bool(key.added or key.deleted or relationship.added or relationship.deleted)
    relinked = moved or state.attrs.deleted_at.history.has_changes()
    if not relinked and not state.attrs.status.history.has_changes():
        return {}
    touched = dict.fromkeys(before, relinked)
    if target is not None:
        touched[target] = relinked
    return touched


def _forms_of(session: Session, appointment_id: uuid.UUID, changed: list[IntakeForm]) -> list[IntakeForm]:
    """The live forms of an appointment as they will be after this flush."""
    stored = session.scalars(select(IntakeForm).where(IntakeForm.appointment_id == appointment_id))
    forms = {id(f): f for f in (*stored, *changed)}
    return [f for f in forms.values() if _target(f) == appointment_id and _live(f, session)]


def follow_forms(session: Session) -> None:
    """Set the intake status of every appointment whose forms the session's unit of work changes (and mark it
    changed when only its links did, so it is versioned). Run before the flush that writes the forms."""
    changed = [o for o in (*session.new, *session.dirty, *session.deleted) if isinstance(o, IntakeForm)]
    touched: dict[uuid.UUID, bool] = {}
    for form in changed:
        for appointment_id, relinked in _touched(session, form).items():
            touched[appointment_id] = touched.get(appointment_id, False) or relinked
    with session.no_autoflush:
        for appointment_id, relinked in touched.items():
            appointment = session.get(Appointment, appointment_id)
            if appointment is None or appointment in session.deleted:
                continue
            status = intake_status(f.status for f in _forms_of(session, appointment_id, changed))
            if appointment.intake_status != status:
                appointment.intake_status = status
            elif relinked and appointment not in session.new:
                flag_modified(appointment, "intake_status")
