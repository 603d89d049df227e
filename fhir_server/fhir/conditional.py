"""Conditional create, update and delete (http://hl7.org/fhir/R4/http.html#ccreate, #cond-update, #cdelete).

The search that decides and the write it decides run in one transaction, behind a lock on the resource type:
PostgreSQL takes a transaction-scoped advisory lock, SQLite's writers are serialized already (BEGIN IMMEDIATE).
So two concurrent conditional creates with the same criteria never make two resources.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from fhir_server.access.context import AccessContext
from fhir_server.access.enforcement import require
from fhir_server.db import ResourceHistory
from fhir_server.errors import Kind, bad_request, fail, precondition_failed
from fhir_server.fhir import repository
from fhir_server.fhir.search import params
from fhir_server.fhir.search.executor import matches_clause
from fhir_server.fhir.search.indexer import flush_index
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.search.sql import Scope

_CURRENT = datetime.max.replace(tzinfo=UTC)
"""As-of instant meaning "the current versions, including this transaction's own writes"."""


def lock_type(session: Session, resource_type: str) -> None:
    """Serialize conditional writes of ``resource_type`` until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"fhir-server conditional write {resource_type}".encode()).digest()
        session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True))))


def matching_ids(
    session: Session,
    access: AccessContext,
    resource_type: str,
    criteria: str,
    base_url: str,
    limits: SearchLimits,
    limit: int = 2,
    interaction: str = "search-type",
) -> list[str]:
    """Ids of up to ``limit`` current resources matching the query string ``criteria`` among those the caller may
    reach for ``interaction`` (403 when the token does not permit it on the type)."""
    require(access, resource_type, interaction)
    pairs = parse_qsl(criteria.lstrip("?"), keep_blank_values=True)
    if not pairs:
        raise bad_request(f"conditional criteria are empty for {resource_type}", code="invalid")
    query = params.parse(resource_type, pairs, limits)
    flush_index(session)  # this transaction's own writes must be searchable
    if not query.criteria:
        raise bad_request(f"conditional criteria {criteria!r} select nothing (only result parameters)")
    h = aliased(ResourceHistory)
    scope = Scope(as_of=_CURRENT, base_url=base_url, restrict=access.search_restriction(interaction))
    statement = select(h.resource_id).where(matches_clause(h, query, scope)).order_by(h.resource_id).limit(limit)
    return list(session.scalars(statement))


def one_match(
    session: Session,
    access: AccessContext,
    resource_type: str,
    criteria: str,
    base_url: str,
    limits: SearchLimits,
    interaction: str,
) -> str | None:
    """The id of the one current resource ``criteria`` match for a conditional ``interaction`` (None: no match),
    behind :func:`lock_type` until the transaction ends; 412 when several match (http.html#ccreate, #cond-update,
    #cdelete, and a transaction entry's ``ifNoneExist`` or conditional url)."""
    lock_type(session, resource_type)
    found = matching_ids(session, access, resource_type, criteria, base_url, limits, interaction=interaction)
    if len(found) > 1:
        raise precondition_failed(f"{resource_type}?{criteria.lstrip('?')} matches more than one resource")
    return found[0] if found else None


def resolve_reference(
    session: Session, access: AccessContext, reference: str, base_url: str, limits: SearchLimits
) -> str:
    """``Type/id`` of the one resource the conditional reference ``Type?criteria`` names (http.html#trules: resolved
    inside a transaction); 412 when it matches none or several."""
    resource_type, criteria = reference.split("?", 1)
    found = matching_ids(session, access, resource_type, criteria, base_url, limits)
    if len(found) != 1:
        count = "no" if not found else "more than one"
        raise precondition_failed(f"the conditional reference {reference} matches {count} resource")
    return f"{resource_type}/{found[0]}"


def create(
    session: Session,
    access: AccessContext,
    resource: dict[str, Any],
    criteria: str,
    base_url: str,
    limits: SearchLimits,
) -> repository.Written:
    """``If-None-Exist``: no match creates; one match returns it unchanged (created False); several: 412."""
    resource_type = resource["resourceType"]
    existing = one_match(session, access, resource_type, criteria, base_url, limits, "create")
    if existing is not None:
        return repository.Written(repository.read(session, access, resource_type, existing), created=False)
    return repository.create(session, access, resource, base_url=base_url)


def update(
    session: Session,
    access: AccessContext,
    resource: dict[str, Any],
    criteria: str,
    base_url: str,
    limits: SearchLimits,
    if_match: str | None = None,
) -> repository.Written:
    """``PUT [type]?criteria``: no match creates, one match is updated, several: 412."""
    resource_type = resource["resourceType"]
    existing = one_match(session, access, resource_type, criteria, base_url, limits, "update")
    given_id = resource.get("id")
    if existing is None:
        return repository.create(session, access, resource, given_id, base_url=base_url)
    if given_id is not None and given_id != existing:
        raise bad_request(
            f"the resource id {given_id!r} is not the id of the match ({existing})", f"{resource_type}.id"
        )
    return repository.update(session, access, {**resource, "id": existing}, existing, if_match, base_url=base_url)


def delete(
    session: Session, access: AccessContext, resource_type: str, criteria: str, base_url: str, limits: SearchLimits
) -> bool:
    """``DELETE [type]?criteria``: deletes the one match (False when none matches); several: 412."""
    existing = one_match(session, access, resource_type, criteria, base_url, limits, "delete")
    if existing is None:
        return False
    return repository.delete(session, access, resource_type, existing)


def require_criteria(query: str, method: str, resource_type: str) -> None:
    """405 for ``PUT`` or ``DELETE [type]`` without a query: a conditional update or delete needs search criteria,
    and the type itself is not updated or deleted (http.html#cond-update, #cdelete)."""
    if not query.strip():
        interaction = "update" if method == "PUT" else "delete"
        wanted = f"search criteria (a conditional {interaction}) or an id ({method} {resource_type}/[id])"
        raise fail(Kind.NOT_ALLOWED, f"{method} {resource_type} needs {wanted}")
