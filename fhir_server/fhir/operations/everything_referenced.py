"""The second part of a ``$everything`` record: the resources of types outside the Patient compartment that the
record's members reference (Practitioner, Organization, Location, Medication, and by canonical URL Questionnaire,
ValueSet...), http://hl7.org/fhir/R4/patient-operation-everything.html ("any resource referenced from those").

Each appears once in the whole record, not once per page that refers to it: they are keyset-paged on (type, id) over
the same snapshot as the members, after the last member. Finding them reads the reference index of every member
version (the record's size, not the table's); the visibility test is ORed over the types actually referenced only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, select, true, tuple_, union
from sqlalchemy.orm import Session, aliased

from fhir_server.db import ResourceHistory, SearchReference, SearchUri
from fhir_server.db.fhir import same_version
from fhir_server.fhir.search.includes import served_types
from fhir_server.fhir.search.sql import Scope, local_reference, names_url, visible

Keys = Select[str, str, int]  # (resource_type, resource_id, version_id) of versions


def referenced_page(
    session: Session,
    scope: Scope,
    members: Subquery,
    member_types: set[str],
    after: tuple[str, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The first ``limit`` resources in (type, id) order after ``after`` that the ``members`` versions (a subquery
    of ``resource_type``, ``resource_id``, ``version_id``) reference, of types not in ``member_types``, visible to
    the caller at the snapshot; each once."""
    others = served_types() - member_types
    by_id_types = _referenced_types(session, members, others)
    parts = [_by_id(scope, members, t, after) for t in sorted(by_id_types)]
    parts.extend(_by_url(scope, members, t, after) for t in sorted(_canonical_types(session, members, others)))
    return first_versions(session, parts, limit)


def first_versions(session: Session, parts: list[Select[str, str, int]], limit: int) -> list[dict[str, Any]]:
    """The resources of the first ``limit`` version keys (``resource_type``, ``resource_id``, ``version_id``) of
    the union of ``parts``, in (type, id) order."""
    if not parts:
        return []
    keys = (union(*parts) if len(parts) > 1 else parts[0].distinct()).subquery()  # each key once
    h = aliased(ResourceHistory)
    statement = (
        select(h.resource)
        .join(keys, same_version(h, keys.c))
        .order_by(keys.c.resource_type, keys.c.resource_id)
        .limit(limit)
    )
    return [r for r in session.scalars(statement) if r is not None]


def _referenced_types(session: Session, members: Subquery, types: set[str]) -> set[str]:
    """The types among ``types`` that some member names by type and id."""
    ref = aliased(SearchReference)
    statement = (
        select(ref.target_type)
        .join(members, same_version(ref, members.c))
        .where(ref.target_type.in_(sorted(types)))
        .distinct()
    )
    return {t for t in session.scalars(statement) if t is not None}


def _canonical_types(session: Session, members: Subquery, types: set[str]) -> set[str]:
    """The types among ``types`` of which some member names a resource by canonical URL."""
    ref, uri = aliased(SearchReference), aliased(SearchUri)
    statement = (
        select(uri.resource_type)
        .select_from(ref)
        .join(members, same_version(ref, members.c))
        .join(uri, names_url(ref, uri))
        .where(uri.resource_type.in_(sorted(types)))
        .distinct()
    )
    return set(session.scalars(statement))


def _after(target: Any, after: tuple[str, str] | None) -> ColumnElement[bool]:
    if after is None:
        return true()
    return tuple_(target.resource_type, target.resource_id) > tuple_(*after)


def _by_id(scope: Scope, members: Subquery, resource_type: str, after: tuple[str, str] | None) -> Keys:
    """Keys of the visible ``resource_type`` versions the members name by type and id."""
    ref, target = aliased(SearchReference), aliased(ResourceHistory)
    return (
        select(target.resource_type, target.resource_id, target.version_id)
        .join(ref, and_(ref.target_type == target.resource_type, ref.target_id == target.resource_id))
        .join(members, same_version(ref, members.c))
        .where(local_reference(ref, scope), visible(target, resource_type, scope), _after(target, after))
    )


def _by_url(scope: Scope, members: Subquery, resource_type: str, after: tuple[str, str] | None) -> Keys:
    """Keys of the visible ``resource_type`` versions the members name by canonical URL."""
    ref, uri, target = aliased(SearchReference), aliased(SearchUri), aliased(ResourceHistory)
    return (
        select(target.resource_type, target.resource_id, target.version_id)
        .join(uri, same_version(uri, target))
        .join(ref, names_url(ref, uri))
        .join(members, same_version(ref, members.c))
        .where(visible(target, resource_type, scope), _after(target, after))
    )
