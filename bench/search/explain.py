"""The query plans of the benchmark's searches: every SQL statement a request sends, with EXPLAIN ANALYZE.

Runs each request in-process (the application with authorization disabled, on ``FHIR_SERVER_DATABASE_URL``, a
PostgreSQL database such as one ``bench.search.sql_fill`` filled), records every statement the request sent
with its parameters, then runs ``EXPLAIN (ANALYZE, BUFFERS)`` of each on a separate connection and prints the
request's time, each statement's execution time, rows read from tables and buffers, and (``--plans``) the plans.

    FHIR_SERVER_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/fhir_big \
        .venv/bin/python -m bench.search.explain [--plans] [--repeat 3] ['Patient?name=tana' ...]

Without request arguments, the benchmark's searches are run on subjects picked from the database.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from bench.search.synthetic import IDENTIFIER_SYSTEM

Statement = tuple[str, Any]


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("requests", nargs="*", help="paths below the FHIR base, e.g. 'Patient?name=tana'")
    parser.add_argument("--plans", action="store_true", help="print each statement's plan")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each request before the one explained")
    return parser.parse_args(argv)


def default_requests(url: str) -> list[str]:
    """The benchmark's searches, on subjects read from the database (patient number 123457 and its data)."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT h.resource_id, h.resource->'name'->0->>'family', h.resource->>'birthDate',"
            " h.resource->'identifier'->0->>'value' FROM resource_history h JOIN search_token t"
            " ON t.resource_type = h.resource_type AND t.resource_id = h.resource_id AND t.param = 'identifier'"
            " WHERE h.resource_type = 'Patient' AND t.code = 'B000123457'"
        ).fetchone()
    if row is None:
        raise SystemExit("patient B000123457 is not in the database: fill it with more patients")
    patient_id, family, birth, identifier = row
    year, month, day = (int(part) for part in birth.split("-"))
    following = f"{year + month // 12}-{month % 12 + 1:02d}-{min(day, 28):02d}"
    return [
        f"Patient?name={family[:4]}",
        f"Patient?identifier={IDENTIFIER_SYSTEM}|{identifier}",
        f"Patient?birthdate=ge{birth}&birthdate=lt{following}",
        f"Appointment?patient=Patient/{patient_id}&date=ge2025-01-01&date=lt2026-01-01&_include=Appointment:patient",
        f"Patient/{patient_id}/$everything",
    ]


def recorder(log: list[Statement]) -> Any:
    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        log.append((statement, parameters))

    return record


def summary(plan: dict[str, Any]) -> tuple[float, int, int]:
    """(execution ms, rows the scans read (returned or filtered out), shared buffers hit + read) of an EXPLAIN
    (FORMAT JSON) plan."""
    rows = 0

    def walk(node: dict[str, Any]) -> None:
        nonlocal rows
        if "Scan" in node["Node Type"]:
            read = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
            read += node.get("Rows Removed by Index Recheck", 0)
            rows += int(read * node.get("Actual Loops", 1))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    top = plan["Plan"]
    buffers = int(top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0))
    return float(plan["Execution Time"]), rows, buffers


def explain(url: str, statements: list[Statement], show: bool) -> None:
    with psycopg.connect(url) as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            prefix = "EXPLAIN (ANALYZE, BUFFERS, FORMAT {})"
            (plan,) = connection.execute(prefix.format("JSON") + " " + statement, parameters).fetchone()  # type: ignore[misc]
            ms, rows, buffers = summary(plan[0])
            print(f"    {ms:8.2f} ms  rows read {rows:>8}  buffers {buffers:>7}  {' '.join(statement.split())[:110]}")
            if show:
                text = connection.execute(prefix.format("TEXT") + " " + statement, parameters).fetchall()
                print("\n".join("        " + line for (line,) in text))
            connection.rollback()


def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    os.environ["FHIR_SERVER_AUTH"] = "disabled"
    os.environ.setdefault("FHIR_SERVER_LOG_LEVEL", "warning")
    from fhir_server.app import create_app

    database_url = os.environ["FHIR_SERVER_DATABASE_URL"]
    libpq = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    log: list[Statement] = []
    event.listen(Engine, "before_cursor_execute", recorder(log))
    with TestClient(create_app()) as client:
        for request in options.requests or default_requests(libpq):
            for _ in range(options.repeat):
                client.get(f"/fhir/{request}")
            log.clear()
            started = time.perf_counter()
            response = client.get(f"/fhir/{request}")
            elapsed = 1000 * (time.perf_counter() - started)
            statements = list(log)
            body = response.json()
            entries = len(body.get("entry", []))
            total = body.get("total")
            print(f"{request}\n  {response.status_code} in {elapsed:.1f} ms, {entries} entries, total {total}")
            explain(libpq, statements, options.plans)
    print(json.dumps({"load": os.getloadavg()}))


if __name__ == "__main__":
    main()
