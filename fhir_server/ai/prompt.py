"""The messages sent to the model: instructions, and the answers of one QuestionnaireResponse, nothing else.

The answers are read from the response's item tree and labelled with their question's text (the Questionnaire's,
else the response's, else the linkId) and the groups they sit in. Never sent: the subject, author, source,
identifiers, dates and any other element of the resource; questions that ask for identity or contact details;
Reference and Attachment answers (they point at people and documents); and the patient's identifying values inside
free text (fhir_server.ai.redaction).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server.ai.redaction import Redactor, asks_identity
from fhir_server.intake.answer_values import value_of
from fhir_server.intake.response_tree import definitions_by_link, items_of

INSTRUCTIONS = (
    "You help a doctor prepare for a visit. You receive a patient's answers to the clinic's pre-visit intake form "
    "as a JSON list; each entry has the form section, the question and the patient's answers. Summarize them for "
    "the doctor, in English, briefly and factually. Use only what the answers say: do not guess, diagnose or add "
    "advice. Return JSON with: summary (two to four sentences), patient_concerns (what the patient wants "
    "addressed or worries about), medications (each as given, with dose and frequency), allergies (each with its "
    "reaction when given), key_notes (anything else the doctor should not miss: red flags, relevant history, "
    "family history, lifestyle). Use an empty list when the answers say nothing about a point."
)
_SKIPPED_KINDS = ("Reference", "Attachment")


@dataclass(frozen=True)
class Answered:
    """One answered question as the model sees it."""

    section: str
    question: str
    answers: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"question": self.question, "answers": list(self.answers)}
        return {"section": self.section, **entry} if self.section else entry


def render_value(kind: str, value: Any) -> str | None:
    """An answer as plain text (None for kinds never sent)."""
    if kind in _SKIPPED_KINDS:
        return None
    if kind == "Boolean":
        return "yes" if value is True else "no"
    if kind == "Coding" and isinstance(value, Mapping):
        return str(value.get("display") or value.get("code") or "")
    if kind == "Quantity" and isinstance(value, Mapping):
        return f"{value.get('value')} {value.get('unit') or value.get('code') or ''}".strip()
    return None if isinstance(value, Mapping | list) else str(value)


def answered(questionnaire_items: Any, response_items: Any, redact: Redactor) -> list[Answered]:
    """Every answered question of a response, redacted, in document order."""
    return list(_walk(questionnaire_items, items_of(response_items), (), redact))


def _walk(definitions: Any, items: list[Any], sections: tuple[str, ...], redact: Redactor) -> Iterator[Answered]:
    by_link = definitions_by_link(definitions)
    for item in items:
        if not isinstance(item, dict):
            continue
        link_id = item.get("linkId")
        definition = by_link.get(link_id, {}) if isinstance(link_id, str) else {}
        label = redact(str(definition.get("text") or item.get("text") or item.get("linkId") or ""))
        if asks_identity(item.get("linkId"), definition.get("text"), item.get("text")):
            continue
        answers = [a for a in items_of(item.get("answer")) if isinstance(a, dict)]
        values = [render_value(*found) for found in map(value_of, answers) if found is not None]
        texts = tuple(redact(v) for v in values if v)
        if texts:
            yield Answered(" > ".join(sections), label, texts)
        inner = (*sections, label) if label else sections
        for answer in answers:
            yield from _walk(definition.get("item"), items_of(answer.get("item")), inner, redact)
        yield from _walk(definition.get("item"), items_of(item.get("item")), inner, redact)


def messages(entries: list[Answered]) -> list[dict[str, str]]:
    """The chat messages of a summary request: the instructions, then the answers as JSON."""
    answers = orjson.dumps([e.to_json() for e in entries]).decode()
    return [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": answers}]
