"""Values of the FHIR primitive types (http://hl7.org/fhir/R4/datatypes.html#primitive), as they appear in JSON.

Each strategy draws values of the type's value space (dates that exist, instants with a zone of at most 14 hours,
32-bit integers, base64 of real bytes...) and every value is checked against the regex the type's
StructureDefinition gives (:func:`tests.roundtrip.definitions.regex`), so a value that the definition would refuse
is a bug of this module rather than a finding. Strings are short (the generated resources stay small) but use
the whole of Unicode that FHIR allows in a string: letters of every script, digits, punctuation, symbols, inner
spaces, line breaks and tabs. Left out of the value space: leap seconds (``:60``; no clinic system produces
them and Python's datetime cannot hold them), the first and last day of the calendar (see :func:`_years`), control
characters in strings (R4: strings SHOULD NOT hold them) and UUIDs of versions other than 4 (fhir.resources, which
the server validates with, refuses them).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import date, time
from functools import cache
from typing import Any

from hypothesis import strategies as st

from tests.roundtrip.definitions import regex

MAX_TEXT = 16
_TEXT_CHARACTERS = st.characters(categories=("L", "N", "P", "S"), exclude_characters="\u2028\u2029")
_TOKEN = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"),
    min_size=1,
    max_size=10,
)
_ID = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."),
    min_size=1,
    max_size=20,
)
_INT32 = 2**31 - 1


def _text(max_size: int = MAX_TEXT) -> st.SearchStrategy[str]:
    """Non-blank text: words of any script, joined by spaces, line breaks or tabs."""
    word = st.text(alphabet=_TEXT_CHARACTERS, min_size=1, max_size=8)
    separator = st.sampled_from([" ", " ", " ", "\n", "\t", "  "])
    pieces = st.lists(st.tuples(separator, word), max_size=2)
    return st.builds(lambda first, rest: first + "".join(s + w for s, w in rest), word, pieces).map(
        lambda text: text[:max_size]
    )


def _offset() -> st.SearchStrategy[str]:
    """A zone: Z, or an offset of -14:00 to +14:00 (``(0[0-9]|1[0-3]):[0-5][0-9]|14:00``)."""
    minutes = st.integers(-14 * 60, 14 * 60)
    return st.one_of(st.just("Z"), minutes.map(_offset_text))


def _offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def _clock(with_fraction: bool = True) -> st.SearchStrategy[str]:
    """hh:mm:ss with 0 to 9 digits of fraction."""
    fraction = st.one_of(
        st.just(""), st.integers(1, 9).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n))
    )
    times = st.times().map(lambda t: t.replace(microsecond=0))
    if not with_fraction:
        return times.map(time.isoformat)
    return st.builds(lambda t, f: t.isoformat() + (f".{f}" if f else ""), times, fraction)


def _years() -> st.SearchStrategy[date]:
    """Dates of the years 1 to 9999, but for the first and last day: an instant on those days with a zone
    offset can fall outside them in UTC, which no database holds (tests/roundtrip/test_edge_values.py pins what
    the server answers then)."""
    return st.dates(min_value=date(1, 1, 2), max_value=date(9999, 12, 30))


def _partial_date() -> st.SearchStrategy[str]:
    return st.one_of(
        _years().map(lambda d: d.isoformat()),
        _years().map(lambda d: f"{d.year:04d}"),
        _years().map(lambda d: f"{d.year:04d}-{d.month:02d}"),
    )


def _instant() -> st.SearchStrategy[str]:
    return st.builds(lambda d, c, z: f"{d.isoformat()}T{c}{z}", _years(), _clock(), _offset())


def _date_time() -> st.SearchStrategy[str]:
    return st.one_of(_partial_date(), _instant())


def _decimal() -> st.SearchStrategy[Any]:
    """JSON numbers: integers and floats, small and (rarely) very large or very small."""
    return st.one_of(
        st.integers(-1000, 1000),
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda f: round(f, 3)),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30),
    )


def _uri() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, b: f"http://example.org/{a}/{b}", _TOKEN, _TOKEN),
        _uuid(),
        _oid(),
    )


def _canonical() -> st.SearchStrategy[str]:
    version = st.one_of(st.just(""), _TOKEN.map(lambda v: f"|{v}"))
    return st.builds(lambda a, v: f"http://example.org/fhir/{a}{v}", _TOKEN, version)


def _oid() -> st.SearchStrategy[str]:
    arcs = st.lists(st.integers(0, 99999).map(str), min_size=1, max_size=5)
    return st.builds(lambda root, rest: "urn:oid:" + ".".join([root, *rest]), st.sampled_from("012"), arcs)


def _uuid() -> st.SearchStrategy[str]:
    """``urn:uuid:`` and a version 4 UUID: fhir.resources takes no other version, though R4's regex would."""
    return st.uuids(version=4).map(lambda u: f"urn:uuid:{u}")


def _code() -> st.SearchStrategy[str]:
    return st.lists(_TOKEN, min_size=1, max_size=2).map(" ".join)


def _base64() -> st.SearchStrategy[str]:
    return st.binary(min_size=1, max_size=12).map(lambda b: base64.b64encode(b).decode("ascii"))


_STRATEGIES: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "boolean": st.booleans,
    "integer": lambda: st.integers(-_INT32 - 1, _INT32),
    "positiveInt": lambda: st.integers(1, _INT32),
    "unsignedInt": lambda: st.integers(0, _INT32),
    "decimal": _decimal,
    "string": _text,
    "markdown": _text,
    "code": _code,
    "id": lambda: _ID,
    "uri": _uri,
    "url": lambda: st.builds(lambda a, b: f"https://example.org/{a}/{b}", _TOKEN, _TOKEN),
    "canonical": _canonical,
    "oid": _oid,
    "uuid": _uuid,
    "base64Binary": _base64,
    "date": _partial_date,
    "dateTime": _date_time,
    "instant": _instant,
    "time": _clock,
}


def _checked(type_code: str, value: Any) -> Any:
    """``value``, after checking its JSON text against the type's regex (a mismatch is a bug of this module)."""
    pattern = regex(type_code)
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if pattern is not None and not re.fullmatch(pattern, text):
        raise AssertionError(f"generated {type_code} {value!r} does not match {pattern}")
    return value


@cache
def primitive(type_code: str) -> st.SearchStrategy[Any]:
    """Values of the primitive type ``type_code``."""
    return _STRATEGIES[type_code]().map(lambda value: _checked(type_code, value))


@cache
def text(max_size: int = MAX_TEXT) -> st.SearchStrategy[str]:
    return _text(max_size).map(lambda value: _checked("string", value))


def identifier_token() -> st.SearchStrategy[str]:
    return _ID


def instants() -> st.SearchStrategy[str]:
    return _instant().map(lambda value: _checked("instant", value))
