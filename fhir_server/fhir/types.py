"""The resource types this server serves, and the check that a URL names one of them."""

from __future__ import annotations

import re

from fhir_server.fhir.outcomes import FhirError, not_found
from mappings.registry import MAPPINGS

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def served_type(name: str) -> str:
    """``name`` when it is a served resource type; 404 otherwise."""
    if name not in MAPPINGS:
        raise not_found(f"resource type {name!r} is not served here")
    return name


def valid_id(value: str, expression: str = "id") -> str:
    """``value`` when it is a valid FHIR id ([A-Za-z0-9-.]{1,64}); 400 otherwise."""
    if not FHIR_ID.match(value):
        raise FhirError.of(400, "invalid", f"{value!r} is not a valid FHIR id", expression)
    return value
