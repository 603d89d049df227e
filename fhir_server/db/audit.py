"""The audit trail of every FHIR interaction and authorization event (served as FHIR AuditEvent)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.db.base import Base, one_of, uuid_pk
from fhir_server.db.types import utcnow
from fhir_server.db.vocab import AUDIT_OUTCOMES


class AuditEvent(Base):
    """One recorded action: who did what to which resource of which patient, and how it ended."""

    __tablename__ = "audit_events"
    __table_args__ = (
        one_of("outcome", AUDIT_OUTCOMES),
        Index("ix_audit_events_org_recorded", "organization_id", "recorded_at"),
        Index("ix_audit_events_patient_recorded", "patient_id", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True)
    client_id: Mapped[str | None] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("patients.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    outcome_detail: Mapped[str | None] = mapped_column(String(500))
    source_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
