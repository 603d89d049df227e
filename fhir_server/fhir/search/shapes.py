"""What the R4 StructureDefinitions say about the values a search parameter indexes, for planning its SQL.

A parameter whose expression is a plain element path (``Patient.birthDate``) with at most one value at every
step (``max`` 1) indexes at most one row per resource version, so criteria on it may be tested on the same row.
A date parameter on ``date``, ``dateTime`` or ``instant`` elements (no Period, no Timing) indexes ranges no wider
than a year of 366 days (its coarsest precision), so a lower bound on ``high`` bounds ``low`` as well: the date
index's range scan can then start near the answer instead of at the table's first row.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache

from fhir_server.fhir.search.registry import SearchParameter
from fhir_server.fhir.structure import children, load_bundles

_PLAIN_PATH = re.compile(r"[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*)+")
_POINT_TYPES = frozenset({"date", "dateTime", "instant"})
WIDEST_POINT = timedelta(days=366)
"""The widest range one date, dateTime or instant covers (a year, at year precision)."""


@cache
def _max_cardinality() -> dict[tuple[str, str], str]:
    """(structure, element path) -> the element's ``max`` ("1", "*", ...)."""
    found: dict[tuple[str, str], str] = {}
    for sd in load_bundles():
        if sd.get("resourceType") != "StructureDefinition" or sd.get("derivation") == "constraint":
            continue
        for element in sd.get("snapshot", {}).get("element", []):
            found[(sd["type"], element["path"])] = str(element.get("max", "*"))
    return found


@cache
def _single_path_type(expression: str) -> str | None:
    """The type of the element ``expression`` names when it is a plain path of single elements; else None."""
    if not _PLAIN_PATH.fullmatch(expression):
        return None
    steps = expression.split(".")
    owner, parent, type_code = steps[0], steps[0], None
    for name in steps[1:]:
        found = children(owner, parent).get(name)
        if found is None:
            return None
        element, type_code = found
        if _max_cardinality().get((owner, element.path)) != "1":
            return None
        nested = type_code in {"BackboneElement", "Element"}
        owner, parent = (owner, element.path) if nested else (type_code, type_code)
    return type_code


def single_valued(param: SearchParameter) -> bool:
    """``param`` indexes at most one value per resource version."""
    return _single_path_type(param.expression) is not None


def widest_date(param: SearchParameter) -> timedelta | None:
    """The widest range a value of date parameter ``param`` can cover, when the definitions bound it."""
    return WIDEST_POINT if _single_path_type(param.expression) in _POINT_TYPES else None
