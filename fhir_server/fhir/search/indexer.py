"""Resource -> search index rows: each search parameter's FHIRPath expression is evaluated on the resource and
its values stored in the typed index table of the parameter's type (one function per type).

Rows carry the version they index, so a search paged while others write keeps seeing the versions current when
it began (see fhir_server.fhir.search.sql). The index step of the write pipeline (fhir_server.fhir.pipeline): runs
inside the writing transaction, its rows queued in the transaction's WriteState until :func:`flush_index`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

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
from fhir_server.db.types import utcnow
from fhir_server.db.write_session import state_of, write_state
from fhir_server.fhir.primitives import literal_reference
from fhir_server.fhir.search.dates import date_range, period_range
from fhir_server.fhir.search.fhirpath import evaluate, relative
from fhir_server.fhir.search.registry import SearchParameter, parameters_for
from fhir_server.fhir.search.text import normalize, soundex
from fhir_server.fhir.versioning import NewVersion

Row = dict[str, Any]
INDEX_TABLES = (SearchString, SearchToken, SearchDate, SearchReference, SearchNumber, SearchQuantity, SearchUri)
SNAPSHOT_LIFETIME = timedelta(hours=1)
"""How long the index rows of a superseded version are kept for searches paged since before it was replaced."""
_NOT_INDEXED = frozenset({"_id", "_lastUpdated"})  # searched on resource_history's own columns


def _strings(param: SearchParameter, value: Any) -> Iterator[Row]:
    words = list(_string_leaves(value))
    if param.code == "phonetic":
        words = [soundex(w) for word in words for w in word.split()]
        yield from ({"normalized": w, "exact": w} for w in words if w)
        return
    yield from ({"normalized": normalize(w), "exact": w[:1000]} for w in words if w.strip())


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in {"use", "period", "type", "extension", "id"}:
                yield from _string_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _string_leaves(item)


def _tokens(param: SearchParameter, value: Any) -> Iterator[Row]:
    if isinstance(value, bool):
        yield {"system": None, "code": "true" if value else "false", "text": None}
    elif isinstance(value, str | int):
        yield {"system": param.system, "code": str(value), "text": None}
    elif isinstance(value, dict):
        yield from _dict_tokens(param, value)


def _dict_tokens(param: SearchParameter, value: dict[str, Any]) -> Iterator[Row]:
    text = value.get("text")
    if "coding" in value or ("text" in value and "value" not in value and "code" not in value):
        for coding in value.get("coding", []):
            if coding.get("system") or coding.get("code") or coding.get("display"):  # not one of only extensions
                yield _token(coding.get("system"), coding.get("code"), coding.get("display"))
        if isinstance(text, str) and text:
            yield _token(None, None, text)  # :text matches CodeableConcept.text as well as each Coding.display
    elif "code" in value:
        yield _token(value.get("system"), value["code"], value.get("display"))
    elif "value" in value:
        identifier_type = value.get("type") or {}
        yield _token(value.get("system"), str(value["value"]), identifier_type.get("text"))
        for coding in identifier_type.get("coding", []):
            if not (coding.get("system") or coding.get("code")):
                continue  # a coding of only extensions names no type
            yield {
                "param": f"{param.code}:of-type",
                "system": f"{coding.get('system', '')}|{coding.get('code', '')}",
                "code": str(value["value"]),
                "text": None,
            }


def _token(system: Any, code: Any, text: Any) -> Row:
    return {"system": system, "code": code, "text": normalize(text) if isinstance(text, str) else None}


def _dates(param: SearchParameter, value: Any) -> Iterator[Row]:
    try:
        if isinstance(value, str):
            low, high = date_range(value)
        elif isinstance(value, dict) and ("start" in value or "end" in value):
            low, high = period_range(value)
        else:
            return
    except ValueError:
        return
    yield {"low": low, "high": high}


def _references(param: SearchParameter, value: Any) -> Iterator[Row]:
    reference = value.get("reference") if isinstance(value, dict) else value
    identifier = value.get("identifier") if isinstance(value, dict) else None
    if isinstance(identifier, dict) and "value" in identifier:
        yield {
            "_table": SearchToken,
            "param": f"{param.code}:identifier",
            **_token(identifier.get("system"), str(identifier["value"]), None),
        }
    if not isinstance(reference, str) or reference.startswith(("#", "urn:")):
        return
    if isinstance(value, str):  # a canonical element (a Reference is an object): it names a resource by its url
        yield {"target_type": None, "target_id": None, "url": reference}
        return
    literal = literal_reference(reference)  # Patient/1/_history/2 is a reference to Patient/1 too
    if literal is None:
        yield {"target_type": None, "target_id": None, "url": reference}
    elif "://" not in reference:
        yield {"target_type": literal.resource_type, "target_id": literal.resource_id, "url": None}
    else:
        yield {"target_type": literal.resource_type, "target_id": literal.resource_id, "url": literal.unversioned}


def _numbers(param: SearchParameter, value: Any) -> Iterator[Row]:
    number = _decimal(value)
    if number is not None:
        yield {"value": number}


def _quantities(param: SearchParameter, value: Any) -> Iterator[Row]:
    if isinstance(value, dict) and (number := _decimal(value.get("value"))) is not None:
        yield {"value": number, "system": value.get("system"), "code": value.get("code") or value.get("unit")}


def _decimal(value: Any) -> Decimal | None:
    """A JSON number (fhirpathpy gives decimals as Decimal) or numeric string as a Decimal; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _uris(param: SearchParameter, value: Any) -> Iterator[Row]:
    if isinstance(value, str):
        yield {"uri": value[:1000]}


_EXTRACTORS: dict[str, tuple[type[Any], Callable[[SearchParameter, Any], Iterator[Row]]]] = {
    "string": (SearchString, _strings),
    "token": (SearchToken, _tokens),
    "date": (SearchDate, _dates),
    "reference": (SearchReference, _references),
    "number": (SearchNumber, _numbers),
    "quantity": (SearchQuantity, _quantities),
    "uri": (SearchUri, _uris),
}


def index_rows(resource: dict[str, Any]) -> dict[type[Any], list[Row]]:
    """Every index row of ``resource`` (without the resource/version columns), by index table."""
    rows: dict[type[Any], list[Row]] = {}
    for param in parameters_for(resource["resourceType"]).values():
        if param.code in _NOT_INDEXED:
            continue
        values = evaluate(resource, param.expression)
        found = composite_rows(param, resource, values) if param.components else extracted_rows(param, values)
        for row_table, row in found:
            rows.setdefault(row_table, []).append(row)
    return rows


def composite_rows(param: SearchParameter, resource: dict[str, Any], nodes: list[Any]) -> list[tuple[type[Any], Row]]:
    """The rows of composite ``param`` (http://hl7.org/fhir/R4/search.html#composite): for each repetition of its
    element (``nodes``, numbered in ``repetition``) where every component has a value, each component's rows, as
    its own type indexes them, under the component's code. A search matches one repetition's components together."""
    found: list[tuple[type[Any], Row]] = []
    for repetition, node in enumerate(nodes):
        parts = [extracted_rows(c, _component_values(c, resource, node)) for c in param.components]
        if all(parts):
            found.extend((table, {**row, "repetition": repetition}) for part in parts for table, row in part)
    return found


def _component_values(component: SearchParameter, resource: dict[str, Any], node: Any) -> list[Any]:
    evaluator = relative(component.expression)
    assert evaluator is not None  # the registry serves only composites whose components evaluate
    return evaluator(resource, node)


def extracted_rows(param: SearchParameter, values: list[Any]) -> list[tuple[type[Any], Row]]:
    """(index table, row) of each value ``param``'s expression selected, leaving out values too long to index."""
    table, extract = _EXTRACTORS[param.type]
    found: list[tuple[type[Any], Row]] = []
    for value in values:
        for row in extract(param, value):
            row_table = row.pop("_table", table)
            if _fits(row_table, row):
                found.append((row_table, {"param": param.code, **row}))
    return found


def _fits(table: Any, row: Row) -> bool:
    """False when a value is longer than its index column (a token code or system of more than 500 characters,
    a quantity unit of more than 100, a reference URL of more than 1000). Such a value is not indexed: the
    resource is stored and served whole, a search for that value does not find it. (Strings and URIs are
    indexed by their first characters instead, see ``_strings`` and ``_uris``.)"""
    lengths = _lengths(table)
    for name, value in row.items():
        length = lengths.get(name)
        if length is not None and isinstance(value, str) and len(value) > length:
            return False
    return True


@cache
def _lengths(table: Any) -> dict[str, int]:
    """Column name -> the most characters it holds, for the length-limited columns of an index table."""
    found = {c.name: getattr(c.type, "length", None) for c in table.__table__.columns}
    return {name: length for name, length in found.items() if isinstance(length, int)}


def index_version(session: Session, version: NewVersion) -> None:
    """Queue the index rows of a new version (written by :func:`flush_index`) and drop those of versions no
    paged search can still see."""
    if version.method != "create":  # a new resource has no older versions to prune
        _prune(session, version.resource_type, version.resource_id, utcnow() - SNAPSHOT_LIFETIME)
    if version.resource is None:
        return
    key = {"resource_type": version.resource_type, "resource_id": version.resource_id, "version_id": version.version_id}
    buffer = state_of(session).index_rows
    for table, rows in index_rows(version.resource).items():
        buffer.setdefault(table, []).extend({**key, **row} for row in rows)


def flush_index(session: Session) -> None:
    """Write every queued index row: one COPY per table on PostgreSQL, one multi-row INSERT elsewhere. Called before
    commit and before any search inside a writing transaction (conditional writes), so searches always see this
    transaction's own writes. Nothing to do in a read session."""
    state = write_state(session)
    if state is None or not state.index_rows:
        return
    buffer, state.index_rows = state.index_rows, {}
    for table, rows in buffer.items():
        write_rows(session, table, rows)


def write_rows(session: Session, table: Any, rows: list[Row]) -> None:
    """Insert ``rows`` (each with the columns it has; the others NULL) into index ``table``: one COPY on PostgreSQL,
    one multi-row INSERT elsewhere."""
    if not rows:
        return
    columns = [c.name for c in table.__table__.columns if not c.primary_key]
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, table.__tablename__, columns, rows)
    else:  # every row with every column, so the rows go as one statement
        session.execute(insert(table.__table__), [{c: row.get(c) for c in columns} for row in rows])


def _copy(session: Session, table_name: str, columns: list[str], rows: list[Row]) -> None:
    """COPY ``rows`` into ``table_name`` on the session's connection (inside its transaction)."""
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(c) for c in columns])


def _prune(session: Session, resource_type: str, resource_id: str, before: datetime) -> None:
    stale = select(ResourceHistory.version_id).where(
        ResourceHistory.resource_type == resource_type,
        ResourceHistory.resource_id == resource_id,
        ResourceHistory.superseded_at < before,
    )
    for table in INDEX_TABLES:
        session.execute(
            delete(table).where(
                table.resource_type == resource_type,
                table.resource_id == resource_id,
                table.version_id.in_(stale),
            )
        )
