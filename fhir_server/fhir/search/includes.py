"""``_include`` and ``_revinclude`` (http://hl7.org/fhir/R4/search.html#include), with ``:iterate``.

Targets are found through the reference index of the exact versions on the page and loaded as they were at the
search's instant, under the same access rules as the matches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from fhir_server.db import ResourceHistory, SearchReference, SearchUri
from fhir_server.db.fhir import same_version
from fhir_server.fhir.search.params import Include, SearchQuery
from fhir_server.fhir.search.sql import Scope, like_escape, local_reference, visible

MAX_ROUNDS = 5
MAX_INCLUDED = 1000
"""Included resources per page at most (each query stops there too: a patient with 5,000 appointments costs a
page of them, not all)."""


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
        new = [r for r in _unique(_one_round(session, scope, specs, frontier)) if _key(r) not in seen]
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


def _unique(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in resources:
        found.setdefault(_key(resource), resource)
    return list(found.values())


def _visible_as(h: Any, types: set[str], scope: Scope) -> ColumnElement[bool]:
    return or_(*(visible(h, t, scope) for t in sorted(types)))


def _forward(session: Session, scope: Scope, spec: Include, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets of the sources' references: the reference rows of the page's versions first (an index lookup),
    then the targets named by type and id, then (only when some reference is a canonical URL) the resources whose
    ``url`` it names. Each query is bounded by the page, never by the table."""
    rows = references(session, spec, sources)
    by_id = local_targets(rows, spec, scope.base_url)
    types = {spec.target_type} if spec.target_type else served_types()
    canonicals = {url for t, _, url in rows if t is None and url is not None}
    found = _by_id(session, scope, by_id) if by_id else []
    if canonicals:
        found.extend(_by_canonical(session, scope, types, canonicals))
    return _unique(found)


def references(session: Session, spec: Include, sources: list[dict[str, Any]]) -> list[Any]:
    """The (target type, target id, url) rows of the references ``spec`` follows from the ``sources`` versions."""
    ref = aliased(SearchReference)
    of_sources: list[ColumnElement[bool]] = [
        tuple_(ref.resource_type, ref.resource_id, ref.version_id).in_(_version_keys(sources))
    ]
    if spec.param != "*":
        of_sources.append(ref.param == spec.param)
    return list(session.execute(select(ref.target_type, ref.target_id, ref.url).where(*of_sources).distinct()).all())


def local_targets(rows: list[Any], spec: Include, base_url: str) -> set[tuple[str, str]]:
    """The (type, id) of this server's resources that reference ``rows`` name, of the types ``spec`` includes."""
    types = {spec.target_type} if spec.target_type else served_types()
    ours = base_url + "/"
    return {(t, i) for t, i, url in rows if t in types and i is not None and (url is None or url.startswith(ours))}


def _by_id(session: Session, scope: Scope, keys: set[tuple[str, str]]) -> list[dict[str, Any]]:
    target = aliased(ResourceHistory)
    statement = select(target.resource).where(
        tuple_(target.resource_type, target.resource_id).in_(sorted(keys)),
        _visible_as(target, {t for t, _ in keys}, scope),
    )
    return list(session.scalars(statement.limit(MAX_INCLUDED)))


def canonical_candidates(url: str) -> set[str]:
    """The ``url`` values a canonical reference names: itself and, for ``url|version``, each part before a ``|``
    (http://hl7.org/fhir/R4/references.html#canonical)."""
    parts = url.split("|")
    return {url, *("|".join(parts[:n]) for n in range(1, len(parts)))}


def _by_canonical(session: Session, scope: Scope, types: set[str], urls: set[str]) -> list[dict[str, Any]]:
    target = aliased(ResourceHistory)
    uri = aliased(SearchUri)
    candidates = sorted(set().union(*(canonical_candidates(u) for u in urls)))
    statement = (
        select(target.resource)
        .join(
            uri,
            same_version(uri, target),
        )
        .where(uri.param == "url", uri.uri.in_(candidates), _visible_as(target, types, scope))
    )
    return list(session.scalars(statement.limit(MAX_INCLUDED)))


def _reverse(session: Session, scope: Scope, spec: Include, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The resources referring to the targets: by type and id (an index lookup on the reference's target), and,
    only when some target has a ``url``, by canonical references to it. Each is a semi-join (no DISTINCT over the
    resources' JSON), so it stops at :data:`MAX_INCLUDED`."""
    ref = aliased(SearchReference)
    named = tuple_(ref.target_type, ref.target_id).in_(sorted({_key(t) for t in targets}))
    found = _referring(session, scope, spec, ref, and_(named, local_reference(ref, scope)))
    urls = _urls(session, targets)
    if urls:
        ref = aliased(SearchReference)
        versioned = [ref.url.like(like_escape(u) + "|%", escape="\\") for u in urls]
        found.extend(
            _referring(session, scope, spec, ref, and_(ref.target_type.is_(None), or_(ref.url.in_(urls), *versioned)))
        )
    return _unique(found)


def _referring(
    session: Session, scope: Scope, spec: Include, ref: Any, names: ColumnElement[bool]
) -> list[dict[str, Any]]:
    """Versions of the spec's source types (visible to the caller) with a reference row ``ref`` meeting ``names``."""
    source = aliased(ResourceHistory)
    on_source = [
        same_version(ref, source),
        names,
    ]
    if spec.param != "*":
        on_source.append(ref.param == spec.param)
    types = served_types() if spec.source_type == "*" else {spec.source_type}
    statement = select(source.resource).where(_visible_as(source, types, scope), exists().where(*on_source))
    return list(session.scalars(statement.limit(MAX_INCLUDED)))


def _urls(session: Session, resources: list[dict[str, Any]]) -> list[str]:
    """The ``url`` index values of these versions (canonical resources have one)."""
    uri = aliased(SearchUri)
    keys = tuple_(uri.resource_type, uri.resource_id, uri.version_id).in_(_version_keys(resources))
    return sorted(set(session.scalars(select(uri.uri).where(keys, uri.param == "url"))))


def served_types() -> set[str]:
    """The served resource types (what an include naming no type reaches)."""
    from mappings.registry import MAPPINGS

    return set(MAPPINGS)
