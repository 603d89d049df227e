"""The invariants of the R4 StructureDefinitions (``constraint`` of severity error), checked strictly on generated
JSON: the server's own evaluation (:mod:`fhir_server.fhir.invariants`), where an expression fhirpathpy cannot
evaluate, or a comparison the data cannot decide (per-1 between values of different precision that overlap,
rng-2 between different units), counts as broken, so a generator never relies on a value the server might
refuse for want of evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir_server.fhir import invariants
from fhir_server.fhir.invariants import Declared, strings
from fhir_server.fhir.structure import Constraint as Invariant
from tests.roundtrip.definitions import Constraint

__all__ = ["broken", "holds", "strings", "violations"]


def holds(constraint: Constraint, value: Any, base: str, resource: Mapping[str, Any]) -> bool:
    """True when ``constraint`` holds for ``value``, an instance of the element or type ``base``.

    ``base`` is a type name for a resource or a data type, the element's path for a backbone element.
    """
    invariant = Invariant(constraint.key, "", constraint.expression)
    return invariants.holds(invariant, Declared((invariant,), value, base, base, resource, resource), strict=True)


def broken(value: Any, base: str, constraints: tuple[Constraint, ...], resource: Mapping[str, Any]) -> list[str]:
    """The keys of ``constraints`` that ``value`` breaks."""
    return [c.key for c in constraints if not holds(c, value, base, resource)]


def violations(resource: Mapping[str, Any]) -> list[str]:
    """Every invariant a resource breaks, at every depth, as ``key at expression``."""
    return [f"{c.key} at {where}" for c, where in invariants.broken(resource, strict=True)]
