"""``_include`` and ``_revinclude`` (http://hl7.org/fhir/R4/search.html#include), with ``:iterate``.

Targets are found through the reference index of the exact versions on the page and loaded as they were at the
search's instant, under the same access rules as the matches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from fhir_server.db import ResourceHistory, SearchReference
from fhir_server.fhir.search.params import Include, SearchQuery
from fhir_server.fhir.search.sql import Scope, names_target, visible

MAX_ROUNDS = 5
MAX_INCLUDED = 1000


def _key(resource: dict[str, Any]) -> tuple[str, str]:
    return resource["resourceType"], resource["id"]


def included(session: Session, query: SearchQuery, scope: Scope, matches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every resource the includes bring in, none of them a match, each once."""
    if not query.includes or not matches:
        return []
    seen = {_key(r) for r in matches}
    found: list[dict[str, Any]] = []
    frontier = matches
    for round_number in range(MAX_ROUNDS):
        specs = [i for i in query.includes if round_number == 0 or i.iterate]
        new = [r for r in _one_round(session, scope, specs, frontier) if _key(r) not in seen]
        for resource in new:
            seen.add(_key(resource))
        found.extend(new)
        if not new or len(found) >= MAX_INCLUDED or not any(i.iterate for i in query.includes):
            break
        frontier = new
    return found[:MAX_INCLUDED]


def _one_round(
    session: Session, scope: Scope, specs: list[Include], frontier: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for spec in specs:
        sources = [r for r in frontier if spec.reverse or spec.source_type in ("*", r["resourceType"])]
        if sources:
            results.extend(
                _reverse(session, scope, spec, sources) if spec.reverse else _forward(session, scope, spec, sources)
            )
    return results


def _version_keys(resources: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(r["resourceType"], r["id"], int(r["meta"]["versionId"])) for r in resources]


def _forward(session: Session, scope: Scope, spec: Include, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ref = aliased(SearchReference)
    target = aliased(ResourceHistory)
    link = [
        tuple_(ref.resource_type, ref.resource_id, ref.version_id).in_(_version_keys(sources)),
        names_target(ref, target, scope),
    ]
    if spec.param != "*":
        link.append(ref.param == spec.param)
    types = {spec.target_type} if spec.target_type else _served()
    statement = (
        select(target.resource)
        .join(ref, and_(*link))
        .where(or_(*(visible(target, t, scope) for t in types)))
        .distinct()
    )
    return list(session.scalars(statement))


def _reverse(session: Session, scope: Scope, spec: Include, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ref = aliased(SearchReference)
    source = aliased(ResourceHistory)
    target = aliased(ResourceHistory)
    on_source = [
        ref.resource_type == source.resource_type,
        ref.resource_id == source.resource_id,
        ref.version_id == source.version_id,
    ]
    if spec.param != "*":
        on_source.append(ref.param == spec.param)
    on_target = [
        tuple_(target.resource_type, target.resource_id, target.version_id).in_(_version_keys(targets)),
        names_target(ref, target, scope),
    ]
    types = _served() if spec.source_type == "*" else {spec.source_type}
    statement = (
        select(source.resource)
        .join(ref, and_(*on_source))
        .join(target, and_(*on_target))
        .where(or_(*(visible(source, t, scope) for t in types)))
        .distinct()
    )
    return list(session.scalars(statement))


def _served() -> set[str]:
    from mappings.registry import MAPPINGS

    return set(MAPPINGS)
