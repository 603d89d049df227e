"""The home page's data: the resource types of the clinic the viewer may search, with how many of each they see.

Each count is the search service's own ``_summary=count`` search of the type (the same query, access rule and
clinic bound as ``GET [base]/[type]?_summary=count``), so a count never includes a row the viewer could not find.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.fhir.search import params
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.search.service import search
from mappings.registry import MAPPINGS

COUNT = [("_summary", "count")]


@dataclass(frozen=True)
class TypeCount:
    """A resource type and how many of its resources the viewer sees."""

    resource_type: str
    count: int


def searchable_types(access: AccessContext) -> list[str]:
    """The served types ``access`` may search, in alphabetical order."""
    return [t for t in sorted(MAPPINGS) if access.may(t, "search-type")]


def type_counts(
    session: Session, access: AccessContext, limits: SearchLimits, base_url: str, key: bytes
) -> list[TypeCount]:
    """Every type ``access`` may search, with its count (see the module), in alphabetical order."""
    counts = []
    for resource_type in searchable_types(access):
        query = params.parse(resource_type, COUNT, limits)
        bundle = search(session, access, query, base_url, f"{base_url}/{resource_type}", key)
        counts.append(TypeCount(resource_type, int(bundle.get("total", 0))))
    return counts
