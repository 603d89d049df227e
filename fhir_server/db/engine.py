"""Engine and sessions for SQLite (embedded default) and PostgreSQL.

Reads and writes use separate session factories. On SQLite a write transaction starts with ``BEGIN IMMEDIATE``,
taking the database's write lock up front, so two writers queue instead of failing half-way with "database is
locked"; reads start a plain deferred transaction and run beside writers thanks to WAL mode.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import orjson
import psycopg
from psycopg import pq
from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from fhir_server.db import budget
from fhir_server.db.limits import GRACE, DatabaseLimits
from fhir_server.db.write_session import WriteSession, refuse_unnoted_changes, refuse_unrecorded_versions

_IMMEDIATE = "fhir_server_sqlite_immediate"
_NO_JIT = "-c jit=off"
_COUNTER_OPTIONS = "-c synchronous_commit=off -c lock_timeout=10s"
_HOLDER = "fhir_server_held_by"
_FRESH = "fhir_server_fresh"


class PoolExhaustedError(Exception):
    """No database connection became free within the pool timeout."""


class DatabaseStalledError(Exception):
    """The database did not answer within the statement timeout (and grace): frozen or unreachable."""


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def pg_connect_args(limits: DatabaseLimits | None, options: str = "") -> dict[str, Any]:
    """psycopg connection arguments: no JIT (it compiles an over-estimated search for over a second; every query of
    ours is short) and, for a serving process (``limits``), its statement, connect and keepalive bounds; a backend
    whose client went away stops its statement within 2 s (client_connection_check_interval)."""
    options = f"{_NO_JIT} {options}".strip()
    if limits is None:
        return {"options": options}
    milliseconds = round(limits.statement_timeout * 1000)
    options += f" -c statement_timeout={milliseconds} -c client_connection_check_interval=2000"
    keepalives = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
    return {"options": options, "connect_timeout": limits.connect_timeout, **keepalives}


def create_db_engine(url: str, limits: DatabaseLimits | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the connection set-up this server relies on (JSON columns through orjson), bounded
    by ``limits`` (a serving process) or by the defaults of the command line (None). Statements run under the
    current request's budget (fhir_server.db.budget)."""
    kwargs.setdefault("json_serializer", _json_text)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if limits is not None:
        sizes = limits.sizes(url.startswith("sqlite"))
        kwargs.setdefault("pool_size", sizes.pool_size)
        kwargs.setdefault("max_overflow", sizes.overflow)
        kwargs.setdefault("pool_timeout", limits.pool_timeout)
    engine = _sqlite_engine(url, **kwargs) if url.startswith("sqlite") else _pg_engine(url, limits, **kwargs)
    event.listen(engine, "before_cursor_execute", _refuse_spent)
    return engine


def _refuse_spent(*_args: Any) -> None:
    budget.refuse_spent()


def _pg_engine(url: str, limits: DatabaseLimits | None, **kwargs: Any) -> Engine:
    kwargs.setdefault("connect_args", pg_connect_args(limits))
    # At most 30 connections per process, as before, but more of them kept: a pool much smaller than the thread
    # pool opened and closed "overflow" connections (a new PostgreSQL backend) in every busy moment. Hot reads use
    # the async pool (at most AsyncPool.max_size more).
    kwargs.setdefault("pool_size", 15)
    kwargs.setdefault("max_overflow", 15)
    engine = create_engine(url, **kwargs)
    _hold_checked_out(engine)
    return engine


def _hold_checked_out(engine: Engine) -> None:
    """A connection checked out is held by the current request's budget (so it can be cancelled or cut) and, unless
    new, pinged first (a dropped one is replaced): the pre-ping, done here so that a ping a frozen server never
    answers is cut with the request too."""

    @event.listens_for(engine, "connect")
    def _new(_dbapi_connection: Any, record: Any) -> None:
        record.info[_FRESH] = True

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        holder = budget.current()
        if holder is not None:
            holder.hold(dbapi_connection)
            record.info[_HOLDER] = (holder, dbapi_connection)
        if record.info.pop(_FRESH, False):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            _release(record)
            raise DisconnectionError(f"pre-ping failed: {exc}") from exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        _release(record)


def _release(record: Any) -> None:
    held = record.info.pop(_HOLDER, None)
    if held is not None:
        held[0].release(held[1])


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
    checks = 10_000  # virtual machine instructions between two looks at the request's budget (well under 1 ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        dbapi_connection.set_progress_handler(budget.sqlite_progress, checks)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_IMMEDIATE, False):
            _begin_immediate(conn.connection.driver_connection)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


_LOCK_WAIT = 30.0
"""Seconds a SQLite write waits for the database's write lock (as the busy timeout did before)."""


def _begin_immediate(driver: Any) -> None:
    """``BEGIN IMMEDIATE``, waiting up to _LOCK_WAIT seconds for the write lock in short tries, so that the wait
    ends as soon as the request's budget is spent or stopped (SQLite's own busy wait cannot be interrupted)."""
    give_up = time.monotonic() + _LOCK_WAIT
    driver.execute("PRAGMA busy_timeout = 100")
    try:
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > give_up:
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
                budget.refuse_spent()
    finally:
        driver.execute("PRAGMA busy_timeout = 30000")


Finish = Callable[[WriteSession], None]
"""The write pipeline's last step, run at the end of every write transaction (fhir_server.fhir.pipeline.finish)."""


class Database:
    """The one handle on the database a process holds: an engine plus read and write session factories.

    ``limits`` bound a serving process (pool sizes, timeouts: fhir_server.db.limits); without them the command
    line's defaults apply. ``finish`` ends each write transaction before it commits: the application passes the
    write pipeline's :func:`~fhir_server.fhir.pipeline.finish`, which versions and indexes whatever the transaction
    changed (CLI, seed, imaging sync and intake write served rows directly). Without it, a transaction that changes
    a served row is refused (:mod:`fhir_server.db.write_session`). ``default_clinic`` (its id, FHIR id, NPI or name;
    None: the only clinic) is the clinic a write naming none goes to (``FHIR_SERVER_DEFAULT_CLINIC``)."""

    def __init__(
        self,
        url: str,
        limits: DatabaseLimits | None = None,
        *,
        finish: Finish | None = None,
        default_clinic: str | None = None,
        **engine_kwargs: Any,
    ) -> None:
        self.url = url
        self.finish = finish
        self.limits = limits
        self.engine = create_db_engine(url, limits, **engine_kwargs)
        self._async_pools: dict[asyncio.AbstractEventLoop, AsyncPool] = {}
        writer = self.engine.execution_options(**{_IMMEDIATE: True}) if self.is_sqlite else self.engine
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        # No autoflush on writes: a row being filled from a resource must not reach the database half-done
        # because a lookup ran in between; the write pipeline flushes when the write is complete.
        # Counters (medical record numbers) are taken in short transactions of their own, on a few connections kept
        # apart from the pool the requests hold, so a write never waits for a counter another write holds.
        # synchronous_commit is off there: the commit of the transaction that uses a number makes the counter
        # durable. A lock wait that should never happen fails after 10 s instead of hanging.
        self.counters = None if self.is_sqlite else self._counters_engine()
        self._writer = sessionmaker(
            writer,
            class_=WriteSession,
            expire_on_commit=False,
            autoflush=False,
            counters=self.counters,
            default_clinic=default_clinic,
        )
        event.listen(self._writer, "before_flush", refuse_unnoted_changes)
        event.listen(self._writer, "before_commit", refuse_unrecorded_versions)

    def _counters_engine(self) -> Engine:
        sizes = (2, 8) if self.limits is None else (1, self.limits.sizes(False).counters - 1)
        args = pg_connect_args(self.limits, _COUNTER_OPTIONS)
        return create_db_engine(self.url, pool_size=sizes[0], max_overflow=sizes[1], connect_args=args)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; whatever it did is rolled back at the end."""
        budget.restart()
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[WriteSession]:
        """A write transaction: finished (``finish``) and committed whole when the block ends normally, rolled back
        on any error. Its session is its own: the transaction's state (WriteState) ends with it."""
        budget.restart()
        with self._writer() as session, session.begin():
            yield session
            if self.finish is not None:
                self.finish(session)

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
            pool = self._async_pools[loop] = AsyncPool(url.render_as_string(hide_password=False), self.limits)
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
        budget.restart()
        with self.engine.connect() as conn:
            row = conn.execute(statement, params).first()
        return tuple(row) if row is not None else None

    def open_async_pools(self) -> list[AsyncPool]:
        """The async pools opened so far (one per event loop that read through one; none on SQLite)."""
        return list(self._async_pools.values())

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

    def __init__(self, conninfo: str, limits: DatabaseLimits | None = None) -> None:
        self._conninfo = conninfo
        self._limits = limits
        self._connect_args = pg_connect_args(limits)
        self.capacity = 10 if limits is None else limits.sizes(False).async_reads
        """The most connections checked out at once."""
        self.checked_out = 0
        """Connections checked out now."""
        self._slots = asyncio.Semaphore(self.capacity)
        self._idle: list[psycopg.AsyncConnection[Any]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for the block; back to the pool afterwards when it is still clean. Raises
        PoolExhaustedError when none is free within the pool timeout (``limits``; without them it waits)."""
        wait = None if self._limits is None else self._limits.pool_timeout
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolExhaustedError(f"no connection for reads became free within {wait:g} s") from None
        self.checked_out += 1
        try:
            conn = await self._checkout()
            try:
                yield conn
            finally:
                await self._checkin(conn)
        finally:
            self.checked_out -= 1
            self._slots.release()

    async def fetch_one(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of one read-only statement (retried once on a dropped connection). Raises DatabaseStalledError
        when the database has not answered within the statement timeout and grace (``limits``)."""
        wait = None if self._limits is None else self._limits.statement_timeout + GRACE
        try:
            async with asyncio.timeout(wait):
                return await self._fetch_one(sql, params)
        except TimeoutError:
            raise DatabaseStalledError(f"the database did not answer a read within {wait:g} s") from None

    async def _fetch_one(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
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
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, **self._connect_args)

    async def _checkin(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if not conn.closed and not conn.broken and conn.info.transaction_status == pq.TransactionStatus.IDLE:
            self._idle.append(conn)
        else:
            await conn.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
