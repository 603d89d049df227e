"""The audit trail of FHIR interactions: one ``audit_events`` row per FHIR request (issue 5, item 8).

A successful write records its row inside the write's own transaction (:func:`add_to_write`, called by
:mod:`fhir_server.fhir.unit_of_work`), so the change and its record commit or vanish together. Every other request
(reads, searches, failures, refusals) is recorded afterwards in a small transaction of its own by
:class:`fhir_server.audit.middleware.AuditMiddleware`. Rows are served as FHIR AuditEvent in the IHE BALP shape
(https://profiles.ihe.net/ITI/BALP/): type ``rest``, subtype the interaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from fhir_server.access.context import AccessContext
from fhir_server.auth.audit_events import Origin
from fhir_server.db import AuditEvent, Patient
from fhir_server.db.types import utcnow
from fhir_server.fhir.route_interactions import declared

RECORDED = "fhir_audit_recorded"
"""``request.state`` flag: this request's audit row is already committed."""
BUNDLE_TYPE = "fhir_audit_bundle_type"
"""``request.state`` entry: the ``type`` of a Bundle POSTed to the base (batch or transaction)."""
UNKNOWN = "unknown"
"""The action of a request that performed no FHIR interaction (a server-local code)."""
API, UI = "api", "ui"
"""How a request reached the data: the FHIR API, or a page of the browser UI (:mod:`fhir_server.ui`)."""
MAX_QUERY = 2000
"""The longest search query recorded (longer ones are cut: the row stays bounded whatever the client sends)."""


@dataclass(frozen=True)
class Interaction:
    """What one FHIR request did, as the audit trail records it."""

    action: str
    resource_type: str | None = None
    resource_id: str | None = None
    patient_fhir_id: str | None = None


def interaction_of(scope: Mapping[str, Any]) -> Interaction:
    """The interaction a request stands for: the one its matched route declares
    (:mod:`fhir_server.fhir.route_interactions`), with the type and ids of the route's path parameters (or the type
    its path fixes). ``POST [base]`` declares ``batch`` and is recorded as ``transaction`` for a transaction Bundle.

    A request that performed no interaction is recorded as ``unknown``: no route matched its path (404, no type), or
    its route does not take its method (405, with the type its path names), or its route refuses everything it
    matches (the 405 of a read-only type).
    """
    action, fixed_type = declared(scope)
    if action == "batch":
        bundle_type = scope.get("state", {}).get(BUNDLE_TYPE)
        action = bundle_type if bundle_type in ("batch", "transaction") else "batch"
    params: dict[str, str] = scope.get("path_params") or {}
    resource_type = params.get("resource_type") or fixed_type
    patient = params.get("patient_id")
    if patient is not None:
        resource_type = resource_type or "Patient"
    return Interaction(action or UNKNOWN, resource_type, params.get("resource_id"), patient)


def add(
    session: Session,
    interaction: Interaction,
    access: AccessContext | None,
    origin: Origin,
    status: int,
    detail: str | None = None,
) -> None:
    """Add the audit row of one FHIR request to ``session`` (committed with it)."""
    record = Record(interaction, access, origin, status, detail, utcnow())
    patients = _patients(session, {record.patient_fhir_id} - {None})
    session.add(AuditEvent(**record.values(patients.get(record.patient_fhir_id))))


@dataclass(frozen=True)
class Record:
    """One FHIR request as the audit trail will record it (see :func:`add_many`)."""

    interaction: Interaction
    access: AccessContext | None
    origin: Origin
    status: int
    detail: str | None
    recorded_at: datetime
    query: str | None = None
    """The query string of a search (at most :data:`MAX_QUERY` characters are kept)."""
    via: str = API
    """:data:`API` or :data:`UI`."""

    @property
    def patient_fhir_id(self) -> str | None:
        """The patient the request concerns: its path's, the Patient it names, else the caller's own."""
        if self.interaction.patient_fhir_id is not None:
            return self.interaction.patient_fhir_id
        if self.interaction.resource_type == "Patient" and self.interaction.resource_id:
            return self.interaction.resource_id
        return self.access.patient_id if self.access is not None else None

    def values(self, patient: tuple[uuid.UUID, uuid.UUID] | None) -> dict[str, Any]:
        """The ``audit_events`` column values, given the patient's (id, clinic) if the patient is known."""
        access, interaction, origin = self.access, self.interaction, self.origin
        clinic = access.organization_id if access is not None else None
        return {
            "id": uuid.uuid4(),
            "recorded_at": self.recorded_at,
            "organization_id": clinic if clinic is not None else (patient[1] if patient else None),
            "user_id": access.user_id if access is not None else None,
            "client_id": access.client_id if access is not None else None,
            "action": interaction.action[:64],
            "resource_type": (interaction.resource_type or "")[:64] or None,
            "resource_id": (interaction.resource_id or "")[:64] or None,
            "patient_id": patient[0] if patient else None,
            "outcome": outcome_of(self.status),
            "outcome_detail": (self.detail or str(self.status))[:500],
            "source_address": origin.source_address,
            "user_agent": origin.user_agent,
            "request_id": origin.request_id,
            "detail": self._detail(),
        }

    def _detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"status": self.status}
        if self.query:
            detail["query"] = self.query[:MAX_QUERY]
        if self.via != API:
            detail["via"] = self.via
        return detail


def add_many(session: Session, records: list[Record]) -> None:
    """Insert the rows of ``records`` in ``session``: one query for their patients, one multi-row INSERT."""
    if not records:
        return
    patients = _patients(session, {r.patient_fhir_id for r in records} - {None})
    table: Table = AuditEvent.__table__  # type: ignore[assignment]
    session.connection().execute(insert(table), [r.values(patients.get(r.patient_fhir_id)) for r in records])


def outcome_of(status: int) -> str:
    """success below 400, minor-failure for a client's error (4xx), serious-failure for the server's (5xx)."""
    if status < 400:
        return "success"
    return "minor-failure" if status < 500 else "serious-failure"


def _patients(session: Session, fhir_ids: set[str | None]) -> dict[str | None, tuple[uuid.UUID, uuid.UUID]]:
    """FHIR id -> (row id, clinic) of the known patients among ``fhir_ids``."""
    if not fhir_ids:
        return {}
    table = Patient.__table__
    rows = session.connection().execute(
        select(table.c.fhir_id, table.c.id, table.c.organization_id).where(table.c.fhir_id.in_(fhir_ids))
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def add_to_write(session: Session, request: Request, result: object) -> None:
    """Record a successful write inside its transaction (the new resource's id when it has one)."""
    interaction = interaction_of(request.scope)
    resource = getattr(result, "resource", None)
    if interaction.resource_id is None and isinstance(resource, dict):
        interaction = Interaction(
            interaction.action, resource.get("resourceType"), resource.get("id"), interaction.patient_fhir_id
        )
    status = 201 if getattr(result, "created", False) else 200
    add(session, interaction, getattr(request.state, "access", None), Origin.of(request), status)


def mark_recorded(request: Request) -> None:
    """Note that this request's row is committed (the middleware then records nothing more)."""
    setattr(request.state, RECORDED, True)
