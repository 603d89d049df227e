"""What the CapabilityStatement says about searching one resource type: ``searchParam``, ``searchInclude`` and
``searchRevInclude`` (http://hl7.org/fhir/R4/capabilitystatement-definitions.html#CapabilityStatement.rest.resource.searchInclude).

A type searched by the generic search (:mod:`fhir_server.fhir.search`) offers every parameter its registry indexes,
``_include`` of each of its reference parameters (and ``*``), and ``_revinclude`` of every reference parameter of a
searchable type that may point at it (and ``*``). A type whose search route is its own (the published definitions,
AuditEvent) declares the few parameters it supports on the route (:func:`fhir_server.fhir.route_interactions.declares`)
and offers no includes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from fhir_server.fhir.search.registry import SearchParameter, parameters_for

Parameters = Callable[[str], Iterable[SearchParameter]]
"""The search parameters of a type (default: the search registry's)."""
RevIncludes = dict[str, list[str]]
"""Target type -> ``Source:parameter`` of each reference parameter that may point at it."""


def registry_parameters(resource_type: str) -> Iterable[SearchParameter]:
    """Every parameter the search registry indexes for ``resource_type``."""
    return parameters_for(resource_type).values()


def search_part(
    resource_type: str, own: Collection[str] | None, rev_included: RevIncludes, parameters: Parameters
) -> dict[str, Any]:
    """The search elements of ``resource_type``'s entry: ``own`` names the parameters of a search route of its own
    (None: the generic search); ``rev_included`` is :func:`rev_includes` of the types the generic search serves."""
    listed = sorted(parameters(resource_type), key=lambda p: p.code)
    if own is not None:
        return {"searchParam": [p.to_capability() for p in listed if p.code in own]}
    part: dict[str, Any] = {"searchParam": [p.to_capability() for p in listed]}
    part["searchInclude"] = ["*", *(f"{resource_type}:{p.code}" for p in listed if p.type == "reference")]
    part["searchRevInclude"] = ["*", *rev_included.get(resource_type, ())]
    return part


def rev_includes(searchable: Iterable[str], parameters: Parameters) -> RevIncludes:
    """For every type, the ``_revinclude`` values that may bring it in: the reference parameters of the
    ``searchable`` types (the sources the generic search serves), by the types they may point at."""
    found: RevIncludes = {}
    for source in sorted(searchable):
        for p in sorted(parameters(source), key=lambda p: p.code):
            for target in p.targets if p.type == "reference" else ():
                found.setdefault(target, []).append(f"{source}:{p.code}")
    return found
