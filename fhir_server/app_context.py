"""What every request of one application shares: its settings, public base URL, page-cursor key and database.

:func:`fhir_server.app.create_app` builds one :class:`AppContext` when the application starts (its lifespan opens
the database) and stores it once (:func:`install`); handlers, middleware and helpers read it with
:func:`app_context`. Nothing in it is derived again per request: the cursor key, in particular, is derived from
the settings once (:func:`fhir_server.fhir.cursors.signing_key`).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from fhir_server.db.engine import Database
from fhir_server.fhir import cursors
from fhir_server.settings import Settings


@dataclass(frozen=True, slots=True)
class AppContext:
    """The application's settings, its public FHIR base URL (``settings.base_url``), the key page cursors are
    signed with, and its database."""

    settings: Settings
    base_url: str
    cursor_key: bytes
    database: Database

    @classmethod
    def of(cls, settings: Settings, database: Database) -> AppContext:
        """The context of an application run with ``settings`` on ``database`` (the cursor key derived here)."""
        return cls(settings, settings.base_url, cursors.signing_key(settings), database)


def install(app: Starlette, context: AppContext) -> None:
    """Make ``context`` the one :func:`app_context` answers for requests to ``app`` (``app.state.context``)."""
    app.state.context = context


def context_of(app: Starlette) -> AppContext:
    """The context of ``app``; AttributeError before it has started."""
    context: AppContext = app.state.context
    return context


def started_context(app: Starlette) -> AppContext | None:
    """The context of ``app`` once it has started; None before (for middleware, which may see such requests)."""
    context: AppContext | None = getattr(app.state, "context", None)
    return context


def app_context(connection: HTTPConnection) -> AppContext:
    """The context of the application serving ``connection`` (a request)."""
    return context_of(connection.app)
