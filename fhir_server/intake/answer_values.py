"""The values of QuestionnaireResponse answers: which ``value[x]`` each item type takes, whether a value is one of
the item's options, and how two values compare (for enableWhen).

Item types and their answer types: http://hl7.org/fhir/R4/valueset-item-type.html and
http://hl7.org/fhir/R4/questionnaireresponse.html#notes ("the answer type must match the item type": boolean ->
valueBoolean, decimal -> valueDecimal, integer -> valueInteger, date -> valueDate, dateTime -> valueDateTime, time ->
valueTime, string and text -> valueString, url -> valueUri, choice -> valueCoding (or the type of its answerOptions),
open-choice -> that or valueString, attachment -> valueAttachment, reference -> valueReference, quantity ->
valueQuantity). ``group`` and ``display`` items take no answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

ANSWER_KEYS: dict[str, tuple[str, ...]] = {
    "boolean": ("valueBoolean",),
    "decimal": ("valueDecimal",),
    "integer": ("valueInteger",),
    "date": ("valueDate",),
    "dateTime": ("valueDateTime",),
    "time": ("valueTime",),
    "string": ("valueString",),
    "text": ("valueString",),
    "url": ("valueUri",),
    "choice": ("valueCoding",),
    "open-choice": ("valueCoding", "valueString"),
    "attachment": ("valueAttachment",),
    "reference": ("valueReference",),
    "quantity": ("valueQuantity",),
}
"""Item type -> the value[x] its answers may carry (choice types also take the type of their answerOptions)."""

NO_ANSWER_TYPES = ("group", "display")
VALUE_KEYS = (
    "valueBoolean",
    "valueDecimal",
    "valueInteger",
    "valueDate",
    "valueDateTime",
    "valueTime",
    "valueString",
    "valueUri",
    "valueAttachment",
    "valueCoding",
    "valueQuantity",
    "valueReference",
)
_TEXT_KEYS = ("valueString", "valueUri")


def value_of(element: Any, prefix: str = "value") -> tuple[str, Any] | None:
    """The ``(kind, value)`` of an element's ``value[x]`` (or ``answer[x]`` with ``prefix="answer"``), kind being
    the type suffix (``Coding``); None when it has none."""
    if not isinstance(element, Mapping):
        return None
    for key, value in element.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return key[len(prefix) :], value
    return None


def allowed_keys(item: Mapping[str, Any]) -> tuple[str, ...]:
    """The answer value[x] keys a Questionnaire item accepts (empty for group and display)."""
    item_type = item.get("type")
    keys = list(ANSWER_KEYS.get(str(item_type), ()))
    if item_type in ("choice", "open-choice"):
        for option in item.get("answerOption") or []:
            found = value_of(option)
            if found is not None and f"value{found[0]}" not in keys:
                keys.append(f"value{found[0]}")
    return tuple(keys)


def text_length(kind: str, value: Any) -> int | None:
    """The length ``maxLength`` limits: of string and uri answers (None for other kinds)."""
    return len(value) if f"value{kind}" in _TEXT_KEYS and isinstance(value, str) else None


# --- equality and order -----------------------------------------------------------------------------------------


def same_coding(expected: Any, actual: Any) -> bool:
    """A Coding matches when the codes are equal and, if ``expected`` names a system, the systems too."""
    if not isinstance(expected, Mapping) or not isinstance(actual, Mapping):
        return False
    if expected.get("code") is None or expected.get("code") != actual.get("code"):
        return False
    return expected.get("system") is None or expected.get("system") == actual.get("system")


def same_value(kind: str, expected: Any, actual_kind: str, actual: Any) -> bool:
    """Whether an answer value equals an expected one (an answerOption's or an enableWhen's)."""
    return compare(kind, expected, actual_kind, actual) == 0


def compare(kind: str, expected: Any, actual_kind: str, actual: Any) -> int | None:
    """``actual`` versus ``expected``: negative, 0 or positive; None when they cannot be compared (other kinds, or
    kinds without order such as Coding, which only compare for equality)."""
    if kind == "Coding" and actual_kind == "Coding":
        return 0 if same_coding(expected, actual) else None
    if kind == "Reference" and actual_kind == "Reference":
        same = isinstance(expected, Mapping) and isinstance(actual, Mapping)
        return 0 if same and expected.get("reference") == actual.get("reference") else None
    left, right = _comparable(actual_kind, actual), _comparable(kind, expected)
    if left is None or right is None or type(left) is not type(right):
        return None
    if kind == "Quantity" and not _same_unit(expected, actual):
        return None
    try:
        return int(left > right) - int(left < right)
    except TypeError:  # a dateTime with a zone against one without
        return None


def _comparable(kind: str, value: Any) -> Any:
    """A value of ``kind`` as something Python orders correctly (None when malformed)."""
    try:
        if kind == "Boolean":
            return value if isinstance(value, bool) else None
        if kind in ("Decimal", "Integer"):
            return _number(value)
        if kind == "Quantity":
            return _number(value.get("value")) if isinstance(value, Mapping) else None
        if kind == "Date":
            return _date(value)
        if kind == "DateTime":
            return _date_time(value)
        if kind in ("Time", "String", "Uri"):
            return value if isinstance(value, str) else None
    except (ValueError, TypeError, ArithmeticError):
        return None
    return None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    return Decimal(str(value))


def _date(value: Any) -> date | None:
    """A FHIR date; a partial one (``2026`` or ``2026-10``) as its first day."""
    if not isinstance(value, str):
        return None
    parts = [int(p) for p in value.split("-")]
    month, day = [*parts[1:], 1, 1][:2]
    return date(parts[0], month, day)


def _date_time(value: Any) -> datetime | date | None:
    """A FHIR dateTime: a full one with its zone, a date-only one as a date."""
    if not isinstance(value, str):
        return None
    if "T" not in value:
        return _date(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _same_unit(expected: Any, actual: Any) -> bool:
    """Quantities compare when neither names a unit or both name the same one (code and system, else text)."""
    if not isinstance(expected, Mapping) or not isinstance(actual, Mapping):
        return False
    if expected.get("code") is not None or actual.get("code") is not None:
        return bool(expected.get("code") == actual.get("code") and expected.get("system") == actual.get("system"))
    return expected.get("unit") is None or expected.get("unit") == actual.get("unit")
