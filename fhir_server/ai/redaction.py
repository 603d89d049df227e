"""What must never reach the model: the patient's names, identifiers, date of birth and contact details.

Only answers are sent (fhir_server.ai.prompt), and they pass through a :class:`Redactor` first, which replaces:

- every e-mail address, and every phone-like number (9 digits or more);
- the patient's own given and family names (from the row and from the names the client sent), medical record number
  and identifier values, phone numbers (compared by their last 7 digits), address lines and postal code, whole
  words, in any letter case;
- the patient's date of birth, in ISO form and the usual written forms (05/14/1980, 14.05.1980, May 14, 1980).

Questions asking for identity or contact details (name, date of birth, phone, e-mail, address, insurance or record
numbers) are left out whole (:func:`asks_identity`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fhir_server.db import Patient

REDACTED = "[redacted]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_IDENTITY_QUESTION = re.compile(
    r"\b(?:first|last|full|given|family|middle|maiden|legal|preferred|your|patient'?s?)[\s_-]*names?\b|^names?$"
    r"|\bsurname\b|\bdate[\s_-]*of[\s_-]*birth\b|\bbirth[\s_-]*date\b|\bbirthdate\b|\bdob\b|\bborn\b"
    r"|\b(?:phone|telephone|mobile|cell|fax|e-?mail|contact)\b|\b(?:address|street|city|zip|postal|post[\s_-]*code)\b"
    r"|\b(?:ssn|social[\s_-]*security|mrn|medical[\s_-]*record|identifier|insurance|passport|licen[cs]e)\b",
    re.IGNORECASE,
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def asks_identity(*labels: Any) -> bool:
    """Whether a question (its linkId or text) asks for a name, birth date, contact detail or identifier."""
    return any(isinstance(label, str) and _IDENTITY_QUESTION.search(label) for label in labels)


def birth_date_forms(born: date) -> list[str]:
    """The ways a date of birth is commonly written."""
    month = _MONTHS[born.month - 1]
    d, m, y = born.day, born.month, born.year
    return [
        born.isoformat(),
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y}",
        f"{d:02d}/{m:02d}/{y}",
        f"{d}/{m}/{y}",
        f"{d:02d}.{m:02d}.{y}",
        f"{month} {d}, {y}",
        f"{month} {d} {y}",
        f"{d} {month} {y}",
    ]


def _words(values: Iterable[Any]) -> list[str]:
    """Non-empty strings, and each word of the multi-word ones (a family name "García López" is two names)."""
    found: list[str] = []
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= 2:
            found.append(value.strip())
            found += [w for w in re.split(r"[\s,]+", value) if len(w) >= 2]
    return found


def _sent_names(extra: dict[str, Any]) -> list[Any]:
    names = [n for n in extra.get("name") or [] if isinstance(n, dict)]
    return [p for n in names for p in (n.get("family"), n.get("text"), *(n.get("given") or []))]


def _sent_values(extra: dict[str, Any], element: str) -> list[Any]:
    return [e.get("value") for e in extra.get(element) or [] if isinstance(e, dict)]


@dataclass(frozen=True)
class Redactor:
    """Replaces the identifying values of one patient (and any e-mail or phone number) in a text."""

    literals: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()

    @classmethod
    def for_patient(cls, patient: Patient | None) -> Redactor:
        if patient is None:
            return cls()
        extra = patient.extra or {}
        address = patient.address or {}
        values: list[Any] = [patient.given_name, patient.family_name, patient.mrn, patient.email, patient.phone]
        values += _sent_names(extra) + _sent_values(extra, "identifier") + _sent_values(extra, "telecom")
        values += [*(address.get("line") or []), address.get("postalCode")]
        literals = _words(values) + (birth_date_forms(patient.birth_date) if patient.birth_date else [])
        phones = [re.sub(r"\D", "", str(v)) for v in (patient.phone, *_sent_values(extra, "telecom")) if v]
        ordered = sorted(set(literals), key=len, reverse=True)
        return cls(tuple(ordered), tuple(p[-7:] for p in phones if len(p) >= 7))

    def __call__(self, text: str) -> str:
        text = _EMAIL.sub(REDACTED, text)
        text = _PHONE_LIKE.sub(self._phone, text)
        if self.literals:
            pattern = "|".join(re.escape(v) for v in self.literals)
            text = re.sub(rf"(?<!\w)(?:{pattern})(?!\w)", REDACTED, text, flags=re.IGNORECASE)
        return text

    def _phone(self, match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        own = len(digits) >= 7 and digits[-7:] in self.phones
        return REDACTED if own or len(digits) >= 9 else match.group()
