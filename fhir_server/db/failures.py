"""Database failures as answers: never a 500, one log line per kind of failure and period, with a count.

- The database unreachable, frozen, refusing connections, or no pooled connection free: **503** with ``Retry-After``,
  OperationOutcome code ``transient``. Retrying later helps; the request was not carried out.
- A request whose database work ran past FHIR_SERVER_STATEMENT_TIMEOUT: **400**, code ``too-costly``. The work the
  request asked for is what made it slow (a wide search, chains, ``_has``); the same request will be stopped again.
- A request whose client went away (or the server is shutting down): its work is stopped; the answer (499) is
  for the request log only.

A failure is logged at once the first time, then at most once per :data:`PERIOD` seconds per kind, counting the
others ("database unreachable (37 times in the last 10 s)"), never with a traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import psycopg
from sqlalchemy import exc as sa_exc
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.db import budget
from fhir_server.db.engine import DatabaseStalledError, PoolExhaustedError
from fhir_server.errors import FhirError
from fhir_server.fhir.outcomes import handle_fhir_error

RETRY_AFTER = "5"
PERIOD = 10.0
OUTAGES: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolExhaustedError,
    DatabaseStalledError,
)
"""Failures of the database or of the way to it (not of the statement run)."""
HANDLED: tuple[type[Exception], ...] = (*OUTAGES, budget.QueryStoppedError)
"""The exception types :func:`handle_database_failure` answers (registered on the app for each)."""

_logger = logging.getLogger("fhir_server.database")


@dataclass
class _Tally:
    logged_at: float
    unlogged: int = 0


class ThrottledLog:
    """Logs each kind of failure at most once per ``period`` seconds, with the number of occurrences."""

    def __init__(self, period: float = PERIOD) -> None:
        self.period = period
        self._tallies: dict[str, _Tally] = {}
        self._lock = threading.Lock()

    def note(self, kind: str, detail: str) -> None:
        """Count one ``kind`` of failure; log it when its period has passed (or it is the first)."""
        now = time.monotonic()
        with self._lock:
            tally = self._tallies.get(kind)
            if tally is not None and now - tally.logged_at < self.period:
                tally.unlogged += 1
                return
            count = 1 if tally is None else tally.unlogged + 1
            since = self.period if tally is None else now - tally.logged_at
            self._tallies[kind] = _Tally(now)
        times = "1 time" if count == 1 else f"{count} times"
        _logger.warning(f"{kind} ({times} in the last {since:.0f} s): {detail}", extra={"failure": kind})


LOG = ThrottledLog()


def classify(exc: Exception) -> tuple[FhirError, str]:
    """The answer to ``exc`` raised while serving a request, and the kind of failure it is (for the log)."""
    current = budget.current()
    if isinstance(exc, sa_exc.TimeoutError | PoolExhaustedError):
        return _unavailable("no database connection became free in time; the server is busy"), "database pool exhausted"
    if current is not None and current.state == "stopped":
        return FhirError.of(499, "transient", "the request was stopped: its client went away"), "request stopped"
    if (current is not None and current.state == "cut") or isinstance(exc, DatabaseStalledError):
        return _unavailable("the database did not answer in time"), "database not answering"
    timed_out = current is not None and current.timed_out
    if timed_out or _query_cancelled(exc) or isinstance(exc, budget.QueryStoppedError):
        limit = f" of {current.seconds:g} s" if current is not None else ""
        message = f"the request's database work ran past the server's statement timeout{limit} and was stopped "
        return FhirError.of(400, "too-costly", message + "(narrow the search)"), "statement timeout"
    if "database is locked" in str(exc):
        return _unavailable("the database is busy"), "database locked"
    return _unavailable("the database is unavailable"), "database unreachable"


def _query_cancelled(exc: Exception) -> bool:
    """A statement ended by the database at the statement timeout (PostgreSQL 57014) or the budget (SQLite)."""
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) == "57014" or str(orig) == "interrupted"


def _unavailable(message: str) -> FhirError:
    return FhirError.of(503, "transient", f"{message}; try again later", headers={"Retry-After": RETRY_AFTER})


async def handle_database_failure(request: Request, exc: Exception) -> Response:
    """Exception handler: the OperationOutcome of :func:`classify`, and a throttled log line."""
    error, kind = classify(exc)
    LOG.note(kind, _first_line(exc))
    return await handle_fhir_error(request, error)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
