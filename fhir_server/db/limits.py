"""How many database connections a server process may open, and how long it waits for the database.

The whole server (every ``serve --workers`` process) shares FHIR_SERVER_DATABASE_MAX_CONNECTIONS; each worker takes
its share and splits it between the request pool, the async read pool (PostgreSQL) and the counter connections
(PostgreSQL). A request that finds no connection free within the pool timeout answers 503 with Retry-After.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.settings import Settings

GRACE = 3.0
"""Seconds past the statement timeout after which a database that has not answered is taken for unreachable."""


@dataclass(frozen=True)
class PoolSizes:
    """Connections of one process: the request pool (``pool_size`` kept + ``overflow``), async reads, counters."""

    pool_size: int
    overflow: int
    async_reads: int
    counters: int

    @property
    def total(self) -> int:
        return self.pool_size + self.overflow + self.async_reads + self.counters


@dataclass(frozen=True)
class DatabaseLimits:
    """The bounds a serving process puts on its database use (see fhir_server.settings for each)."""

    connections: int = 50
    statement_timeout: float = 30.0
    connect_timeout: int = 5
    pool_timeout: float = 5.0
    workers: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> DatabaseLimits:
        """This worker's limits: its share of the server's connections (at least 3)."""
        return cls(
            connections=max(3, settings.database_max_connections // settings.workers),
            statement_timeout=settings.statement_timeout,
            connect_timeout=settings.database_connect_timeout,
            pool_timeout=settings.database_pool_timeout,
            workers=settings.workers,
        )

    def sizes(self, sqlite: bool) -> PoolSizes:
        """The split of :attr:`connections`: all to the request pool on SQLite; on PostgreSQL a quarter (at least
        one) to async reads, an eighth (at least one) to counters, the rest to the request pool."""
        if sqlite:
            requests, async_reads, counters = self.connections, 0, 0
        else:
            async_reads = max(1, self.connections // 4)
            counters = max(1, self.connections // 8)
            requests = max(1, self.connections - async_reads - counters)
        kept = (requests + 1) // 2
        return PoolSizes(kept, requests - kept, async_reads, counters)

    def describe(self, sqlite: bool) -> str:
        """One line for the start-up log."""
        sizes = self.sizes(sqlite)
        return (
            f"database connections: {self.workers} worker(s), at most {sizes.total} connections each "
            f"({sizes.pool_size + sizes.overflow} for requests, {sizes.async_reads} for reads, "
            f"{sizes.counters} for counters); statement timeout {self.statement_timeout:g} s, "
            f"pool timeout {self.pool_timeout:g} s, connect timeout {self.connect_timeout} s"
        )
