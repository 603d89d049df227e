"""The resource types this server serves, and the check that a URL names one of them."""

from __future__ import annotations

from functools import cache

from fhir_server.errors import bad_request, not_found
from fhir_server.fhir.primitives import is_id
from mappings import stored
from mappings.registry import MAPPINGS


def served_type(name: str) -> str:
    """``name`` when it is a served resource type; 404 otherwise."""
    if name not in MAPPINGS:
        raise not_found(f"resource type {name!r} is not served here")
    return name


def valid_id(value: str, expression: str = "id") -> str:
    """``value`` when it is a valid FHIR id (:data:`~fhir_server.fhir.primitives.ID`); 400 otherwise."""
    if not is_id(value):
        raise bad_request(f"{value!r} is not a valid FHIR id", expression)
    return value


@cache
def r4_resource_types() -> frozenset[str]:
    """Every FHIR R4 resource type, served here or not (``Parameters`` aside: no scope names it)."""
    return frozenset(stored.r4_resource_types())
