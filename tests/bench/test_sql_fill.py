"""bench/search/sql_fill.py writes what the server would: the index rows it puts beside each filled Patient and
Appointment are exactly those the search indexer derives from the filled JSON, so query plans read on a filled
database are the plans of real data. PostgreSQL only (the fill is PostgreSQL SQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bench.search import sql_fill
from fhir_server.fhir.search.indexer import index_rows

TABLES = {"SearchString": "search_string", "SearchToken": "search_token", "SearchDate": "search_date"}
TABLES["SearchReference"] = "search_reference"
Key = tuple[str, str, str, tuple[Any, ...]]  # (table, resource id, param, values)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _filled(connection: psycopg.Connection[Any]) -> set[Key]:
    found: set[Key] = set()
    for table in TABLES.values():
        cursor = connection.execute(f"SELECT * FROM {table}")
        names = [c.name for c in cursor.description or []]
        for row in cursor.fetchall():
            record = dict(zip(names, row, strict=True))
            values = tuple(
                (n, _value(v)) for n, v in sorted(record.items()) if n not in {"id", "resource_type", "resource_id"}
            )
            kept = tuple(
                (n, v) for n, v in values if n not in {"param", "version_id"} and (n, v) != ("repetition", None)
            )  # the indexer names a repetition only for a composite's components
            found.add((table, record["resource_id"], record["param"], kept))
    return found


def _derived(resources: list[dict[str, Any]]) -> set[Key]:
    found: set[Key] = set()
    for resource in resources:
        for table, rows in index_rows(resource).items():
            name = TABLES.get(table.__name__)
            if name is None:
                continue
            for row in rows:
                kept = tuple((n, _value(v)) for n, v in sorted(row.items()) if n != "param")
                found.add((name, resource["id"], row["param"], kept))
    return found


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_filled_index_rows_are_what_the_indexer_derives(database_url: str) -> None:
    url = _libpq(database_url)
    sql_fill.main(["--database-url", url, "--patients", "5", "--appointments", "2", "--batch", "3"])
    with psycopg.connect(url) as connection:
        resources = [
            r
            for (r,) in connection.execute(
                "SELECT resource FROM resource_history WHERE resource_type IN ('Patient', 'Appointment')"
            ).fetchall()
        ]
        filled = _filled(connection)
    assert len(resources) == 15
    assert {param for _, _, param, _ in filled} >= {"name", "identifier", "birthdate", "date", "patient", "actor"}
    assert len(filled) > 100
    assert filled == _derived(resources)
