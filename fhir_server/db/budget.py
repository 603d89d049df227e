"""Each request's bound on database work: a deadline, a stop switch, and the connections it holds.

The deadline is restarted by each transaction the request opens (fhir_server.db.engine.Database.read and write):
time spent receiving the body or waiting on other services does not count.

fhir_server.db.request_guard opens one :class:`QueryBudget` per HTTP request and makes it current (a context
variable, which worker threads of ``run_in_threadpool`` inherit). The database layer consults it:

- SQLite: a progress handler on every connection aborts the running statement ("interrupted") once the budget is
  spent (deadline passed) or stopped (client gone, server shutting down).
- PostgreSQL: each connection the request checks out is held by the budget; stopping the budget asks the server to
  cancel what runs on them, and :meth:`QueryBudget.cut` shuts their sockets when the server does not answer at all.
- Both: no new statement starts on a spent or stopped budget (:func:`refuse_spent`).

Without a current budget (command line, background tasks) nothing is bounded here.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

State = Literal["running", "done", "stopped", "cut"]
_CURRENT: contextvars.ContextVar[QueryBudget | None] = contextvars.ContextVar("fhir_server_query_budget", default=None)


class QueryStoppedError(Exception):
    """A statement was refused because the request's budget was spent or stopped before it began."""


class QueryBudget:
    """The database work one request may still do: ``seconds`` from now, until stopped or done."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.state: State = "running"
        self._held: set[Any] = set()
        self._lock = threading.Lock()

    def restart(self) -> None:
        """A new unit of database work (a transaction) begins: it has the whole ``seconds`` again."""
        if self.state == "running":
            self.deadline = time.monotonic() + self.seconds

    def spent(self) -> bool:
        """True when work must stop now: past the deadline while running, or stopped or cut."""
        if self.state == "running":
            return time.monotonic() > self.deadline
        return self.state != "done"

    @property
    def timed_out(self) -> bool:
        """The deadline passed while the request still wanted to run (not stopped from outside)."""
        return self.state in ("running", "cut") and time.monotonic() > self.deadline

    def hold(self, connection: Any) -> None:
        """Note a PostgreSQL (psycopg) connection this request now uses (shut at once when already cut)."""
        with self._lock:
            self._held.add(connection)
        if self.state == "cut":
            _shut(connection)

    def release(self, connection: Any) -> None:
        with self._lock:
            self._held.discard(connection)

    def finish(self) -> None:
        """The request is over: anything still inheriting this budget is no longer bounded by it."""
        if self.state == "running":
            self.state = "done"

    def stop(self) -> None:
        """Stop the request's database work (client gone, shutting down): running statements are cancelled."""
        if self.state not in ("running", "done"):
            return
        self.state = "stopped"
        for connection in self._holding():
            threading.Thread(target=_cancel, args=(connection,), daemon=True).start()

    def cut(self) -> bool:
        """The database did not end the work in time (frozen or unreachable server): close the sockets of the
        connections held, which fails whatever waits on them at once. False (nothing done) when none is held."""
        held = self._holding()
        if self.state != "running" or not held:
            return False
        self.state = "cut"
        for connection in held:
            _shut(connection)
        return True

    def _holding(self) -> list[Any]:
        with self._lock:
            return list(self._held)


def current() -> QueryBudget | None:
    """The budget of the request being served in this context, if any."""
    return _CURRENT.get()


@contextmanager
def bounded(budget: QueryBudget) -> Iterator[QueryBudget]:
    """Make ``budget`` current for the block."""
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def unbounded_context() -> contextvars.Context:
    """A copy of the current context without a budget: for tasks that outlive the request starting them."""
    context = contextvars.copy_context()
    context.run(_CURRENT.set, None)
    return context


def sqlite_progress() -> int:
    """SQLite progress handler: non-zero (abort the statement) when the current budget is spent."""
    budget = _CURRENT.get()
    return 1 if budget is not None and budget.spent() else 0


def restart() -> None:
    """Restart the current budget's clock, if there is one (see QueryBudget.restart)."""
    budget = _CURRENT.get()
    if budget is not None:
        budget.restart()


def refuse_spent() -> None:
    """Raise QueryStoppedError when the current budget is spent (called before each statement)."""
    budget = _CURRENT.get()
    if budget is not None and budget.spent():
        raise QueryStoppedError("the request's database work was stopped")


def _cancel(connection: Any) -> None:
    # Best effort: the server may be gone or the statement already over.
    with contextlib.suppress(Exception):
        connection.cancel_safe(timeout=5)


def _shut(connection: Any) -> None:
    # Best effort: the connection may be closed already.
    with contextlib.suppress(Exception), socket.socket(fileno=os.dup(connection.pgconn.socket)) as sock:
        sock.shutdown(socket.SHUT_RDWR)
