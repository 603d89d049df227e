"""One page of a CodeSystem or ValueSet search over both parts: the server's published definitions (matched in
memory, :mod:`fhir_server.fhir.terminology_search`) and the clinic's own (the store, keyset-paged by
:mod:`fhir_server.fhir.search.executor`), merged into one order (http://hl7.org/fhir/R4/search.html#sort).

Both parts are ordered by the same key: per ``_sort`` parameter "is missing" then the value (the lowest value
ascending, the highest descending; strings normalized as the index holds them), then the id; on an equal key the
clinic's definition comes first. A page holds at most ``_count`` matches; its ``next`` link carries the key of its
last match (and which part it came from) in a signed cursor, so every match is served exactly once whatever page
it falls on. ``Bundle.total`` counts both parts. Text keys compare by code point on both sides (the store's with
``COLLATE "C"`` on PostgreSQL, whatever the database's collation: :attr:`Scope.code_point_order`).
A ``_sort`` parameter the published part has no value for (``date``, ``_lastUpdated``...) sorts the published
definitions as missing it (last).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.access.enforcement import check_search
from fhir_server.db.types import utcnow
from fhir_server.errors import Issue, bad_request
from fhir_server.fhir import cursors, terminology_search
from fhir_server.fhir.search.bundle import link, searchset
from fhir_server.fhir.search.dates import MIN
from fhir_server.fhir.search.executor import Page, execute
from fhir_server.fhir.search.includes import included
from fhir_server.fhir.search.indexer import flush_index
from fhir_server.fhir.search.params import SearchQuery
from fhir_server.fhir.search.registry import parameters_for
from fhir_server.fhir.search.service import digest
from fhir_server.fhir.search.sql import Scope
from fhir_server.fhir.search.text import normalize
from fhir_server.fhir.search.withheld import withheld

STORE, PUBLISHED = 0, 1
"""Which part a match comes from; on an equal key the store's comes first."""
Key = list[Any]
Item = tuple[Key, int, dict[str, Any]]


def _sentinel(resource_type: str, code: str) -> str:
    """What the store's key holds for a missing value of ``code`` (as the executor dumps it)."""
    param = parameters_for(resource_type).get(code)
    kind = "date" if code == "_lastUpdated" else "string" if param is None or code == "_id" else param.type
    if kind == "date":
        return MIN.isoformat()
    return "0" if kind in {"number", "quantity"} else ""


def published_key(resource: dict[str, Any], sort: list[tuple[str, bool]]) -> Key:
    """The order key of a published definition, in the store's key format."""
    key: Key = []
    for code, descending in sort:
        values = [_sortable(code, v) for v in terminology_search.sort_values(resource, code)]
        present = [v for v in values if v]
        if present:
            key += [0, max(present) if descending else min(present)]
        else:
            key += [1, _sentinel(resource["resourceType"], code)]
    return [*key, str(resource["id"])]


def _sortable(code: str, value: Any) -> str:
    if isinstance(value, tuple):  # an identifier's (system, value)
        value = value[1]
    text = "" if value is None else str(value)
    return normalize(text) if code in terminology_search.STRINGS else text


def compare(a: Key, b: Key, sort: list[tuple[str, bool]]) -> int:
    """-1, 0 or 1 as key ``a`` comes before, with or after ``b`` (missing values last, ``descending`` reversed)."""
    for i, (_, descending) in enumerate(sort):
        if a[2 * i] != b[2 * i]:
            return -1 if a[2 * i] < b[2 * i] else 1
        if a[2 * i] == 1 or a[2 * i + 1] == b[2 * i + 1]:
            continue
        order = -1 if a[2 * i + 1] < b[2 * i + 1] else 1
        return -order if descending else order
    return int(a[-1] > b[-1]) - int(a[-1] < b[-1])


def _item_order(sort: list[tuple[str, bool]]) -> Callable[[Item, Item], int]:
    def order(a: Item, b: Item) -> int:
        return compare(a[0], b[0], sort) or (a[1] - b[1])

    return order


def page(
    session: Session,
    access: AccessContext,
    query: SearchQuery,
    published: tuple[list[dict[str, Any]], list[Issue]],
    url: str,
    key: bytes,
) -> dict[str, Any]:
    """The searchset Bundle of one page of ``query`` over the ``published`` matches (with the notes of the
    published part) and the store's, for ``access``; its links point under ``url``."""
    base_url = url.rsplit("/", 1)[0]
    state = _state(query, key)
    scope = Scope(
        as_of=utcnow() if state is None else _as_of(state),
        base_url=base_url,
        restrict=access.search_restriction(),
        code_point_order=True,
    )
    store = _store_page(session, access, query, scope, state)
    order = _item_order(query.sort)
    after: Item | None = None if state is None else (state["key"], state["part"], {})
    items = [(published_key(r, query.sort), PUBLISHED, r) for r in published[0]]
    items += [(k, STORE, r) for k, r in zip(store.keys, store.resources, strict=True)]
    items = sorted((i for i in items if after is None or order(i, after) > 0), key=functools.cmp_to_key(order))
    shown = items[: 0 if query.summary == "count" else query.count]
    links = {"self": link(url, query.canonical, query.cursor), "first": link(url, query.canonical)}
    if shown and (len(items) > len(shown) or store.next_state is not None):
        following = {"q": digest(query), "as_of": scope.as_of.isoformat(), "key": shown[-1][0], "part": shown[-1][1]}
        links["next"] = link(url, query.canonical, cursors.encode(key, following))
    total = None if store.total is None else store.total + len(published[0])
    resources = [i[2] for i in shown]
    extra = included(session, query, scope, resources)
    left_out = withheld(session, access, query, base_url, resources, extra.resources)
    notes = [*query.ignored, *published[1], *extra.issues(), *left_out]
    return searchset(base_url, query, resources, extra.resources, total, links, notes)


def _state(query: SearchQuery, key: bytes) -> dict[str, Any] | None:
    if query.cursor is None:
        return None
    state = cursors.decode(key, query.cursor, "_cursor")
    fits = isinstance(state.get("key"), list) and state.get("part") in (STORE, PUBLISHED)
    if state.get("q") != digest(query) or not fits:
        raise bad_request("_cursor belongs to another search; follow the Bundle's links unchanged", "_cursor")
    return state


def _as_of(state: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(state.get("as_of")))
    except ValueError:
        raise bad_request("_cursor is not a cursor of this search", "_cursor") from None


def _store_page(
    session: Session, access: AccessContext, query: SearchQuery, scope: Scope, state: dict[str, Any] | None
) -> Page:
    """The clinic's matches after the cursor's key (none when the token may not search the type)."""
    if not access.may(query.resource_type, "search-type"):
        return Page([], None if query.total == "none" else 0, None, None)
    check_search(access, query.resource_type, query.compartment)
    flush_index(session)
    after = None if state is None else {"as_of": state["as_of"], "dir": "after", "key": state["key"]}
    try:
        return execute(session, query, scope, after)
    except ValueError as exc:
        raise bad_request(f"_cursor: {exc}", "_cursor") from None
