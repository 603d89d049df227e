"""The resource types this server serves, and the check that a URL names one of them."""

from __future__ import annotations

from functools import cache

from starlette.requests import Request

from fhir_server.errors import bad_request, not_found
from fhir_server.fhir.primitive_formats import shown
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


PATH_IDS = ("resource_id", "patient_id")
"""The path parameters of the FHIR routes that name a resource by its id."""


def storable(value: str, expression: str) -> str:
    """``value`` when the database can compare it; 400 naming ``expression`` when it holds U+0000, which no FHIR
    string or id holds and PostgreSQL's text type cannot (so nothing could match it, on any database)."""
    if "\x00" in value:
        where = expression.replace("\x00", "\\u0000")
        raise bad_request(f"{where}: the character U+0000 is not accepted ({shown(value)})", where)
    return value


def storable_path_ids(request: Request) -> None:
    """The FHIR router's dependency: 400 (:func:`storable`) when the path names a resource by an id holding
    U+0000, before any route looks it up. Other ids outside FHIR's id syntax are left to the routes (a read of one
    answers 404, an update 400)."""
    for name in PATH_IDS:
        value = request.path_params.get(name)
        if value is not None:
            storable(value, "id")


@cache
def r4_resource_types() -> frozenset[str]:
    """Every FHIR R4 resource type, served here or not (``Parameters`` aside: no scope names it)."""
    return frozenset(stored.r4_resource_types())
