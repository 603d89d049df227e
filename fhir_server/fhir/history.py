"""The history interaction's service: which versions, in which order, paged how (http://hl7.org/fhir/R4/http.html#history).

Versions come from ``resource_history``, newest first (``last_updated`` then row id, descending). Paging is by
keyset: a page's ``next`` link carries a signed cursor naming the last version it showed, so later writes never
shift or repeat entries. Parameters: ``_count`` (:func:`~fhir_server.fhir.search.limits.page_size`: default 20,
at most 1000), ``_since`` (versions written at or after an instant), ``_at`` (versions current at some time within a
date's range); anything else answers 400.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from fhir_server.access.context import AccessContext
from fhir_server.access.enforcement import history_rule, require, require_any
from fhir_server.db import ResourceHistory
from fhir_server.db.types import utcnow
from fhir_server.errors import bad_request, not_found
from fhir_server.fhir import cursors
from fhir_server.fhir.content import etag
from fhir_server.fhir.search.dates import instant_range
from fhir_server.fhir.search.limits import DEFAULT_COUNT, page_size
from mappings.base import fhir_instant
from mappings.registry import MAPPINGS

CURSOR = "_cursor"
_FORMAT_PARAMETERS = frozenset({"_format", "_pretty"})
_PARAMETERS = frozenset({"_count", "_since", "_at", CURSOR}) | _FORMAT_PARAMETERS
_REQUEST = {"create": ("POST", "201 Created"), "update": ("PUT", "200 OK"), "delete": ("DELETE", "204 No Content")}


@dataclass(frozen=True)
class Position:
    """Where a page starts: after (``next``) or before (``previous``) the version at (last_updated, row id)."""

    direction: str
    last_updated: datetime
    row_id: int


@dataclass(frozen=True)
class HistoryQuery:
    """A parsed history request: its level (type and id, or neither), filters, page size and page position."""

    resource_type: str | None
    resource_id: str | None
    since: datetime | None = None
    since_text: str | None = None
    at: tuple[datetime, datetime] | None = None
    at_text: str | None = None
    count: int = DEFAULT_COUNT
    position: Position | None = None


@dataclass(frozen=True)
class HistoryPage:
    """The versions of one page, newest first, and where the neighbouring pages start (None: no such page)."""

    versions: list[ResourceHistory]
    total: int | None
    next: Position | None
    previous: Position | None


# --- parameters --------------------------------------------------------------------------------------------------


def parse_query(
    params: Sequence[tuple[str, str]], key: bytes, resource_type: str | None = None, resource_id: str | None = None
) -> HistoryQuery:
    """The history request that ``params`` (the query string's pairs) describe; 400 naming a bad parameter."""
    seen: dict[str, str] = {}
    for name, value in params:
        if name not in _PARAMETERS:
            raise bad_request(f"history does not support the parameter {name!r}", name, code="not-supported")
        if name in seen:
            raise bad_request(f"{name} is given more than once", name)
        seen[name] = value
    query = HistoryQuery(resource_type, resource_id, count=page_size(seen.get("_count")))
    if "_since" in seen:
        query = replace(query, since=instant_range(seen["_since"], "_since")[0], since_text=seen["_since"])
    if "_at" in seen:
        query = replace(query, at=instant_range(seen["_at"], "_at"), at_text=seen["_at"])
    if CURSOR in seen:
        query = replace(query, position=_position(cursors.decode(key, seen[CURSOR], CURSOR), query))
    return query


def _position(state: dict[str, Any], query: HistoryQuery) -> Position:
    """The page position a cursor names; 400 when the cursor was issued for another query."""
    if state.get("q") != _fingerprint(query):
        raise bad_request(f"{CURSOR} belongs to another history query", CURSOR)
    try:
        return Position(str(state["d"]), datetime.fromisoformat(state["t"]), int(state["i"]))
    except (KeyError, TypeError, ValueError):
        raise bad_request(f"{CURSOR} is not a cursor issued by this server", CURSOR) from None


def _fingerprint(query: HistoryQuery) -> list[str | None]:
    return [query.resource_type, query.resource_id, query.since_text, query.at_text]


# --- queries -----------------------------------------------------------------------------------------------------


def history_page(session: Session, access: AccessContext, query: HistoryQuery) -> HistoryPage:
    """One page of versions for ``query`` that ``access`` may see; 404 for the history of a resource that never
    existed (or none of whose versions the caller may see), 403 when the token does not permit the interaction
    (``r`` for an instance's history, ``s`` for a type's or the system's: scopes-and-launch-context.html)."""
    interaction = _interaction(query)
    if query.resource_type is not None:
        require(access, query.resource_type, interaction)
    else:
        require_any(access, sorted(MAPPINGS), interaction)
    rule = history_rule(access, query.resource_type, sorted(MAPPINGS), interaction)
    if query.resource_id is not None and not _exists(session, query, rule):
        raise not_found(f"{query.resource_type}/{query.resource_id} is not known")
    total = _total(session, query, rule) if query.resource_id is not None else None
    if query.count == 0:
        return HistoryPage([], total, None, None)
    position = query.position
    if position is not None and position.direction == "previous":
        rows = _rows(session, _after(_filtered(query, rule), position), query.count + 1, newest_first=False)
        more_before = len(rows) > query.count
        versions = list(reversed(rows[: query.count]))
        return HistoryPage(versions, total, _edge(versions, "next", True), _edge(versions, "previous", more_before))
    filtered = _filtered(query, rule)
    statement = filtered if position is None else _after(filtered, position)
    rows = _rows(session, statement, query.count + 1, newest_first=True)
    versions = rows[: query.count]
    return HistoryPage(
        versions, total, _edge(versions, "next", len(rows) > query.count), _edge(versions, "previous", position)
    )


def _edge(versions: list[ResourceHistory], direction: str, present: object) -> Position | None:
    if not present or not versions:
        return None
    version = versions[-1] if direction == "next" else versions[0]
    return Position(direction, version.last_updated, version.id)


def _interaction(query: HistoryQuery) -> str:
    if query.resource_id is not None:
        return "history-instance"
    return "history-system" if query.resource_type is None else "history-type"


def _exists(session: Session, query: HistoryQuery, rule: Any) -> bool:
    statement = select(ResourceHistory.id).where(
        ResourceHistory.resource_type == query.resource_type, ResourceHistory.resource_id == query.resource_id
    )
    if rule is not None:
        statement = statement.where(rule)
    return session.scalars(statement.limit(1)).first() is not None


def _total(session: Session, query: HistoryQuery, rule: Any) -> int:
    counted = _filtered(query, rule).with_only_columns(func.count(ResourceHistory.id))
    return int(session.scalar(counted) or 0)


def _filtered(query: HistoryQuery, rule: Any = None) -> Select[Any]:
    """Every version the query asks for that the caller may see (``rule``), in no particular order."""
    statement = select(ResourceHistory) if rule is None else select(ResourceHistory).where(rule)
    if query.resource_type is not None:
        statement = statement.where(ResourceHistory.resource_type == query.resource_type)
    if query.resource_id is not None:
        statement = statement.where(ResourceHistory.resource_id == query.resource_id)
    if query.since is not None:
        statement = statement.where(ResourceHistory.last_updated >= query.since)
    if query.at is not None:
        low, high = query.at
        later = aliased(ResourceHistory)
        superseded = exists().where(
            later.resource_type == ResourceHistory.resource_type,
            later.resource_id == ResourceHistory.resource_id,
            later.version_id > ResourceHistory.version_id,
            later.last_updated <= low,
        )
        statement = statement.where(ResourceHistory.last_updated <= high, ~superseded)
    return statement


def _after(statement: Select[Any], position: Position) -> Select[Any]:
    """Versions past ``position``: older ones for ``next``, newer ones for ``previous``."""
    column, row_id = ResourceHistory.last_updated, ResourceHistory.id
    if position.direction == "next":
        return statement.where(
            or_(column < position.last_updated, and_(column == position.last_updated, row_id < position.row_id))
        )
    return statement.where(
        or_(column > position.last_updated, and_(column == position.last_updated, row_id > position.row_id))
    )


def _rows(session: Session, statement: Select[Any], limit: int, *, newest_first: bool) -> list[ResourceHistory]:
    if newest_first:
        ordered = statement.order_by(ResourceHistory.last_updated.desc(), ResourceHistory.id.desc())
    else:
        ordered = statement.order_by(ResourceHistory.last_updated.asc(), ResourceHistory.id.asc())
    return list(session.scalars(ordered.limit(limit)))


# --- the Bundle --------------------------------------------------------------------------------------------------


def history_bundle(page: HistoryPage, query: HistoryQuery, base_url: str, key: bytes) -> dict[str, Any]:
    """The ``history`` Bundle of one page (http://hl7.org/fhir/R4/bundle.html), links built on ``base_url``."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": fhir_instant(utcnow())},
        "type": "history",
    }
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = _links(page, query, base_url, key)
    bundle["entry"] = [_entry(version, base_url) for version in page.versions]
    return bundle


def _links(page: HistoryPage, query: HistoryQuery, base_url: str, key: bytes) -> list[dict[str, str]]:
    links = [{"relation": "self", "url": _url(query, base_url, key, query.position)}]
    links.append({"relation": "first", "url": _url(query, base_url, key, None)})
    if page.previous is not None:
        links.append({"relation": "previous", "url": _url(query, base_url, key, page.previous)})
    if page.next is not None:
        links.append({"relation": "next", "url": _url(query, base_url, key, page.next)})
    return links


def _url(query: HistoryQuery, base_url: str, key: bytes, position: Position | None) -> str:
    path = "/".join(p for p in (query.resource_type, query.resource_id, "_history") if p is not None)
    params: list[tuple[str, str]] = [("_count", str(query.count))]
    if query.since_text is not None:
        params.append(("_since", query.since_text))
    if query.at_text is not None:
        params.append(("_at", query.at_text))
    if position is not None:
        state = {
            "q": _fingerprint(query),
            "d": position.direction,
            "t": position.last_updated.isoformat(),
            "i": position.row_id,
        }
        params.append((CURSOR, cursors.encode(key, state)))
    return f"{base_url}/{path}?{urlencode(params)}"


def _entry(version: ResourceHistory, base_url: str) -> dict[str, Any]:
    method, status = _REQUEST[version.method]
    local = f"{version.resource_type}/{version.resource_id}"
    entry: dict[str, Any] = {"fullUrl": f"{base_url}/{local}"}
    if version.resource is not None and version.method != "delete":
        entry["resource"] = version.resource
    entry["request"] = {"method": method, "url": version.resource_type if method == "POST" else local}
    entry["response"] = {
        "status": status,
        "etag": etag(version.version_id),
        "lastModified": fhir_instant(version.last_updated),
    }
    return entry
