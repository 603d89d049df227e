"""Running a service function in one database transaction from an async handler.

Writes commit whole or not at all; a unique-constraint race between two concurrent writers answers 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.requests import Request

from fhir_server.app_context import app_context
from fhir_server.audit import trail
from fhir_server.db.engine import Database
from fhir_server.db.write_session import state_of
from fhir_server.errors import collision
from fhir_server.fhir.content import Prefer

T = TypeVar("T")


def _write(database: Database, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    try:
        with database.write() as session:
            return fn(session, *args)
    except IntegrityError as exc:
        if not _is_unique_violation(exc):
            raise  # any other constraint failing is a bug of ours, not the client's
        raise collision() from None


def _is_unique_violation(exc: IntegrityError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def _read(database: Database, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    with database.read() as session:
        return fn(session, *args)


async def write(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """``fn(session, *args)`` in a write transaction, off the event loop; the request's audit row is written in the
    same transaction (once per request). The transaction is lenient when the request asks for
    ``Prefer: handling=lenient`` (:class:`fhir_server.db.write_session.WriteState`)."""
    lenient = Prefer.parse(request).handling == "lenient"

    def audited(session: Session, *inner: Any) -> T:
        state_of(session).lenient = lenient
        result = fn(session, *inner)
        if not getattr(request.state, trail.RECORDED, False):
            trail.add_to_write(session, request, result)
        return result

    result = await run_in_threadpool(_write, app_context(request).database, audited, args)
    trail.mark_recorded(request)
    return result


async def read(request: Request, fn: Callable[[Session], T] | Callable[..., T], *args: Any) -> T:
    """``fn(session, *args)`` in a read-only session, off the event loop."""
    return await run_in_threadpool(_read, app_context(request).database, fn, args)
