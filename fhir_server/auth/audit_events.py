"""Authorization events in the audit trail (``audit_events``), written in the transaction of the change they record.

Actions: ``login``, ``logout``, ``login-failed``, ``account-locked``, ``token-issued``, ``token-refreshed``,
``token-revoked``, ``launch-created``, ``password-reset-requested``, ``password-reset``. They are served later as
FHIR AuditEvent (IHE BALP: https://profiles.ihe.net/ITI/BALP/, type ``110114`` User Authentication for logins,
logouts and password resets, ``rest`` with subtype for token events).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request

from fhir_server.db import AuditEvent

LOGIN = "login"
LOGOUT = "logout"
LOGIN_FAILED = "login-failed"
ACCOUNT_LOCKED = "account-locked"
TOKEN_ISSUED = "token-issued"  # noqa: S105 - an audit action name
TOKEN_REFRESHED = "token-refreshed"  # noqa: S105
TOKEN_REVOKED = "token-revoked"  # noqa: S105
LAUNCH_CREATED = "launch-created"
PASSWORD_RESET_REQUESTED = "password-reset-requested"  # noqa: S105
PASSWORD_RESET = "password-reset"  # noqa: S105


@dataclass(frozen=True)
class Origin:
    """Where a request came from, as the audit trail records it."""

    source_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    @classmethod
    def of(cls, request: Request) -> Origin:
        return cls(
            request.client.host if request.client else None,
            (request.headers.get("user-agent") or "")[:500] or None,
            getattr(request.state, "request_id", None),
        )


def record(
    session: Session,
    action: str,
    origin: Origin,
    *,
    user_id: uuid.UUID | None = None,
    client_id: str | None = None,
    organization_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    outcome: str = "success",
    outcome_detail: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one authorization event to ``session`` (it commits or rolls back with the change it records)."""
    session.add(
        AuditEvent(
            organization_id=organization_id,
            user_id=user_id,
            client_id=client_id,
            action=action,
            patient_id=patient_id,
            outcome=outcome,
            outcome_detail=outcome_detail[:500] if outcome_detail else None,
            source_address=origin.source_address,
            user_agent=origin.user_agent,
            request_id=origin.request_id,
            detail=detail or {},
        )
    )
