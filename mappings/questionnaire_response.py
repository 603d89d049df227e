"""intake_forms <-> QuestionnaireResponse (http://hl7.org/fhir/R4/questionnaireresponse.html).

Columns: ``questionnaire`` (the canonical URL), ``subject`` (when it is a Patient), ``authored``
(``submitted_at``), ``status`` (the clinic's pending | submitted | reviewed through ConceptMap ``intake-status``;
empty for ``entered-in-error``, which no intake form status means), the Appointment the form was filled in for
(extension ``questionnaireresponse-appointment``, defined in conformance/, since R4 has no element for it) and
``answers``. A value a column cannot hold (a Group as subject, a questionnaire URL longer than the column) leaves
it empty and is served as sent.

``answers`` is the queryable projection of the item tree: ``{linkId: value}`` for an item with one answer,
``{linkId: [values]}`` for several, over every item however deeply nested (group children and children of
answers alike; a linkId met more than once collects all its values). A value is the JSON of ``value[x]``: a
string, number or boolean for primitives, an object for Coding, Quantity, Reference and Attachment. The client's
tree itself stays in ``extra``, so the round trip is exact; when ``answers`` changes inside the server, the items
whose linkId changed get the new answers (first occurrence only; an answer keeps the child items of the one it
replaces) and answers the tree then lacks are appended as top-level items. So the served items always show
exactly ``answers``.

A response to a Questionnaire this server holds is checked against it on every write
(fhir_server.intake.questionnaires: linkIds, answer types, options, enableWhen, required items once completed).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from fhir_server.db import Appointment, IntakeForm
from fhir_server.intake.questionnaires import check_against_questionnaire
from mappings import CANONICAL_BASE, lens
from mappings.base import Field, MappedValues, MappingError, ResourceMapping, fhir_instant, reference_field
from mappings.datatypes import parse_datetime, text
from mappings.terminology import reverse, target_system, translate

STATUS_MAP = "intake-status"
APPOINTMENT_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/questionnaireresponse-appointment"
_APPOINTMENT_EXPRESSION = f"QuestionnaireResponse.extension('{APPOINTMENT_EXTENSION}').value"

_PRIMITIVE_KEYS = {
    "valueString": r".+",
    "valueUri": r"\S+",
    "valueDate": r"\d{4}(-\d{2}(-\d{2})?)?",
    "valueDateTime": r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?",
    "valueTime": r"\d{2}:\d{2}:\d{2}(\.\d+)?",
}
_OBJECT_KEYS = ("valueCoding", "valueQuantity", "valueReference", "valueAttachment")
_VALUE_KEYS = ("valueBoolean", "valueDecimal", "valueInteger", *_PRIMITIVE_KEYS, *_OBJECT_KEYS)


def _status(code: Any) -> str:
    """The intake form status a QuestionnaireResponse.status is held as (``entered-in-error`` has none: such a
    form keeps its status in the resource and none in the column, so it counts for no appointment's intake)."""
    try:
        return reverse(STATUS_MAP, target_system(STATUS_MAP), code)
    except KeyError:
        raise ValueError(f"{code!r} has no intake form status (ConceptMap/{STATUS_MAP})") from None


def _fhir_status(status: str) -> str:
    return translate(STATUS_MAP, status).code


# --- the answers projection --------------------------------------------------------------------------------


def _walk(items: Any) -> Iterator[dict[str, Any]]:
    """Every item of a tree in document order: each item, then its answers' children, then its own children."""
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        yield item
        for answer in item.get("answer") or []:
            if isinstance(answer, dict):
                yield from _walk(answer.get("item"))
        yield from _walk(item.get("item"))


def _value_of(answer: Any) -> Any:
    if isinstance(answer, dict):
        for key in _VALUE_KEYS:
            if key in answer:
                return answer[key]
    return None


def _collected(items: Any) -> dict[str, list[Any]]:
    values: dict[str, list[Any]] = {}
    for item in _walk(items):
        found = [v for v in map(_value_of, item.get("answer") or []) if v is not None]
        if found and isinstance(item.get("linkId"), str):
            values.setdefault(item["linkId"], []).extend(found)
    return values


def flat_answers(items: Any) -> dict[str, Any]:
    """``{linkId: value or [values]}`` of every answered item of a QuestionnaireResponse item tree."""
    return {link: found[0] if len(found) == 1 else found for link, found in _collected(items).items()}


def _values(projected: Any) -> list[Any]:
    values = projected if isinstance(projected, list) else [projected]
    return [v for v in values if v is not None]


def same(a: Any, b: Any) -> bool:
    """JSON equality that tells booleans from numbers (``True == 1`` in Python, not in FHIR)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return bool(a == b)


def _value_key(value: Any, previous: Any) -> str:
    """The ``value[x]`` an answer value is written as: the previous answer's kind when it still fits."""
    kept = next((k for k in _VALUE_KEYS if isinstance(previous, dict) and k in previous), None)
    if isinstance(value, bool):
        return "valueBoolean"
    if isinstance(value, int):
        return "valueDecimal" if kept == "valueDecimal" else "valueInteger"
    if isinstance(value, float):
        return "valueDecimal"
    if isinstance(value, dict):
        return kept if kept in _OBJECT_KEYS else _object_key(value)
    pattern = _PRIMITIVE_KEYS.get(kept or "")
    return kept if kept and pattern and re.fullmatch(pattern, str(value)) else "valueString"


def _object_key(value: dict[str, Any]) -> str:
    if "reference" in value or "identifier" in value:
        return "valueReference"
    if "value" in value:
        return "valueQuantity"
    if {"contentType", "data", "url"} & value.keys():
        return "valueAttachment"
    return "valueCoding"


def _answers(values: list[Any], previous: list[Any]) -> list[dict[str, Any]]:
    """Answers holding ``values``; each keeps the children its predecessor at the same place had."""
    answers = []
    for i, value in enumerate(values):
        before = previous[i] if i < len(previous) else None
        rendered = value if isinstance(value, bool | int | float | dict) else str(value)
        answer: dict[str, Any] = {_value_key(value, before): rendered}
        if isinstance(before, dict) and before.get("item"):
            answer["item"] = before["item"]
        answers.append(answer)
    return answers


def with_answers(items: list[Any], answers: dict[str, Any]) -> list[Any]:
    """``items`` showing ``answers``: unchanged linkIds keep their exact answers, changed ones are rewritten."""
    current = flat_answers(items)
    changed = {k for k in current.keys() | answers.keys() if not same(current.get(k), answers.get(k))}
    if not changed:
        return items
    tree = copy.deepcopy(items)
    _rewrite(tree, answers, changed, set())
    shown = flat_answers(tree)  # an answer dropped with its parent answer, or a linkId the tree lacks: append it
    for link, projected in answers.items():
        values = _values(projected)
        if values and not same(_values(shown.get(link)), values):
            tree.append({"linkId": link, "answer": _answers(values, [])})
    return tree


def _rewrite(items: Any, answers: dict[str, Any], changed: set[str], placed: set[str]) -> None:
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        link = item.get("linkId")
        if link in changed:
            values = [] if link in placed else _values(answers.get(link))
            item["answer"] = _answers(values, item.get("answer") or [])
            placed.add(link)
            if not item["answer"]:
                del item["answer"]
        for answer in item.get("answer") or []:
            if isinstance(answer, dict):
                _rewrite(answer.get("item"), answers, changed, placed)
        _rewrite(item.get("item"), answers, changed, placed)


@dataclass(frozen=True)
class AnswersField(Field):
    """The ``answers`` column: the flat projection of ``item`` (read), merged back into the tree (write)."""

    def read(self, resource: Any) -> Any:
        return flat_answers(resource.get("item"))

    def write(self, doc: dict[str, Any], row: Any) -> dict[str, Any]:
        items = with_answers(doc.get("item") or [], row.answers or {})
        return lens.put(doc, self.path, items or None)


class QuestionnaireResponseMapping(ResourceMapping):
    resource_type = "QuestionnaireResponse"
    model = IntakeForm
    keeps_unheld = True
    conceptmaps = (STATUS_MAP,)
    before_write = (check_against_questionnaire,)  # 422 naming each item that disagrees with the Questionnaire
    fields: ClassVar[tuple[Field, ...]] = (
        reference_field(
            "appointment",
            "Appointment",
            lens.path("extension", lens.where(url=APPOINTMENT_EXTENSION), "valueReference", "reference"),
            _APPOINTMENT_EXPRESSION,
            foreign_key="appointment_id",
        ),
        Field(
            "questionnaire",
            lens.path("questionnaire"),
            "QuestionnaireResponse.questionnaire",
            parse=text(500),
        ),
        Field(
            "status",
            lens.path("status"),
            "QuestionnaireResponse.status",
            parse=_status,
            render=_fhir_status,
            required=True,
        ),
        reference_field(
            "patient",
            "Patient",
            lens.path("subject", "reference"),
            "QuestionnaireResponse.subject",
            foreign_key="patient_id",
        ),
        Field(
            "submitted_at",
            lens.path("authored"),
            "QuestionnaireResponse.authored",
            parse=parse_datetime,
            render=fhir_instant,
        ),
        AnswersField("answers", lens.path("item"), "QuestionnaireResponse.item", default={}),
    )

    @classmethod
    def apply(cls, row: Any, values: MappedValues, session: Any) -> None:
        """As the base, and refuse an appointment of another patient than the subject."""
        super().apply(row, values, session)
        _check_appointment(row, session)


def _check_appointment(row: IntakeForm, session: Session) -> None:
    if row.appointment_id is None:
        return
    with session.no_autoflush:
        appointment = session.get(Appointment, row.appointment_id)
    if (
        appointment is not None
        and None not in (appointment.patient_id, row.patient_id)
        and (appointment.patient_id != row.patient_id)
    ):
        raise MappingError("the appointment is another patient's than the subject's", _APPOINTMENT_EXPRESSION)
