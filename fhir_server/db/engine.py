"""Engine and sessions for SQLite (embedded default) and PostgreSQL.

Reads and writes use separate session factories. On SQLite a write transaction starts with ``BEGIN IMMEDIATE``,
taking the database's write lock up front, so two writers queue instead of failing half-way with "database is
locked"; reads start a plain deferred transaction and run beside writers thanks to WAL mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import orjson
import psycopg
from psycopg import pq
from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

_IMMEDIATE = "fhir_server_sqlite_immediate"
COUNTERS_ENGINE = "fhir_server_counters_engine"
"""Key of a write session's ``info``: the engine for counters (None on SQLite, whose one writer needs none)."""
_NO_JIT = "-c jit=off"
_COUNTERS: dict[str, Any] = {"connect_args": {"options": f"{_NO_JIT} -c synchronous_commit=off -c lock_timeout=10s"}}


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the connection set-up this server relies on (JSON columns through orjson)."""
    kwargs.setdefault("json_serializer", _json_text)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    # No JIT: it compiles an over-estimated search for over a second; every query of ours is short.
    kwargs.setdefault("connect_args", {"options": _NO_JIT})
    # At most 30 connections per process, as before, but more of them kept: a pool much smaller than the thread
    # pool opened and closed "overflow" connections (a new PostgreSQL backend) in every busy moment. Hot reads use
    # the async pool (at most AsyncPool.max_size more).
    kwargs.setdefault("pool_size", 15)
    kwargs.setdefault("max_overflow", 15)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The one handle on the database a process holds: an engine plus read and write session factories."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        from fhir_server.fhir import versioning  # the db layer must not import mappings at load time
        from fhir_server.fhir.search import indexer

        versioning.install()  # every write through any session becomes a FHIR version...
        indexer.install()  # ...indexed for search in the same transaction
        self.url = url
        self.engine = create_db_engine(url, **engine_kwargs)
        self._async_pools: dict[asyncio.AbstractEventLoop, AsyncPool] = {}
        writer = self.engine.execution_options(**{_IMMEDIATE: True}) if self.is_sqlite else self.engine
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        # No autoflush on writes: a row being filled from a resource must not reach the database half-done
        # because a lookup ran in between; the versioning hook flushes when the write is complete.
        # Counters (medical record numbers) are taken in short transactions of their own, on a few connections kept
        # apart from the pool the requests hold, so a write never waits for a counter another write holds.
        # synchronous_commit is off there: the commit of the transaction that uses a number makes the counter
        # durable. A lock wait that should never happen fails after 10 s instead of hanging.
        self.counters = None if self.is_sqlite else create_db_engine(url, pool_size=2, max_overflow=8, **_COUNTERS)
        self._writer = sessionmaker(
            writer, expire_on_commit=False, autoflush=False, info={COUNTERS_ENGINE: self.counters}
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; whatever it did is rolled back at the end."""
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed whole when the block ends normally, rolled back on any error."""
        with self._writer() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.counters is not None:
            self.counters.dispose()

    def async_pool(self) -> AsyncPool | None:
        """The running event loop's pool of async PostgreSQL connections (None on SQLite): for hot reads that
        should not hop to a thread. Close it with :meth:`close_async_pool` before the loop ends."""
        if self.is_sqlite:
            return None
        loop = asyncio.get_running_loop()
        pool = self._async_pools.get(loop)
        if pool is None:
            url = self.engine.url.set(drivername="postgresql")
            pool = self._async_pools[loop] = AsyncPool(url.render_as_string(hide_password=False))
        return pool

    async def fetch_one(self, statement: Select[Any], params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of one read-only ``statement`` with ``params`` for its bind parameters.

        On PostgreSQL it runs on the loop's async pool, compiled once per statement object (so pass module-level or
        cached statements); on SQLite through the engine, off the event loop. Values come back as the driver (or,
        on SQLite, the column type) gives them: uuid.UUID, aware datetimes, text for ``CAST(... AS TEXT)``.
        """
        pool = self.async_pool()
        if pool is None:
            return await run_in_threadpool(self._fetch_one_sync, statement, params)
        sql, defaults = _compiled(statement, self.engine.dialect)
        return await pool.fetch_one(sql, {**defaults, **params})

    def _fetch_one_sync(self, statement: Select[Any], params: dict[str, Any]) -> tuple[Any, ...] | None:
        with self.engine.connect() as conn:
            row = conn.execute(statement, params).first()
        return tuple(row) if row is not None else None

    async def close_async_pool(self) -> None:
        """Close the running loop's async pool, if one was opened."""
        pool = self._async_pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()


_COMPILED: dict[tuple[Select[Any], str], tuple[str, dict[str, Any]]] = {}
"""Statement -> its PostgreSQL SQL and literal parameters (immutable; a few dozen statements at most)."""


def _compiled(statement: Select[Any], dialect: Dialect) -> tuple[str, dict[str, Any]]:
    key = (statement, dialect.name)
    found = _COMPILED.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        found = _COMPILED[key] = (compiled.string, dict(compiled.params))
    return found


class AsyncPool:
    """A small pool of autocommit ``psycopg.AsyncConnection``s bound to one event loop, for single-statement reads.

    A connection is checked without a round trip (closed, broken or left inside a transaction: discarded), so a
    checkout costs nothing; a read that fails on a connection the server dropped is retried once by
    :meth:`fetch_one` on a fresh one. Statements are prepared on the server at their first use on a connection.
    """

    def __init__(self, conninfo: str, max_size: int = 10) -> None:
        self._conninfo = conninfo
        self._slots = asyncio.Semaphore(max_size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for the block; back to the pool afterwards when it is still clean."""
        async with self._slots:
            conn = await self._checkout()
            try:
                yield conn
            finally:
                await self._checkin(conn)

    async def fetch_one(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of one read-only statement (retried once on a dropped connection)."""
        for attempt in (1, 2):
            try:
                async with self.connection() as conn:
                    cursor = await conn.execute(sql, params, prepare=True)
                    return await cursor.fetchone()
            except psycopg.OperationalError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _checkout(self) -> psycopg.AsyncConnection[Any]:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and not conn.broken:
                return conn
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, options=_NO_JIT)

    async def _checkin(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if not conn.closed and not conn.broken and conn.info.transaction_status == pq.TransactionStatus.IDLE:
            self._idle.append(conn)
        else:
            await conn.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
