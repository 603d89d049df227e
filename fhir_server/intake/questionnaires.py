"""The Questionnaire a QuestionnaireResponse answers, and the check of every written response against it.

``QuestionnaireResponse.questionnaire`` is a canonical URL, optionally with ``|version``
(http://hl7.org/fhir/R4/references.html#canonical); a relative ``Questionnaire/[id]`` is accepted too. It names a
stored, not deleted Questionnaire that is the response's clinic's own or shared by every clinic; of several, the
clinic's own wins, then the most recently updated. A response to a Questionnaire this server does not hold cannot
be checked: it is refused with 422, unless the request asked for ``Prefer: handling=lenient``
(http://hl7.org/fhir/R4/http.html#prefer), when it is stored as sent, unchecked, with a warning saying so (the
transaction's ``warnings``: $validate lists them).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fhir_server.db import IntakeForm, Questionnaire
from fhir_server.db.write_session import state_of
from fhir_server.errors import Issue, Kind, fail_all, unprocessable
from fhir_server.fhir.primitives import literal_reference
from fhir_server.intake.response_validation import response_issues

_EXPRESSION = "QuestionnaireResponse.questionnaire"
COMPLETED_STATUSES = ("submitted", "reviewed")
"""Intake form statuses served as ``completed`` and ``amended``: the required items must be there."""


def find_questionnaire(
    session: Session, canonical: str | None, organization_id: uuid.UUID | None
) -> Questionnaire | None:
    """The stored Questionnaire ``canonical`` names for a response of clinic ``organization_id`` (None: unknown, or
    no canonical: a response that names no questionnaire the column holds)."""
    if canonical is None:
        return None
    clinic = or_(Questionnaire.organization_id.is_(None), Questionnaire.organization_id == organization_id)
    query = select(Questionnaire).where(Questionnaire.deleted_at.is_(None), clinic)
    literal = literal_reference(canonical)
    if literal is not None and literal.names("Questionnaire"):
        query = query.where(Questionnaire.fhir_id == literal.resource_id)
    else:
        url, bar, version = canonical.partition("|")
        query = query.where(Questionnaire.url == url)
        if bar:
            query = query.where(Questionnaire.version == version)
    with session.no_autoflush:
        candidates = list(session.scalars(query))
    candidates.sort(key=lambda q: (q.organization_id is not None, q.last_updated), reverse=True)
    return candidates[0] if candidates else None


def questionnaire_resource(row: Questionnaire) -> dict[str, Any]:
    """What the items are checked against: the stored document (the items and contained ValueSets)."""
    return dict(row.extra or {})


def check_against_questionnaire(session: Session, form: IntakeForm, _new: bool) -> None:
    """``before_write`` hook of QuestionnaireResponse: 422 with one issue per disagreement with the Questionnaire,
    and for a Questionnaire not held here (:func:`_unknown_questionnaire`)."""
    canonical = form.questionnaire or (form.extra or {}).get("questionnaire")  # too long for the column: kept whole
    if not isinstance(canonical, str):
        return  # a response naming no questionnaire has nothing to be checked against
    questionnaire = find_questionnaire(session, canonical, form.organization_id)
    if questionnaire is None:
        _unknown_questionnaire(session, canonical)
        return
    items = (form.extra or {}).get("item")
    issues = response_issues(questionnaire_resource(questionnaire), items, completed=form.status in COMPLETED_STATUSES)
    if issues:
        raise fail_all(Kind.UNPROCESSABLE, issues)


def _unknown_questionnaire(session: Session, canonical: str) -> None:
    """A response naming a Questionnaire not held in its clinic: 422, or a warning when the transaction is lenient."""
    message = (
        f"QuestionnaireResponse.questionnaire: the Questionnaire {canonical!r} is not known to this server "
        "in the response's clinic, so the answers cannot be checked"
    )
    state = state_of(session)
    if not state.lenient:
        raise unprocessable(f"{message} (send Prefer: handling=lenient to store it unchecked)", _EXPRESSION)
    state.warnings.append(Issue("not-found", f"{message}; stored unchecked", (_EXPRESSION,), severity="warning"))
