"""The hot read path: read (http://hl7.org/fhir/R4/http.html#read) and vread (#vread) in one SQL statement.

A read serves the stored JSON of the current version from ``resource_history`` (which always equals what the
mappings serve: every internal change is a new version). One statement fetches the version and, as a column,
whether the caller may reach it (the same rule as :meth:`AccessContext.search_restriction`, with the caller's
patient and clinic as bind parameters, so the statement is compiled once per access shape and type). On
PostgreSQL it runs on the event loop's async connection pool, prepared on the server; on SQLite it runs through
the engine off the event loop. No ORM objects and no pydantic models are built.

Outcomes, as :mod:`fhir_server.fhir.repository` defines them: 403 without the interaction's permission on the
type; 404 for an unknown resource or version, or one beyond the caller's reach; 410 for a deleted resource or a
version that is a deletion (whose reach is that of the version before it, which carries the index rows).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, Text, and_, bindparam, cast, select, true
from sqlalchemy.orm import aliased
from starlette.requests import Request

from fhir_server.access import bearer
from fhir_server.access.context import AccessContext, accept_grant, resolve_access, token_guess
from fhir_server.access.enforcement import require
from fhir_server.access.predicates import SearchRule
from fhir_server.app_context import app_context
from fhir_server.db import ResourceHistory
from fhir_server.db.engine import Database
from fhir_server.errors import gone, not_found
from fhir_server.fhir.primitives import version_number

_TYPE, _ID, _VERSION = "read_type", "read_id", "read_version"
"""The largest version id the column holds; a larger one is no version."""


@dataclass(frozen=True)
class _Version:
    version_id: int
    resource: dict[str, Any] | None
    """None for a deletion (stored as SQL NULL, or as JSON null by the SQLite JSON type)."""
    admitted: bool


_STATEMENTS: dict[tuple[Hashable, ...], Select[Any]] = {}
"""(type, current?, access shape) -> statement. Immutable SQL text; bounded by the types and scope sets in use."""
_MAX_STATEMENTS = 4096


def _statement(resource_type: str, current: bool, access: AccessContext, interaction: str) -> Select[Any]:
    key = (resource_type, current, access.restriction_shape(interaction))
    found = _STATEMENTS.get(key)
    if found is not None:
        return found
    statement = _build(resource_type, current, access.restriction_template(interaction))
    if len(_STATEMENTS) < _MAX_STATEMENTS:
        _STATEMENTS[key] = statement
    return statement


def _build(resource_type: str, current: bool, rule: SearchRule | None) -> Select[Any]:
    h = aliased(ResourceHistory, name="h")
    clause = None if rule is None else rule(h, resource_type)
    admitted: ColumnElement[bool] = true() if clause is None else clause
    which = h.superseded_at.is_(None) if current else h.version_id == bindparam(_VERSION, required=False)
    columns: list[Any] = [h.version_id, cast(h.resource, Text), admitted.label("admitted")]
    return select(*columns).where(
        h.resource_type == bindparam(_TYPE, required=False), h.resource_id == bindparam(_ID, required=False), which
    )


def _token_statement(resource_type: str, current: bool, guess: AccessContext, interaction: str) -> Select[Any]:
    """The token's row (:func:`fhir_server.access.bearer.lookup`) and the version of :func:`_build` for the access
    shape of ``guess``, in one statement (no token: no row; no version: its columns NULL)."""
    key = ("token", resource_type, current, guess.restriction_shape(interaction))
    found = _STATEMENTS.get(key)
    if found is not None:
        return found
    h = aliased(ResourceHistory, name="h")
    rule = guess.restriction_template(interaction)
    clause = None if rule is None else rule(h, resource_type)
    admitted: ColumnElement[bool] = true() if clause is None else clause
    which = h.superseded_at.is_(None) if current else h.version_id == bindparam(_VERSION, required=False)
    on = and_(h.resource_type == bindparam(_TYPE, required=False), h.resource_id == bindparam(_ID, required=False))
    token = bearer.lookup().subquery("t")
    columns: list[Any] = [*token.c, h.version_id, cast(h.resource, Text), admitted.label("admitted")]
    statement = select(*columns).select_from(token.outerjoin(h, and_(on, which)))
    if len(_STATEMENTS) < _MAX_STATEMENTS:
        _STATEMENTS[key] = statement
    return statement


@dataclass(frozen=True)
class Prefetched:
    """A version read in the token's own statement, under the access shape (and patient and clinic) of the context
    the token granted before: valid for the caller only when the token still grants that shape and those values."""

    shape: Hashable
    params: dict[str, Any]
    found: _Version | None

    def valid_for(self, access: AccessContext, interaction: str) -> bool:
        return access.restriction_shape(interaction) == self.shape and access.template_params() == self.params


async def authorize(
    request: Request, interaction: str, resource_type: str, resource_id: str, version_id: int | None
) -> tuple[AccessContext, Prefetched | None]:
    """The caller (401 when its token is not live) and, when its token was seen before, the version asked for
    (``version_id``, else the current one), both from one statement: the token check and the read share a round
    trip. A token seen for the first time is checked alone (:func:`resolve_access`)."""
    guess = token_guess(request)
    if guess is None:
        return await resolve_access(request), None
    hashed, guessed = guess
    params: dict[str, Any] = {
        bearer.HASH_PARAM: hashed,
        _TYPE: resource_type,
        _ID: resource_id,
        _VERSION: version_id,
        **guessed.template_params(),
    }
    statement = _token_statement(resource_type, version_id is None, guessed, interaction)
    row = await app_context(request).database.fetch_one(statement, params)
    access = accept_grant(request, hashed, None if row is None else bearer.grant_of(row[: bearer.WIDTH]))
    assert row is not None  # accept_grant refused a missing token
    found = _version_of(row[bearer.WIDTH :])
    return access, Prefetched(guessed.restriction_shape(interaction), guessed.template_params(), found)


def _version_of(columns: tuple[Any, ...]) -> _Version | None:
    version_id, text, admitted = columns
    if version_id is None:
        return None
    return _Version(version_id, None if text is None else orjson.loads(text), bool(admitted))


async def _fetch(
    database: Database,
    access: AccessContext,
    interaction: str,
    resource_type: str,
    resource_id: str,
    version_id: int | None,
) -> _Version | None:
    statement = _statement(resource_type, version_id is None, access, interaction)
    params: dict[str, Any] = {_TYPE: resource_type, _ID: resource_id, **access.template_params()}
    if version_id is not None:
        params[_VERSION] = version_id
    row = await database.fetch_one(statement, params)
    return None if row is None else _version_of(row)


async def _reachable(
    database: Database, access: AccessContext, interaction: str, resource_type: str, resource_id: str, found: _Version
) -> bool:
    """Whether the caller may reach ``found``; a deletion is judged by the version before it."""
    if found.resource is not None or found.version_id <= 1:
        return found.admitted
    before = await _fetch(database, access, interaction, resource_type, resource_id, found.version_id - 1)
    return before is not None and before.admitted


async def read_current(
    database: Database,
    access: AccessContext,
    resource_type: str,
    resource_id: str,
    interaction: str = "read",
    prefetched: Prefetched | None = None,
) -> dict[str, Any]:
    """The current version of ``resource_type/resource_id`` as stored (404/410/403 as the module says); read
    already when ``prefetched`` (by :func:`authorize`) holds it for this caller."""
    require(access, resource_type, interaction)
    if prefetched is not None and prefetched.valid_for(access, interaction):
        found = prefetched.found
    else:
        found = await _fetch(database, access, interaction, resource_type, resource_id, None)
    if found is None or not await _reachable(database, access, interaction, resource_type, resource_id, found):
        raise not_found(f"{resource_type}/{resource_id} is not known")
    if found.resource is None:
        raise gone(f"{resource_type}/{resource_id} was deleted")
    return found.resource


async def read_version(
    database: Database,
    access: AccessContext,
    resource_type: str,
    resource_id: str,
    version_id: str,
    prefetched: Prefetched | None = None,
) -> dict[str, Any]:
    """Version ``version_id`` of ``resource_type/resource_id`` as stored (404/410/403 as the module says); read
    already when ``prefetched`` (by :func:`authorize`) holds it for this caller."""
    require(access, resource_type, "vread")
    number = version_number(version_id)
    if number is None:
        raise not_found(f"{resource_type}/{resource_id} has no version {version_id!r}")
    if prefetched is not None and prefetched.valid_for(access, "vread"):
        found = prefetched.found
    else:
        found = await _fetch(database, access, "vread", resource_type, resource_id, number)
    if found is None or not await _reachable(database, access, "vread", resource_type, resource_id, found):
        raise not_found(f"{resource_type}/{resource_id} has no version {version_id}")
    if found.resource is None:
        raise gone(f"version {version_id} of {resource_type}/{resource_id} is a deletion")
    return found.resource
