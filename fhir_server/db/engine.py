"""Engine and sessions for SQLite (embedded default) and PostgreSQL.

Reads and writes use separate session factories. On SQLite a write transaction starts with ``BEGIN IMMEDIATE``,
taking the database's write lock up front, so two writers queue instead of failing half-way with "database is
locked"; reads start a plain deferred transaction and run beside writers thanks to WAL mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

_IMMEDIATE = "fhir_server_sqlite_immediate"


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the connection set-up this server relies on (JSON columns through orjson)."""
    kwargs.setdefault("json_serializer", _json_text)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
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
        writer = self.engine.execution_options(**{_IMMEDIATE: True}) if self.is_sqlite else self.engine
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        # No autoflush on writes: a row being filled from a resource must not reach the database half-done
        # because a lookup ran in between; the versioning hook flushes when the write is complete.
        self._writer = sessionmaker(writer, expire_on_commit=False, autoflush=False)

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
