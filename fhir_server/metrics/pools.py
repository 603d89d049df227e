"""The database pools' use, as gauges: connections checked out and the most each pool may open.

Read from the pools themselves (SQLAlchemy's ``QueuePool`` of requests, the PostgreSQL counters pool, the async
read pools of :class:`fhir_server.db.engine.AsyncPool`) when ``/metrics`` is scraped; under several workers each
worker also refreshes its own values every :data:`REFRESH_SECONDS` (the scrape reaches one worker only), in a task that
:func:`fhir_server.background.stop` ends.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from fhir_server.db.engine import Database
from fhir_server.metrics import multiprocess
from fhir_server.metrics.instruments import POOL_CHECKED_OUT, POOL_MAX

REFRESH_SECONDS = 5.0


def refresh(database: Database) -> None:
    """Set the pool gauges from ``database``'s pools as they are now."""
    _engine_pool("requests", database.engine)
    if database.counters is not None:
        _engine_pool("counters", database.counters)
    async_pools = database.open_async_pools()
    if async_pools or not database.is_sqlite:
        POOL_CHECKED_OUT.labels("async_reads").set(sum(pool.checked_out for pool in async_pools))
        POOL_MAX.labels("async_reads").set(sum(pool.capacity for pool in async_pools))


def _engine_pool(name: str, engine: Engine) -> None:
    pool = engine.pool
    if isinstance(pool, QueuePool):  # SQLite's in-memory databases use other pools, with nothing to count
        POOL_CHECKED_OUT.labels(name).set(pool.checkedout())
        POOL_MAX.labels(name).set(pool.size() + max(0, pool._max_overflow))


def start_refreshing(database: Database) -> asyncio.Task[None] | None:
    """Under several workers, a task refreshing this worker's gauges until cancelled; else None."""
    if not multiprocess.enabled():
        return None
    return asyncio.create_task(_refresh_forever(database), name="metrics-pools")


async def _refresh_forever(database: Database) -> None:
    while True:
        refresh(database)
        await asyncio.sleep(REFRESH_SECONDS)
