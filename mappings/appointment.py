"""appointments (+ their cancellation) <-> Appointment (http://hl7.org/fhir/R4/appointment.html).

Columns and where they are served:

- ``status``: Appointment.status through the ConceptMap ``appointment-status`` (a client's ``checked-in`` is
  served back while the clinic says ``arrived``; every R4 status has a clinic status);
- ``start_at``/``end_at``: start and end, instants with a zone (absent in a proposed, waitlisted or cancelled
  appointment, R4 invariant app-3; when both are there, end after start); ``duration_minutes``: minutesDuration
  (from start and end when absent: a server-set element, left out when it would exceed 2,147,483,647 minutes,
  R4's largest positiveInt);
- ``patient``/``practitioner``: the first Patient and the first Practitioner participant (``participant.actor``),
  in the same clinic, which is the appointment's clinic. Either may be missing (an appointment of a practitioner
  with a location, of a patient with a HealthcareService); further participants stay in the resource;
- ``visit_category``: appointmentType (HL7 v2 table 0276 and the clinic's coding, ConceptMap
  ``appointment-visit-category``); ``visit_type``: the serviceType holding the clinic's visit-type coding (and the
  v3 ActCode encounter class, ConceptMap ``appointment-visit-type``). Both default when absent (follow-up,
  in-clinic) and are then served; a coding the ConceptMap does not know (the binding is only preferred) is kept
  as sent and the column left empty;
- ``reason``: the text of the first reasonCode that has one. reasonCode rather than description: the reason is
  the clinical reason for the visit ("Persistent cough"), which is what reasonCode means; description is a
  subject line for lists;
- ``meeting_url``: the extension ``StructureDefinition/appointment-meeting-url`` (valueUrl);
- the ``cancellations`` row: cancelationReason, a coding of HL7's appointment-cancellation-reason (ConceptMap
  ``appointment-cancellation-type``) and the clinic's coding, with the note as text; served only while the
  status is cancelled or noshow (R4 invariant app-4).

``intake_status`` and ``arrived_at`` stay internal; ``intake_status`` follows the intake forms linked to the
appointment (fhir_server.intake.appointment_intake), and supportingInformation points at each of them as a
QuestionnaireResponse. Those references are server-set: the live forms linked through the form's
``questionnaireresponse-appointment`` extension, in id order; a client's other supportingInformation stays as sent,
and a client's relative reference to a QuestionnaireResponse not linked to the appointment is not served.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import inspect, select
from sqlalchemy.orm import object_session

from fhir_server.db import Appointment, Cancellation
from fhir_server.db.created_rows import created_in_transaction
from fhir_server.fhir.primitives import literal_reference
from fhir_server.intake.appointment_intake import linked_form_ids
from mappings import CANONICAL_BASE, lens, terminology
from mappings.base import Field, MappedValues, MappingError, ResourceMapping, fhir_instant, parse_instant
from mappings.base import reference_field as reference
from mappings.datatypes import concept_with, extension_value, mapped_concept, participant_actor, text

MEETING_URL = f"{CANONICAL_BASE}/StructureDefinition/appointment-meeting-url"
STATUS_MAP = "appointment-status"
CATEGORY_MAP = "appointment-visit-category"
VISIT_TYPE_MAP = "appointment-visit-type"
CANCELLATION_MAP = "appointment-cancellation-type"
DEFAULTS = {"visit_type": "in-clinic", "visit_category": "follow-up"}
_MAX_MINUTES = 2_147_483_647  # positiveInt, and the column's INTEGER


@dataclass(frozen=True)
class CancellationValue:
    """What cancelationReason says: the clinic's cancellation type and the note."""

    type: str
    note: str | None


def _status(code: Any) -> str:
    return terminology.reverse(STATUS_MAP, terminology.target_system(STATUS_MAP), str(code))


def _status_code(status: str) -> str:
    return terminology.translate(STATUS_MAP, status).code


def _minutes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_MINUTES:
        raise ValueError(f"must be a positive whole number of minutes (got {value!r})")
    return value


def _minutes_between(start: datetime | None, end: datetime | None) -> int | None:
    """The whole minutes from ``start`` to ``end`` (rounded up); None without both, or beyond a positiveInt (the
    server then serves no minutesDuration rather than one R4 does not allow)."""
    if start is None or end is None:
        return None
    minutes = math.ceil((end - start).total_seconds() / 60)
    return minutes if minutes <= _MAX_MINUTES else None


def _has_text(concept: Any) -> bool:
    return isinstance(concept, dict) and isinstance(concept.get("text"), str)


def _reason(concept: Any) -> str:
    return str(concept["text"])


def _parse_cancellation(concept: Any) -> CancellationValue:
    """A cancellation type from the clinic's or HL7's coding (``other`` when neither is given) and the note."""
    parse, _ = mapped_concept(CANCELLATION_MAP)
    systems = {terminology.source_system(CANCELLATION_MAP), terminology.target_system(CANCELLATION_MAP)}
    codings = concept.get("coding") or []
    coded = any(isinstance(c, dict) and c.get("system") in systems for c in codings)
    note = concept.get("text")
    return CancellationValue(parse(concept) if coded else "other", note if isinstance(note, str) else None)


def _render_cancellation(value: CancellationValue) -> dict[str, Any]:
    _, render = mapped_concept(CANCELLATION_MAP)
    concept = render(value.type)
    if value.note:
        concept["text"] = value.note
    return concept


def current_cancellation(row: Appointment) -> Cancellation | None:
    """The appointment's cancellation row as stored now (the relationship may predate a change to the table)."""
    session = object_session(row)
    if session is None or not inspect(row).persistent or created_in_transaction(session, row):
        return row.cancellation
    with session.no_autoflush:
        return session.scalars(select(Cancellation).where(Cancellation.appointment_id == row.id)).first()


class CancellationField(Field):
    """cancelationReason <-> the ``cancellations`` child row (its type and note)."""

    def value_of(self, row: Any) -> Any:
        cancellation = current_cancellation(row)
        return None if cancellation is None else CancellationValue(cancellation.type, cancellation.note)


def _appointment_of(cancellation: Cancellation) -> Appointment | None:
    """The appointment whose served resource a change to ``cancellation`` changes."""
    if cancellation.appointment is not None:
        return cancellation.appointment
    session = object_session(cancellation)
    if session is None or cancellation.appointment_id is None:
        return None
    return session.get(Appointment, cancellation.appointment_id)


_category_parse, _category_render = mapped_concept(CATEGORY_MAP)
_visit_type_parse, _visit_type_render = mapped_concept(VISIT_TYPE_MAP)


def _systems(conceptmap_id: str) -> tuple[str, str]:
    return terminology.source_system(conceptmap_id), terminology.target_system(conceptmap_id)


def _actor(target: str) -> lens.Path:
    return lens.path("participant", participant_actor(target), "actor", "reference")


class AppointmentMapping(ResourceMapping):
    resource_type = "Appointment"
    model = Appointment
    keeps_unheld = True
    conceptmaps = (STATUS_MAP, CATEGORY_MAP, VISIT_TYPE_MAP, CANCELLATION_MAP)
    dependents: ClassVar[dict[type[Any], Any]] = {Cancellation: _appointment_of}
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "meeting_url",
            extension_value(MEETING_URL, "Url"),
            f"Appointment.extension('{MEETING_URL}').valueUrl",
            parse=text(500),
        ),
        Field("status", lens.path("status"), "Appointment.status", _status, _status_code, required=True),
        CancellationField(
            "cancellation",
            lens.path("cancelationReason"),
            "Appointment.cancelationReason",
            parse=_parse_cancellation,
            render=_render_cancellation,
        ),
        Field(
            "visit_type",
            lens.path("serviceType", concept_with(*_systems(VISIT_TYPE_MAP))),
            "Appointment.serviceType",
            parse=_visit_type_parse,
            render=_visit_type_render,
        ),
        Field(
            "visit_category",
            lens.path("appointmentType"),
            "Appointment.appointmentType",
            parse=_category_parse,
            render=_category_render,
        ),
        Field(
            "reason",
            lens.path("reasonCode", lens.Pick(_has_text)),
            "Appointment.reasonCode.text",
            parse=_reason,
            render=lambda reason: {"text": reason},
        ),
        Field("start_at", lens.path("start"), "Appointment.start", parse_instant, fhir_instant),
        Field("end_at", lens.path("end"), "Appointment.end", parse_instant, fhir_instant),
        Field("duration_minutes", lens.path("minutesDuration"), "Appointment.minutesDuration", parse=_minutes),
        reference(
            "patient",
            "Patient",
            _actor("Patient"),
            "Appointment.participant.actor.where(resolve() is Patient)",
            foreign_key="patient_id",
        ),
        reference(
            "practitioner",
            "Practitioner",
            _actor("Practitioner"),
            "Appointment.participant.actor.where(resolve() is Practitioner)",
            foreign_key="practitioner_id",
        ),
    )

    @classmethod
    def apply(cls, row: Any, values: MappedValues, session: Any) -> None:
        """Columns (defaults for absent visit type and category, duration from start and end), then the
        cancellation row: created, changed or deleted to match cancelationReason."""
        columns = dict(values.columns)
        wanted: CancellationValue | None = columns.pop("cancellation", None)
        for name, default in DEFAULTS.items():
            if columns.get(name) is None and name not in values.unheld:
                columns[name] = default
        start, end = columns["start_at"], columns["end_at"]
        if start is not None and end is not None and end <= start:
            raise MappingError("Appointment.end must be after Appointment.start", "Appointment.end")
        if columns.get("duration_minutes") is None:
            columns["duration_minutes"] = _minutes_between(start, end)
        super().apply(row, MappedValues(columns, values.references, values.extra, values.unheld), session)
        _write_cancellation(row, wanted)

    @classmethod
    def finish(cls, doc: dict[str, Any], row: Any) -> dict[str, Any]:
        """supportingInformation: the intake forms (QuestionnaireResponses) linked to the appointment; and no
        cancelationReason unless the appointment is cancelled or a no-show."""
        return with_intake_forms(without_stale_cancellation(doc), linked_form_ids(row))


CANCELLED_STATUSES = ("cancelled", "noshow")


def without_stale_cancellation(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without cancelationReason when its status is neither cancelled nor noshow.

    R4 invariant app-4 (http://hl7.org/fhir/R4/appointment.html#invs): "Cancelation reason is only used for
    appointments that have been cancelled, or no-show". An appointment the clinic un-cancels keeps its
    ``cancellations`` row until a FHIR update replaces the resource; the reason shows again if it is cancelled
    again.
    """
    if "cancelationReason" in doc and doc.get("status") not in CANCELLED_STATUSES:
        doc.pop("cancelationReason")
        doc.pop("_cancelationReason", None)
    return doc


def with_intake_forms(doc: dict[str, Any], form_ids: list[str]) -> dict[str, Any]:
    """``doc`` whose supportingInformation references exactly the linked intake forms among QuestionnaireResponses
    (relative references), keeping every other entry as it is."""
    linked = [f"QuestionnaireResponse/{form_id}" for form_id in form_ids]
    entries = doc.get("supportingInformation")
    kept = [e for e in entries if not _is_form(e) or e["reference"] in linked] if isinstance(entries, list) else []
    present = {e.get("reference") for e in kept if isinstance(e, dict)}
    kept += [{"reference": reference} for reference in linked if reference not in present]
    if kept:
        doc["supportingInformation"] = kept
    else:
        doc.pop("supportingInformation", None)
    return doc


def _is_form(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("reference"), str)
        and (literal := literal_reference(entry["reference"])) is not None
        and literal.names("QuestionnaireResponse")
    )


def _write_cancellation(row: Appointment, wanted: CancellationValue | None) -> None:
    current = row.cancellation
    if wanted is None:
        row.cancellation = None  # delete-orphan: the row goes
        return
    if current is None:
        row.cancellation = Cancellation(type=wanted.type, note=wanted.note)
        return
    if current.type != wanted.type:
        current.type = wanted.type
    if current.note != wanted.note:
        current.note = wanted.note
