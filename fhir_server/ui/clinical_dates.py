"""The clinically relevant date of a resource, for the timeline: from the search registry, not a hand-made table.

A type's date is the value of its ``date`` search parameter (the official R4 ``clinical-date``: an Observation's
effective time, an Encounter's period, a Procedure's performance ...), else of the first of its other date parameters
holding a value that dates the event rather than the person or the product (not a birth, death, expiry, abatement or
target date: a MedicationRequest's ``authoredon`` when it has no timing event), else ``meta.lastUpdated``.
A Period counts by its start (its end when it has no start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from fhir_server.fhir.search.dates import MIN, date_range
from fhir_server.fhir.search.fhirpath import evaluate
from fhir_server.fhir.search.registry import SearchParameter, parameters_for

NOT_EVENT_DATES = frozenset({"birthdate", "death-date", "expiration-date", "expiry", "abatement-date", "target-date"})
"""Date parameters that date something other than a clinical event (the person, the product, a goal's target)."""


@dataclass(frozen=True)
class ClinicalDate:
    """When a resource happened (``instant``, UTC, for sorting), the text it was written as, and where it came from
    (the search parameter's code, or ``_lastUpdated``)."""

    instant: datetime
    text: str
    source: str


@cache
def date_parameters(resource_type: str) -> tuple[SearchParameter, ...]:
    """The search parameters that may date a ``resource_type`` as an event, in the order they are tried (see the
    module): ``date`` first, then the type's other event dates in the registry's order."""
    dates = [p for p in parameters_for(resource_type).values() if p.type == "date" and not p.code.startswith("_")]
    events = [p for p in dates if p.code not in NOT_EVENT_DATES]
    return tuple(sorted(events, key=lambda p: p.code != "date"))


def clinical_date(resource: dict[str, Any]) -> ClinicalDate:
    """The date of ``resource`` (see the module); ``meta.lastUpdated`` when none of its own dates is present."""
    for param in date_parameters(resource.get("resourceType", "")):
        for value in evaluate(resource, param.expression):
            found = _start(value)
            if found is not None:
                return ClinicalDate(found[0], found[1], param.code)
    updated = str(resource.get("meta", {}).get("lastUpdated", ""))
    start = _start(updated)
    return ClinicalDate(start[0] if start else MIN, updated, "_lastUpdated")


def _start(value: Any) -> tuple[datetime, str] | None:
    """The instant a date, dateTime, instant or Period begins, with its text; None for anything else."""
    text = value.get("start") or value.get("end") if isinstance(value, dict) else value
    if not isinstance(text, str):
        return None
    try:
        return date_range(text)[0], text
    except ValueError:
        return None
