"""A parsed search -> SQLAlchemy statements over resource_history and the typed index tables.

The searched set is every version current at the search's instant ``as_of`` (its first page's time; later pages
keep it, so a client paging while others write sees each match of that moment exactly once). Each criterion is
an EXISTS over one index table, correlated on (type, id, version); chains and ``_has`` nest the same predicate on
the referenced or referring type, reached from the tested version through index lookups only. Access rules are
extra WHERE clauses on the same statement, never filters applied afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, not_, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import DateTime

from fhir_server.access.predicates import SearchRule
from fhir_server.db import (
    ResourceHistory,
    SearchDate,
    SearchNumber,
    SearchQuantity,
    SearchReference,
    SearchString,
    SearchToken,
    SearchUri,
)
from fhir_server.db.fhir import same_version
from fhir_server.db.types import utcnow
from fhir_server.fhir.search.dates import date_range, shifted
from fhir_server.fhir.search.params import Criterion, composite_parts, split_prefix
from fhir_server.fhir.search.registry import parameters_for
from fhir_server.fhir.search.shapes import single_valued, widest_date
from fhir_server.fhir.search.text import normalize, soundex

TABLES: dict[str, Any] = {
    "string": SearchString,
    "token": SearchToken,
    "date": SearchDate,
    "reference": SearchReference,
    "number": SearchNumber,
    "quantity": SearchQuantity,
    "uri": SearchUri,
}
History = Any  # an aliased ResourceHistory


@dataclass(frozen=True)
class Scope:
    """What every version a search touches must satisfy besides the criteria: the snapshot instant, the base URL
    (to tell our absolute references from others) and the caller's access rules (``restrict(h, type)``), which
    apply to matches, chained targets, ``_has`` sources and included resources alike."""

    as_of: datetime
    base_url: str
    restrict: SearchRule | None = None
    code_point_order: bool = False
    """Order text sort keys by code point whatever the database's collation (for merging with in-memory matches)."""


class sqlite_unindexed(FunctionElement[Any]):  # noqa: N801 (reads as a SQL function)
    """``column`` in a form no SQLite index serves (``coalesce(column, column)``); the column itself elsewhere.

    PostgreSQL plans key lookups from its statistics and gets worse estimates from the wrapped form; SQLite, without
    statistics in a file the server made, needs it to prefer the key (see :func:`visible`)."""

    inherit_cache = True
    type = DateTime()


@compiles(sqlite_unindexed)
def _plain(element: sqlite_unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(sqlite_unindexed, "sqlite")
def _wrapped(element: sqlite_unindexed, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"coalesce({column}, {column})"


def visible(h: History, resource_type: str, scope: Scope, by_id: bool = False) -> ColumnElement[bool]:
    """``h`` is a live version of ``resource_type`` that was current at ``scope.as_of`` (and in the clinic).

    ``by_id``: ``h`` is looked up by its key (a chain's target, a ``_has`` source), so the instant is tested in a
    form no index serves: without statistics SQLite's planner otherwise prefers a range scan of (type,
    last_updated) to the key, scanning every version of the type for each lookup."""
    updated = sqlite_unindexed(h.last_updated) if by_id else h.last_updated
    clauses = [
        h.resource_type == resource_type,
        h.method != "delete",
        updated <= scope.as_of,
        or_(h.superseded_at.is_(None), h.superseded_at > scope.as_of),
    ]
    if scope.restrict is not None and (rule := scope.restrict(h, resource_type)) is not None:
        clauses.append(rule)
    return and_(*clauses)


def criterion_clause(h: History, c: Criterion, scope: Scope) -> ColumnElement[bool]:
    """The predicate ``c`` puts on version ``h``."""
    if c.has is not None:
        return _has(h, c, scope)
    if c.chain is not None:
        return _chain(h, c, scope)
    if c.param.code == "_id":
        return _id_clause(h, c)
    if c.param.code == "_lastUpdated":
        return _last_updated(h, c)
    if c.param.components:
        return _composite(h, c, scope)
    kind, param_name = _index_of(c)
    table = aliased(TABLES[kind])
    on_version = and_(same_version(table, h), table.param == param_name)
    if c.modifier == "missing":
        present = exists().where(on_version)
        return not_(present) if c.values[0] == "true" else present
    matches = or_(*(_value_clause(table, c, value, scope) for value in c.values))
    if c.modifier == "not":
        return not_(exists().where(on_version, matches))
    return exists().where(on_version, matches)


def criteria_clauses(h: History, criteria: list[Criterion], scope: Scope) -> list[ColumnElement[bool]]:
    """The predicates ``criteria`` (ANDed) put on version ``h``. Criteria on one single-valued date parameter
    (``birthdate=ge2000&birthdate=lt2001``) test the same index row: a version has at most one such row, so this
    means the same as separate tests, and lets one range scan of the date index find the answer."""
    clauses: list[ColumnElement[bool]] = []
    merged: dict[str, list[Criterion]] = {}
    for c in criteria:
        if _same_row(c):
            merged.setdefault(c.param.code, []).append(c)
        else:
            clauses.append(criterion_clause(h, c, scope))
    clauses.extend(_on_one_row(h, group, scope) for group in merged.values())
    return clauses


def _same_row(c: Criterion) -> bool:
    plain = c.has is None and c.chain is None and c.modifier is None and not c.param.code.startswith("_")
    return plain and c.param.type == "date" and single_valued(c.param)


def _on_one_row(h: History, criteria: list[Criterion], scope: Scope) -> ColumnElement[bool]:
    if len(criteria) == 1:
        return criterion_clause(h, criteria[0], scope)
    table = aliased(SearchDate)
    return exists().where(
        same_version(table, h),
        table.param == criteria[0].param.code,
        *(or_(*(_value_clause(table, c, value, scope) for value in c.values)) for c in criteria),
    )


def _index_of(c: Criterion) -> tuple[str, str]:
    """The index table kind and parameter name rows of ``c`` are stored under."""
    if c.modifier in {"of-type", "identifier"}:
        return "token", f"{c.param.code}:{c.modifier}"
    return c.param.type, c.param.code


def _value_clause(table: Any, c: Criterion, value: str, scope: Scope) -> ColumnElement[bool]:
    kind = c.param.type
    if c.modifier == "identifier":
        return _token(table, c, value)
    if kind == "string":
        return _string(table, c, value)
    if kind == "token":
        return _token(table, c, value)
    if kind == "date":
        return _date_value(table, c, value)
    if kind == "reference":
        return _reference(table, c, value, scope)
    if kind == "uri":
        return _uri(table, c, value)
    prefix, number = split_prefix(value, kind)
    if kind == "number":
        return _number(table.value, prefix, number)
    number, _, rest = number.partition("|")
    system, _, code = rest.partition("|")
    clause = _number(table.value, prefix, number)
    if system:
        clause = and_(clause, table.system == system)
    if code:
        clause = and_(clause, table.code == code)
    return clause


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _string(table: Any, c: Criterion, value: str) -> ColumnElement[bool]:
    if c.param.code == "phonetic":
        return table.normalized == soundex(value)  # type: ignore[no-any-return]
    if c.modifier == "exact":
        return table.exact == value  # type: ignore[no-any-return]
    needle = like_escape(normalize(value))
    pattern = f"%{needle}%" if c.modifier == "contains" else f"{needle}%"
    return table.normalized.like(pattern, escape="\\")  # type: ignore[no-any-return]


def _token(table: Any, c: Criterion, value: str) -> ColumnElement[bool]:
    if c.modifier == "text":
        return table.text.like(f"{like_escape(normalize(value))}%", escape="\\")  # type: ignore[no-any-return]
    if c.modifier == "of-type":
        type_system, _, rest = value.partition("|")
        type_code, _, identifier = rest.partition("|")
        return and_(table.system == f"{type_system}|{type_code}", table.code == identifier)
    if "|" not in value.replace("\\|", ""):
        return table.code == value.replace("\\|", "|")  # type: ignore[no-any-return]
    system, _, code = value.partition("|")
    system_clause = table.system.is_(None) if system == "" else table.system == system
    return system_clause if code == "" else and_(system_clause, table.code == code)


def _date(low: Any, high: Any, prefix: str, value: str) -> ColumnElement[bool]:
    vlo, vhi = date_range(value)
    within = and_(low >= vlo, high <= vhi)
    if prefix == "ap":
        slack = max(abs(utcnow() - vlo) / 10, timedelta(days=1))
        return and_(high >= shifted(vlo, -slack), low <= shifted(vhi, slack))
    choices: dict[str, ColumnElement[bool]] = {
        "eq": within,
        "ne": not_(within),
        "gt": high > vhi,
        "lt": low < vlo,
        "ge": or_(high > vhi, within),
        "le": or_(low < vlo, within),
        "sa": low > vhi,
        "eb": high < vlo,
    }
    return choices[prefix]


def _date_value(table: Any, c: Criterion, value: str) -> ColumnElement[bool]:
    """A date criterion's value on an index row, with the bounds on ``low`` it implies spelled out (redundant,
    so the index on (type, param, low) can range-scan them): upper bounds always (``low <= high``), lower bounds
    when the parameter's values are never wider than a known span (fhir_server.fhir.search.shapes)."""
    prefix, text = split_prefix(value, "date")
    clause = _date(table.low, table.high, prefix, text)
    vlo, vhi = date_range(text)
    bounds = {"eq": [table.low <= vhi], "le": [table.low <= vhi], "eb": [table.low < vlo]}.get(prefix, [])
    if (widest := widest_date(c.param)) is not None and prefix in {"ge", "gt"}:
        bounds.append(table.low >= shifted(vlo if prefix == "ge" else vhi, -widest))
    return and_(clause, *bounds) if bounds else clause


def _number(column: Any, prefix: str, text: str) -> ColumnElement[bool]:
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    half = Decimal(5).scaleb((exponent if isinstance(exponent, int) else 0) - 1)
    lo, hi = value - half, value + half
    if prefix == "ap":
        lo, hi = value - abs(value) / 10, value + abs(value) / 10
    choices: dict[str, ColumnElement[bool]] = {
        "eq": and_(column >= lo, column < hi),
        "ap": and_(column >= lo, column <= hi),
        "ne": or_(column < lo, column >= hi),
        "gt": column > value,
        "sa": column > value,
        "lt": column < value,
        "eb": column < value,
        "ge": column >= value,
        "le": column <= value,
    }
    return choices[prefix]


def local_reference(ref: Any, scope: Scope) -> ColumnElement[bool]:
    """Index row ``ref`` names a resource of this server: a relative reference or one on the public base URL (an
    absolute URL of another server may end in a type and id that happen to be ours)."""
    return or_(ref.url.is_(None), ref.url.startswith(scope.base_url + "/"))


def _reference(table: Any, c: Criterion, value: str, scope: Scope) -> ColumnElement[bool]:
    local = value[len(scope.base_url) + 1 :] if value.startswith(scope.base_url + "/") else value
    if "://" in local:
        if "|" in value:  # a canonical with its version: that version only
            return table.url == value  # type: ignore[no-any-return]
        versioned = table.url.like(like_escape(value) + "|%", escape="\\")  # without: any version of it
        return or_(table.url == value, versioned)
    parts = local.split("/")
    ours = local_reference(table, scope)
    if len(parts) >= 2:
        return and_(table.target_type == parts[-2], table.target_id == parts[-1], ours)
    allowed = [c.modifier] if c.modifier else None
    clause = and_(table.target_id == local, ours)
    return and_(clause, table.target_type.in_(allowed)) if allowed else clause


def _uri(table: Any, c: Criterion, value: str) -> ColumnElement[bool]:
    if c.modifier == "below":
        return table.uri.like(f"{like_escape(value)}%", escape="\\")  # type: ignore[no-any-return]
    if c.modifier == "above":
        return literal(value).like(func.replace(func.replace(table.uri, "%", "\\%"), "_", "\\_") + "%", escape="\\")
    return table.uri == value  # type: ignore[no-any-return]


def _composite(h: History, c: Criterion, scope: Scope) -> ColumnElement[bool]:
    """Composite criterion ``c`` on ``h`` (http://hl7.org/fhir/R4/search.html#composite): some value of ``c`` whose
    component values all match rows of one repetition (fhir_server.fhir.search.indexer.composite_rows), each
    compared as its own type's criterion (prefixes, ``system|code``...); ``:missing`` tests the first component."""
    if c.modifier == "missing":
        first = c.param.components[0]
        table = aliased(TABLES[first.type])
        present = exists().where(same_version(table, h), table.param == first.code)
        return not_(present) if c.values[0] == "true" else present
    return or_(*(_composite_value(h, c, value, scope) for value in c.values))


def _composite_value(h: History, c: Criterion, value: str, scope: Scope) -> ColumnElement[bool]:
    tables = [aliased(TABLES[component.type]) for component in c.param.components]
    clauses: list[ColumnElement[bool]] = []
    for component, table, part in zip(c.param.components, tables, composite_parts(value), strict=True):
        clauses += [
            same_version(table, h),
            table.param == component.code,
            _value_clause(table, Criterion(component, None, (part,)), part, scope),
        ]
    clauses += [table.repetition == tables[0].repetition for table in tables[1:]]
    return exists().where(*clauses)


def _id_clause(h: History, c: Criterion) -> ColumnElement[bool]:
    if c.modifier == "missing":
        return false() if c.values[0] == "true" else true()
    clause = h.resource_id.in_(c.values)
    return not_(clause) if c.modifier == "not" else clause  # type: ignore[no-any-return]


def _last_updated(h: History, c: Criterion) -> ColumnElement[bool]:
    if c.modifier == "missing":
        return false() if c.values[0] == "true" else true()
    return or_(*(_date(h.last_updated, h.last_updated, *split_prefix(v, "date")) for v in c.values))


def names_url(ref: Any, uri: Any) -> ColumnElement[bool]:
    """Reference index row ``ref`` is a canonical naming the version that holds the ``url`` index row ``uri``: its
    URL alone (any version), or ``url|version`` with that version's own ``version``
    (http://hl7.org/fhir/R4/references.html#canonical)."""
    version = aliased(SearchToken)
    pinned = and_(
        func.substr(ref.url, 1, func.length(uri.uri) + 1) == uri.uri + "|",
        exists().where(
            same_version(version, uri),
            version.param == "version",
            version.code == func.substr(ref.url, func.length(uri.uri) + 2),
        ),
    )
    return and_(ref.target_type.is_(None), uri.param == "url", or_(ref.url == uri.uri, pinned))


def _has_url(resource_types: Iterable[str]) -> bool:
    """Some of ``resource_types`` can be named by a canonical URL (they have a ``url`` search parameter)."""
    return any("url" in parameters_for(t) for t in resource_types)


def _chain(h: History, c: Criterion, scope: Scope) -> ColumnElement[bool]:
    """``h`` refers through ``c.param`` to a ``target_type`` resource the inner criterion matches.

    Shape: EXISTS over ``h``'s reference rows (``ix_search_reference_resource``), each with a nested EXISTS on the
    target it names, found by its (type, id) key (``visible(by_id=True)``). Nesting fixes the order (as one join,
    SQLite without statistics puts the target outside): from the tested version to its references to their
    targets, index lookups only, so the cost follows the references, not the product of the tables. (With the
    canonical-URL alternative ORed into one join, SQLite scanned every target for each version tested: a 2-level
    chain over 2,000 patients ran for minutes.) References by canonical URL, possible only to types with a
    ``url``, are a separate EXISTS. Two subqueries per level: SQLite's parser nests only so deep, which the chain
    depth limit (fhir_server.fhir.search.limits) is checked against.
    """
    assert c.chain is not None
    target_type, inner = c.chain
    ref = aliased(SearchReference)
    of_h = [
        same_version(ref, h),
        ref.param == c.param.code,
    ]
    target = aliased(ResourceHistory)
    named = exists().where(
        target.resource_id == ref.target_id,
        visible(target, target_type, scope, by_id=True),
        criterion_clause(target, inner, scope),
    )
    clause = exists().where(*of_h, ref.target_type == target_type, local_reference(ref, scope), named)
    if not _has_url([target_type]):
        return clause
    uri = aliased(SearchUri)
    by_url = exists().where(
        *of_h,
        uri.resource_type == target_type,
        names_url(ref, uri),
        same_version(uri, target),
        visible(target, target_type, scope),
        criterion_clause(target, inner, scope),
    )
    return or_(clause, by_url)


def _has(h: History, c: Criterion, scope: Scope) -> ColumnElement[bool]:
    """A ``source_type`` resource the inner criterion matches refers to ``h`` through ``reference_code``.

    Shape: EXISTS joining the reference rows naming ``h`` (``ix_search_reference_target``) to the source version
    holding each, found by its unique key (``visible(by_id=True)``); see :func:`_chain`. References by canonical
    URL, possible only to types with a ``url``, are a separate EXISTS driven by ``h``'s own ``url`` rows.
    """
    assert c.has is not None
    source_type, reference_code, inner = c.has
    ref = aliased(SearchReference)
    source = aliased(ResourceHistory)
    referring = [
        ref.resource_type == source_type,
        ref.param == reference_code,
        same_version(source, ref),
        visible(source, source_type, scope, by_id=True),
        criterion_clause(source, inner, scope),
    ]
    clause = exists().where(
        ref.target_type == h.resource_type, ref.target_id == h.resource_id, local_reference(ref, scope), *referring
    )
    if not _has_url(c.param.targets):
        return clause
    uri = aliased(SearchUri)
    by_url = exists().where(
        same_version(uri, h),
        names_url(ref, uri),
        *referring,
    )
    return or_(clause, by_url)
