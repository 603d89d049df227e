"""Search as a service: a parsed query and the caller -> the searchset Bundle of one page."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.access.enforcement import check_search
from fhir_server.db.types import utcnow
from fhir_server.errors import bad_request
from fhir_server.fhir import cursors
from fhir_server.fhir.search.bundle import link, searchset
from fhir_server.fhir.search.executor import execute
from fhir_server.fhir.search.includes import included
from fhir_server.fhir.search.indexer import flush_index
from fhir_server.fhir.search.params import SearchQuery
from fhir_server.fhir.search.sql import Scope
from fhir_server.fhir.search.withheld import withheld


def digest(query: SearchQuery) -> str:
    """What a cursor carries to tell the search it belongs to."""
    return hashlib.sha256(orjson.dumps([query.resource_type, query.compartment, query.canonical])).hexdigest()[:16]


def _state(query: SearchQuery, key: bytes) -> dict[str, Any] | None:
    if query.cursor is None:
        return None
    state = cursors.decode(key, query.cursor, "_cursor")
    if state.get("q") != digest(query):
        raise bad_request("_cursor belongs to another search; follow the Bundle's links unchanged", "_cursor")
    return state


def search(
    session: Session, access: AccessContext, query: SearchQuery, base_url: str, url: str, key: bytes
) -> dict[str, Any]:
    """One page of ``query`` for ``access``, as a searchset Bundle whose links point under ``url``; 403 when the
    token does not permit searching the type, 404 for another patient's compartment in patient context. What the
    includes leave out for want of scope (:mod:`fhir_server.fhir.search.withheld`) or beyond a limit
    (:class:`~fhir_server.fhir.search.includes.Included`) is said in the Bundle's outcome entry."""
    check_search(access, query.resource_type, query.compartment)
    flush_index(session)  # a search inside a writing transaction (a transaction's GET) sees its writes
    state = _state(query, key)
    as_of = datetime.fromisoformat(state["as_of"]) if state else utcnow()
    scope = Scope(as_of=as_of, base_url=base_url, restrict=access.search_restriction())
    try:
        page = execute(session, query, scope, state)
    except ValueError as exc:
        raise bad_request(f"_cursor: {exc}", "_cursor") from None
    extra = included(session, query, scope, page.resources)

    def cursor_link(next_state: dict[str, Any] | None) -> str | None:
        if next_state is None:
            return None
        return link(url, query.canonical, cursors.encode(key, {**next_state, "q": digest(query)}))

    links = {"self": link(url, query.canonical, query.cursor), "first": link(url, query.canonical)}
    if (next_link := cursor_link(page.next_state)) is not None:
        links["next"] = next_link
    if (previous_link := cursor_link(page.previous_state)) is not None:
        links["previous"] = previous_link
    left_out = withheld(session, access, query, base_url, page.resources, extra.resources)
    notes = [*query.ignored, *extra.issues(), *left_out]
    return searchset(base_url, query, page.resources, extra.resources, page.total, links, notes)
