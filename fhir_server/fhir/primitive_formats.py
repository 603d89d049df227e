"""The JSON form of each FHIR primitive type: which JSON type it takes and which text it may hold.

http://hl7.org/fhir/R4/datatypes.html#primitive and http://hl7.org/fhir/R4/json.html#primitive: ``boolean`` is
JSON ``true``/``false``; ``integer``, ``positiveInt`` and ``unsignedInt`` are JSON integers within 32 bits (and
above 0, or at least 0); ``decimal`` is a JSON number; every other primitive is a JSON string matching the regex
its StructureDefinition gives (the ``regex`` extension of ``<type>.value``: ``date``, ``dateTime``, ``instant``,
``time``, ``code``, ``id``, ``oid``, ``uri``, ``base64Binary``, ...), and a date a day of the calendar (R4: "SHALL
be valid dates"; the regexes alone take February 30th). The regexes are Java's (``\\s`` is ASCII
whitespace), so they are compiled with ``re.ASCII``. A string holding U+0000 is refused too: PostgreSQL cannot
store it, so a resource is taken or refused alike on every database. So is a string of whitespace only (R4
json.html: string values always hold non-whitespace content; whitespace as JavaScript's ``trim`` knows it, so that
JavaScript clients read what is stored), and a ``string`` or ``markdown`` holding a control character other than
tab, line feed and carriage return (R4 datatypes.html#string; :data:`STRING_TEXT`), and a value of a type whose
regex refuses whitespace (``uri``, ``code``...) holding whitespace beyond ASCII's (``\\u00a0``, ``\\ufeff``...), which
JavaScript's regexes count as whitespace.

:func:`problem` says why a value is not of its type, quoting the value safely (:func:`shown`: never a raw control
character, at most :data:`SHOWN_CHARS` characters).
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Any

from fhir_server.errors import BLANK
from fhir_server.fhir.structure import definitions

INT32 = 2**31 - 1
_MINIMUM = {"integer": -INT32 - 1, "unsignedInt": 0, "positiveInt": 1}
_DATED = frozenset({"date", "dateTime", "instant"})
_BASE64_TEXT = re.compile(r"[0-9a-zA-Z+/=\s]+", re.ASCII)
_WHITESPACE = re.compile(r"\s+", re.ASCII)
SHOWN_CHARS = 60
STRING_TEXT = re.compile("[^\x00-\x08\x0b\x0c\x0e-\x1f]*")
"""The text a ``string`` or ``markdown`` may hold: no C0 control character but tab, line feed and carriage return."""
_TEXT_TYPES = frozenset({"string", "markdown"})
_UNICODE_SPACE = re.compile("[\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]")
"""Whitespace beyond ASCII's: R4's (Java) regexes take it for ``\\S``, JavaScript's (a client's) for ``\\s``."""


def shown(value: Any) -> str:
    """``value`` as a message may quote it: ``repr`` (control and other unprintable characters escaped), cut to
    :data:`SHOWN_CHARS` characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


@cache
def pattern(type_code: str) -> re.Pattern[str] | None:
    """The compiled regex of a primitive type (None for ``xhtml`` and for a type without one)."""
    element = definitions().elements.get(type_code, {}).get(f"{type_code}.value")
    if element is None or element.regex is None:
        return None
    return re.compile(element.regex, re.ASCII)


def problem(type_code: str, value: Any) -> str | None:
    """Why ``value`` is not a JSON value of the primitive ``type_code``; None when it is."""
    if type_code == "boolean":
        return None if isinstance(value, bool) else f"{shown(value)} is not a JSON boolean (true or false)"
    if type_code in _MINIMUM:
        return _integer_problem(type_code, value)
    if type_code == "decimal":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return None if number else f"{shown(value)} is not a JSON number (a decimal)"
    if not isinstance(value, str):
        return f"{shown(value)} is not a JSON string ({_a(type_code)})"
    if (text_problem := _text_problem(type_code, value)) is not None:
        return text_problem
    regex = pattern(type_code)
    if type_code == "base64Binary":
        if not is_base64(value):
            return f"{shown(value)} is not a valid base64Binary"
    elif regex is not None and regex.fullmatch(value) is None:
        return f"{shown(value)} is not a valid {type_code}"
    if type_code in _DATED and len(value) >= 10 and not _in_calendar(value[:10]):
        return f"{shown(value)} is not a day of the calendar"
    return None


def _text_problem(type_code: str, value: str) -> str | None:
    """Why the text of ``value`` cannot be a ``type_code`` whatever its format: U+0000, whitespace only, or (a
    string, markdown) a control character."""
    if "\x00" in value:
        return "the character U+0000 is not accepted"
    if value and BLANK.fullmatch(value) is not None:
        return f"{shown(value)} holds only whitespace (a FHIR string holds more)"
    if type_code in _TEXT_TYPES and STRING_TEXT.fullmatch(value) is None:
        bad = next(c for c in value if STRING_TEXT.fullmatch(c) is None)
        return f"the control character U+{ord(bad):04X} is not allowed in a {type_code} ({shown(value)})"
    regex = None if type_code in _TEXT_TYPES else pattern(type_code)  # a string's own regex takes any whitespace
    if regex is not None and "\\s" in regex.pattern.lower() and (space := _UNICODE_SPACE.search(value)):
        return f"{shown(value)} holds the whitespace U+{ord(space.group()):04X}, which a {type_code} may not"
    return None


def is_base64(value: str) -> bool:
    """R4's base64Binary regex, ``(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+``, without its backtracking (seconds on a
    multi-megabyte attachment): base64 characters and whitespace only, every run of base64 characters a whole
    number of 4-character groups, at least one."""
    if _BASE64_TEXT.fullmatch(value) is None:
        return False
    runs = _WHITESPACE.split(value)
    return any(runs) and all(len(run) % 4 == 0 for run in runs)


def _in_calendar(day: str) -> bool:
    """True when ``YYYY-MM-DD`` is a day that exists (the regexes take 2023-02-30: "SHALL be valid dates")."""
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


def _integer_problem(type_code: str, value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{shown(value)} is not a JSON integer ({_a(type_code)})"
    if not _MINIMUM[type_code] <= value <= INT32:
        return f"{value} is outside the range of {type_code} ({_MINIMUM[type_code]} to {INT32})"
    return None


def _a(type_code: str) -> str:
    return f"{'an' if type_code[0] in 'aeiouAEIOU' else 'a'} {type_code}"
