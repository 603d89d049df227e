"""The async read pool: statements run on PostgreSQL's async connections, SQLite's through the engine, and a pooled
connection the server dropped costs no failed read."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, literal, select, text

from fhir_server.db.engine import Database

_BACKEND = select(func.pg_backend_pid())
_ANSWER = select(literal(41) + 1)


def test_a_statement_runs_on_either_database(database: Database) -> None:
    async def run() -> tuple[object, ...] | None:
        try:
            return await database.fetch_one(_ANSWER, {})
        finally:
            await database.close_async_pool()

    assert asyncio.run(run()) == (42,)


def test_a_read_survives_the_server_dropping_its_pooled_connection(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite has no server and no async pool: nothing can drop a connection")

    async def run() -> tuple[int, int]:
        try:
            first = await database.fetch_one(_BACKEND, {})
            assert first is not None
            with database.engine.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first[0]})
            second = await database.fetch_one(_BACKEND, {})
            assert second is not None
            return first[0], second[0]
        finally:
            await database.close_async_pool()

    dropped, replacement = asyncio.run(run())
    assert replacement != dropped
