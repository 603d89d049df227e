"""String normalisation shared by the indexer and the query: case- and accent-insensitive, plus Soundex for
the ``phonetic`` parameters (http://hl7.org/fhir/R4/search.html#string)."""

from __future__ import annotations

import unicodedata

MAX_INDEXED = 255


def normalize(value: str) -> str:
    """Lower-case, accents removed, whitespace collapsed; what default string search compares."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())[:MAX_INDEXED]


_SOUNDEX = {
    c: d
    for d, letters in {"1": "bfpv", "2": "cgjkqsxz", "3": "dt", "4": "l", "5": "mn", "6": "r"}.items()
    for c in letters
}


def soundex(word: str) -> str:
    """American Soundex of one word (``Robert`` -> ``R163``); empty for a word without letters."""
    letters = [c for c in normalize(word) if c.isalpha() and c.isascii()]
    if not letters:
        return ""
    code, previous = letters[0].upper(), _SOUNDEX.get(letters[0], "")
    for char in letters[1:]:
        digit = _SOUNDEX.get(char, "")
        if digit and digit != previous:
            code += digit
        if char not in "hw":
            previous = digit
    return (code + "000")[:4]
