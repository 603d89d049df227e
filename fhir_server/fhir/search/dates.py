"""FHIR dates as ranges: every date, dateTime, instant and Period covers [low, high] at its precision
(http://hl7.org/fhir/R4/search.html#date). ``2026`` is the whole year; a dateTime without a zone is read in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
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
        return day, day + timedelta(days=1) - _TICK
    return _time_range(value, g)


def _time_range(value: str, g: dict[str, str | None]) -> tuple[datetime, datetime]:
    zone = g["tz"] or "Z"
    seconds = g["S"]
    text = f"{g['y']}-{g['m']}-{g['d']}T{g['H']}:{g['M']}:{seconds or '00'}{g['f'] or ''}"
    start = datetime.fromisoformat(text + zone.replace("Z", "+00:00")).astimezone(UTC)
    if seconds is None:
        return start, start + timedelta(minutes=1) - _TICK
    if g["f"]:
        digits = len(g["f"]) - 1
        return start, start + timedelta(seconds=10 ** -min(digits, 6)) - _TICK
    return start, start + timedelta(seconds=1) - _TICK


def period_range(period: dict[str, str]) -> tuple[datetime, datetime]:
    """A Period's range; an open end is unbounded."""
    low = date_range(period["start"])[0] if period.get("start") else MIN
    high = date_range(period["end"])[1] if period.get("end") else MAX
    return low, high
