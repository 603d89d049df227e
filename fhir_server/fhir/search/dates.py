"""FHIR dates as ranges: every date, dateTime, instant and Period covers [low, high] at its precision
(http://hl7.org/fhir/R4/search.html#date). ``2026`` is the whole year; a dateTime without a zone is read in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fhir_server.errors import bad_request

_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_ZONE = re.compile(r"(?:Z|[+-]\d{2}:\d{2})$")
MIN = datetime(1, 1, 1, tzinfo=UTC)
MAX = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_TICK = timedelta(microseconds=1)


def date_range(value: str) -> tuple[datetime, datetime]:
    """The instants ``value`` covers; ValueError when it is not a FHIR date/dateTime/instant."""
    match = _DATE.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a FHIR date")
    g = match.groupdict()
    year = int(g["y"])
    if year < MIN.year:  # year 0 has no instants in Python or SQL: not a date any client can mean
        raise ValueError(f"{value!r} is before the year 1")
    if g["m"] is None:
        end = datetime(year + 1, 1, 1, tzinfo=UTC) - _TICK if year < 9999 else MAX
        return datetime(year, 1, 1, tzinfo=UTC), end
    month = int(g["m"])
    if g["d"] is None:
        start = datetime(year, month, 1, tzinfo=UTC)
        if (year, month) == (9999, 12):
            return start, MAX
        following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return start, following - _TICK
    day = datetime(year, month, int(g["d"]), tzinfo=UTC)
    if g["H"] is None:
        return day, last_instant(day, timedelta(days=1))
    return _time_range(value, g)


def instant_range(value: str, parameter: str) -> tuple[datetime, datetime]:
    """:func:`date_range` of a parameter that takes a date or an instant (``_since``, ``_at``, AuditEvent's
    ``date``): a time needs its zone; 400 naming ``parameter`` when ``value`` is neither. An unencoded ``+`` of the
    zone arrives as a space and is read as ``+``."""
    text = value.strip().replace(" ", "+")
    if "T" in text and _ZONE.search(text) is None:
        raise bad_request(f"{parameter} must be a FHIR date or an instant with a time zone, not {value!r}", parameter)
    try:
        return date_range(text)
    except ValueError as exc:
        raise bad_request(f"{parameter}: {exc}", parameter) from None


def last_instant(start: datetime, span: timedelta) -> datetime:
    """The last instant of ``span`` from ``start``; MAX when that would be past the end of year 9999."""
    try:
        return start + span - _TICK
    except OverflowError:
        return MAX


def shifted(instant: datetime, delta: timedelta) -> datetime:
    """``instant + delta``, kept within [MIN, MAX]."""
    try:
        return instant + delta
    except OverflowError:
        return MAX if delta > timedelta(0) else MIN


def _time_range(value: str, g: dict[str, str | None]) -> tuple[datetime, datetime]:
    zone = g["tz"] or "Z"
    seconds = g["S"]
    text = f"{g['y']}-{g['m']}-{g['d']}T{g['H']}:{g['M']}:{seconds or '00'}{g['f'] or ''}"
    local = datetime.fromisoformat(text + zone.replace("Z", "+00:00"))
    try:
        start = local.astimezone(UTC)
    except OverflowError:  # an offset that moves the instant before year 1 or past 9999
        return (MIN, MIN) if local.year == 1 else (MAX, MAX)
    if seconds is None:
        return start, last_instant(start, timedelta(minutes=1))
    if g["f"]:
        digits = len(g["f"]) - 1
        return start, last_instant(start, timedelta(seconds=10 ** -min(digits, 6)))
    return start, last_instant(start, timedelta(seconds=1))


def period_range(period: dict[str, str]) -> tuple[datetime, datetime]:
    """A Period's range; an open end is unbounded."""
    low = date_range(period["start"])[0] if period.get("start") else MIN
    high = date_range(period["end"])[1] if period.get("end") else MAX
    return low, high
