"""``_include`` and ``_revinclude`` (http://hl7.org/fhir/R4/search.html#include), with ``:iterate``.

Targets are found through the reference index of the exact versions on the page and loaded as they were at the
search's instant, under the same access rules as the matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from fhir_server.db import ResourceHistory, SearchReference, SearchToken, SearchUri
from fhir_server.db.fhir import same_version
from fhir_server.errors import Issue
from fhir_server.fhir.search.params import Include, SearchQuery
from fhir_server.fhir.search.sql import Scope, local_reference, visible

MAX_ROUNDS = 5
MAX_INCLUDED = 1000
"""Included resources per page at most (each query stops there too: a patient with 5,000 appointments costs a
page of them, not all). Beyond either limit the Bundle says what was left out (:meth:`Included.issues`)."""


@dataclass
class Included:
    """The resources the includes of one page bring in, and what a limit cut from them (empty when nothing)."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    cut_at_count: bool = False
    cut_at_rounds: bool = False

    def issues(self) -> list[Issue]:
        """The warnings saying which limit cut the includes, what was left out and how to get the rest (said in the
        searchset's OperationOutcome entry, http://hl7.org/fhir/R4/search.html#errors)."""
        issues = []
        if self.cut_at_count:
            text = (
                f"_include/_revinclude: at most {MAX_INCLUDED} included resources per page; more were found and left "
                "out. Ask for smaller pages (_count) to get them all, page by page"
            )
            issues.append(Issue("incomplete", text, ("_include",), severity="warning"))
        if self.cut_at_rounds:
            text = (
                f"_include:iterate/_revinclude:iterate follows at most {MAX_ROUNDS} rounds; the resources of further "
                "rounds were left out. Search again from the resources of the last round to follow them"
            )
            issues.append(Issue("incomplete", text, ("_include",), severity="warning"))
        return issues


def _key(resource: dict[str, Any]) -> tuple[str, str]:
    return resource["resourceType"], resource["id"]


def included(session: Session, query: SearchQuery, scope: Scope, matches: list[dict[str, Any]]) -> Included:
    """Every resource the includes bring in, none of them a match, each once; at most :data:`MAX_INCLUDED` of them
    and :data:`MAX_ROUNDS` rounds of ``:iterate``, saying so when that cuts the result."""
    result = Included()
    if not query.includes or not matches:
        return result
    seen = {_key(r) for r in matches}
    frontier = matches
    iterating = any(i.iterate for i in query.includes)
    for round_number in range(MAX_ROUNDS + 1):
        specs = [i for i in query.includes if round_number == 0 or i.iterate]
        found, cut = _one_round(session, scope, specs, frontier)
        new = [r for r in _unique(found) if _key(r) not in seen]
        if new and round_number == MAX_ROUNDS:
            result.cut_at_rounds = True
            break
        seen.update(_key(r) for r in new)
        result.resources.extend(new)
        result.cut_at_count = result.cut_at_count or cut or len(result.resources) > MAX_INCLUDED
        if not new or result.cut_at_count or not iterating:
            break
        frontier = new
    del result.resources[MAX_INCLUDED:]
    return result


def _one_round(
    session: Session, scope: Scope, specs: list[Include], frontier: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], bool]:
    """The resources ``specs`` reach from ``frontier``, and whether one spec reached more than :data:`MAX_INCLUDED`
    (its queries stop one beyond)."""
    results: list[dict[str, Any]] = []
    cut = False
    for spec in specs:
        sources = [r for r in frontier if spec.reverse or spec.source_type in ("*", r["resourceType"])]
        if sources:
            found = _reverse(session, scope, spec, sources) if spec.reverse else _forward(session, scope, spec, sources)
            cut = cut or len(found) > MAX_INCLUDED
            results.extend(found)
    return results, cut


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
    return list(session.scalars(statement.limit(MAX_INCLUDED + 1)))


def _names(uri: Any, canonical: str) -> ColumnElement[bool]:
    """The ``url`` index row ``uri`` is of a version ``canonical`` names: its URL, and its version when the
    canonical pins one with ``|version`` (http://hl7.org/fhir/R4/references.html#canonical)."""
    url, _, version = canonical.partition("|")
    if not version:
        return uri.uri == url  # type: ignore[no-any-return]
    pinned = aliased(SearchToken)
    return and_(
        uri.uri == url,
        exists().where(same_version(pinned, uri), pinned.param == "version", pinned.code == version),
    )


def _by_canonical(session: Session, scope: Scope, types: set[str], urls: set[str]) -> list[dict[str, Any]]:
    target = aliased(ResourceHistory)
    uri = aliased(SearchUri)
    statement = (
        select(target.resource)
        .join(
            uri,
            same_version(uri, target),
        )
        .where(uri.param == "url", or_(*(_names(uri, u) for u in sorted(urls))), _visible_as(target, types, scope))
    )
    return list(session.scalars(statement.limit(MAX_INCLUDED + 1)))


def _reverse(session: Session, scope: Scope, spec: Include, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The resources referring to the targets: by type and id (an index lookup on the reference's target), and,
    only when some target has a ``url``, by canonical references to it. Each is a semi-join (no DISTINCT over the
    resources' JSON), so it stops at :data:`MAX_INCLUDED`."""
    ref = aliased(SearchReference)
    named = tuple_(ref.target_type, ref.target_id).in_(sorted({_key(t) for t in targets}))
    found = _referring(session, scope, spec, ref, and_(named, local_reference(ref, scope)))
    urls = _canonicals(session, targets)
    if urls:
        ref = aliased(SearchReference)
        found.extend(_referring(session, scope, spec, ref, and_(ref.target_type.is_(None), ref.url.in_(urls))))
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
    return list(session.scalars(statement.limit(MAX_INCLUDED + 1)))


def _canonicals(session: Session, resources: list[dict[str, Any]]) -> list[str]:
    """The canonical references that name these versions: each one's ``url``, and ``url|version`` when it has a
    ``version``."""
    uri, version = aliased(SearchUri), aliased(SearchToken)
    keys = tuple_(uri.resource_type, uri.resource_id, uri.version_id).in_(_version_keys(resources))
    statement = (
        select(uri.uri, version.code)
        .outerjoin(version, and_(same_version(version, uri), version.param == "version"))
        .where(keys, uri.param == "url")
    )
    rows = session.execute(statement).all()
    return sorted({u for u, _ in rows} | {f"{u}|{v}" for u, v in rows if v is not None})


def served_types() -> set[str]:
    """The served resource types (what an include naming no type reaches)."""
    from mappings.registry import MAPPINGS

    return set(MAPPINGS)
