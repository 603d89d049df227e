"""Who is asking: the access context every FHIR handler receives.

Until SMART authorization is switched on, requests get the open context (everything allowed, no clinic bound).
Authorization replaces :func:`access_context` without touching handlers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import ColumnElement
from starlette.requests import Request


@dataclass(frozen=True)
class AccessContext:
    """The caller: user or client, granted scopes, patient compartment and clinic (None: not bound)."""

    user_id: uuid.UUID | None = None
    client_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    patient_id: str | None = None
    organization_id: uuid.UUID | None = None
    open: bool = False

    def may(self, resource_type: str, interaction: str) -> bool:
        """True when the caller may do ``interaction`` (read, vread, search, create, update, delete, ...)."""
        return self.open

    def search_restriction(self) -> Callable[[Any, str], ColumnElement[bool] | None] | None:
        """The SQL rule every version a search touches must meet for this caller (None: no rule).

        ``rule(h, resource_type)`` gets an aliased resource_history and the type it holds.
        """
        if self.organization_id is None:
            return None
        clinic = self.organization_id
        return lambda h, _resource_type: h.organization_id == clinic


OPEN = AccessContext(open=True)


def access_context(request: Request) -> AccessContext:
    """FastAPI dependency: the caller's access context."""
    return OPEN


Access = Annotated[AccessContext, Depends(access_context)]
"""Handler parameter type: ``access: Access``."""
