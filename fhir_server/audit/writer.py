"""Group commit of the audit rows of reads, searches, refusals and failures.

Every FHIR request that did not record its row inside its own write transaction hands the row to the event loop's
:class:`AuditWriter` after its response is sent, and its task waits until the row is committed: nothing is
acknowledged as done before its audit row is in the database, and an orderly shutdown (which lets in-flight
requests finish) loses no row. What is saved is the per-row transaction: while one batch commits, the rows of the
requests finishing meanwhile queue up and are written together in the next one (one patient lookup, then one COPY
on the event loop's async pool on PostgreSQL, or one multi-row INSERT off the loop elsewhere), so under load a
worker commits many rows per transaction instead of one per read; idle, a row is written at once, as before.

Trade-off: a batch that fails is retried row by row, so one bad row costs only itself; a crash of the process
(SIGKILL, power loss) loses the rows of requests not yet committed, which is also true of one-row transactions
started after the response. The client's response never waits for the audit write (it is sent first).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb
from starlette.concurrency import run_in_threadpool

from fhir_server.audit import trail
from fhir_server.db import AuditEvent, Patient, budget, failures
from fhir_server.db.engine import AsyncPool, Database

logger = logging.getLogger("fhir_server.audit")


class AuditWriter:
    """The audit rows of one event loop, committed in batches (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._pending: list[tuple[trail.Record, asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def record(self, record: trail.Record) -> None:
        """Return once ``record`` is committed (or its failure logged)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, done))
        if self._drainer is None or self._drainer.done():
            # Not bounded by the budget of the request that happens to start it: it writes for every request.
            self._drainer = asyncio.get_running_loop().create_task(self._drain(), context=budget.unbounded_context())
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._write([record for record, _ in batch])
            finally:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _write(self, records: list[trail.Record]) -> None:
        """On PostgreSQL one COPY on the loop's async pool; elsewhere (or when that fails) INSERTs off the loop."""
        pool = self._database.async_pool()
        if pool is not None:
            try:
                await _copy_batch(pool, records)
                return
            except failures.OUTAGES as exc:  # INSERTs would fail the same way
                failures.LOG.note("audit events not recorded: database unavailable", str(exc).split("\n")[0])
                return
            except Exception:  # retried below, row by row if need be, so a bad row costs only itself
                logger.warning("audit batch COPY failed; retrying with INSERTs", exc_info=True)
        await run_in_threadpool(_write_batch, self._database, records)

    async def close(self) -> None:
        """Wait until every row handed over so far is written, for at most :data:`CLOSE_WAIT` seconds: a database
        that stays locked (SQLite's write lock held by another program) must not hold the shutdown for its whole
        lock wait; what it has not taken by then is logged as not recorded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_WAIT
        while self._drainer is not None and not self._drainer.done():
            remaining = deadline - loop.time()
            if remaining <= 0 or not (await asyncio.wait({self._drainer}, timeout=remaining))[0]:
                logger.warning(
                    "audit events not recorded: the database did not take them within %g s of shutdown", CLOSE_WAIT
                )
                return


CLOSE_WAIT = 3.0
"""Seconds a stopping server waits for the audit rows still being written."""


_WRITERS = "audit_writers"


def writer_of(state: Any, database: Database) -> AuditWriter:
    """The running loop's writer kept in the application ``state`` (one per loop: its futures belong to it)."""
    writers: dict[asyncio.AbstractEventLoop, AuditWriter] = getattr(state, _WRITERS, None) or {}
    setattr(state, _WRITERS, writers)
    loop = asyncio.get_running_loop()
    writer = writers.get(loop)
    if writer is None:
        writer = writers[loop] = AuditWriter(database)
    return writer


async def close_writer(state: Any) -> None:
    """At shutdown: write what the running loop's writer still holds, then forget it."""
    writers: dict[asyncio.AbstractEventLoop, AuditWriter] = getattr(state, _WRITERS, None) or {}
    writer = writers.pop(asyncio.get_running_loop(), None)
    if writer is not None:
        await writer.close()


_COLUMNS = [column.name for column in AuditEvent.__table__.columns]
_COPY = sql.SQL("COPY {} ({}) FROM STDIN").format(
    sql.Identifier(AuditEvent.__tablename__), sql.SQL(", ").join(sql.Identifier(name) for name in _COLUMNS)
)
_PATIENTS = sql.SQL("SELECT fhir_id, id, organization_id FROM {} WHERE fhir_id = ANY(%s)").format(
    sql.Identifier(Patient.__tablename__)
)


async def _copy_batch(pool: AsyncPool, records: list[trail.Record]) -> None:
    """The rows of ``records`` in one transaction: one patient lookup, one COPY."""
    wanted = sorted({r.patient_fhir_id for r in records if r.patient_fhir_id is not None})
    async with pool.connection() as conn, conn.transaction():
        patients: dict[str | None, tuple[uuid.UUID, uuid.UUID]] = {}
        if wanted:
            cursor = await conn.execute(_PATIENTS, [wanted])
            patients = {row[0]: (row[1], row[2]) for row in await cursor.fetchall()}
        async with conn.cursor().copy(_COPY) as copy:
            for record in records:
                values = record.values(patients.get(record.patient_fhir_id))
                values["detail"] = Jsonb(values["detail"])
                await copy.write_row([values[name] for name in _COLUMNS])


def _write_batch(database: Database, records: list[trail.Record]) -> None:
    try:
        with database.write() as session:
            trail.add_many(session, records)
        return
    except failures.OUTAGES as exc:  # row by row would fail the same way
        failures.LOG.note("audit events not recorded: database unavailable", str(exc).split("\n")[0])
        return
    except Exception:
        if len(records) == 1:
            logger.exception("could not record the audit event", extra={"request_id": records[0].origin.request_id})
            return
    for record in records:  # the batch failed: each row alone, so only a bad one is lost
        _write_batch(database, [record])
