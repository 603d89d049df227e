"""Pure ASGI middleware bounding each HTTP request's database work (fhir_server.db.budget).

Per request: a QueryBudget of FHIR_SERVER_STATEMENT_TIMEOUT seconds is made current; the request's database work
is stopped when

- the deadline passes (restarted by each transaction; SQLite: the progress handler; PostgreSQL: its own
  ``statement_timeout``), and, should the database not answer even ``GRACE`` seconds later (a frozen server), the
  sockets of the connections the request holds are shut;
- the client disconnects (``http.disconnect`` arrives while the request is served);
- the request's task is cancelled (uvicorn's graceful-shutdown timeout after SIGTERM).

The application runs in a task of its own: a task waiting for a worker thread cannot be cancelled before the thread
ends, so this middleware stops the budget first (which ends the thread's statement) and then waits for the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server.db import budget
from fhir_server.db.limits import GRACE

_DISCONNECT: Message = {"type": "http.disconnect"}


class RequestGuard:
    """Runs each HTTP request under a budget of ``seconds`` of database work (see the module)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with budget.bounded(budget.QueryBudget(self.seconds)) as spending:
            relay = _Relay(receive, send, spending)
            work = asyncio.ensure_future(self.app(scope, relay.receive, relay.send))
            watcher = asyncio.ensure_future(relay.watch())
            cutter = _Cutter(spending)
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                spending.stop()
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
                raise
            finally:
                cutter.cancel()
                watcher.cancel()
                spending.finish()


class _Cutter:
    """Cuts the budget's connections once its (possibly restarted) deadline is GRACE seconds past and it still holds
    some (a request busy with anything but the database is left alone). A timer on the event loop, not a task: most
    requests end long before it fires, and a timer costs them less."""

    def __init__(self, spending: budget.QueryBudget) -> None:
        self._spending = spending
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(self._delay(), self._check)

    def _delay(self) -> float:
        return self._spending.deadline + GRACE - time.monotonic()

    def _check(self) -> None:
        delay = self._delay()
        if delay <= 0 and self._spending.cut():
            return
        self._timer = self._loop.call_later(max(delay, 1.0), self._check)

    def cancel(self) -> None:
        self._timer.cancel()


class _Relay:
    """Passes the client's messages to the application while watching for the client to go away."""

    def __init__(self, receive: Receive, send: Send, spending: budget.QueryBudget) -> None:
        self._receive = receive
        self._send = send
        self._spending = spending
        self._inbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        self._gone = False
        self._answered = False

    async def watch(self) -> None:
        """Read the client's messages (one ahead of the application); on a disconnect before the response is
        complete, stop the request's database work (the application then answers a client no longer there)."""
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._gone = True
                if not self._answered:
                    self._spending.stop()
                await self._inbox.put(message)
                return
            await self._inbox.put(message)

    async def receive(self) -> Message:
        if self._gone and self._inbox.empty():
            return _DISCONNECT
        return await self._inbox.get()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self._answered = True
        await self._send(message)
