"""The durable job queue's one table (DESIGN.md "Background work"): bulk export now, subscription delivery and the
imaging feed later. :mod:`fhir_server.jobs` claims, runs, renews and sweeps these rows; nothing else writes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.db.base import Base, one_of, uuid_pk
from fhir_server.db.types import utcnow

STATES = ("queued", "running", "completed", "failed", "cancelled")
"""A job's states: queued -> running -> completed | failed; cancelled from queued, running or completed."""
FINISHED = ("completed", "failed", "cancelled")
"""States no worker will run again (swept once ``expires_at`` has passed)."""


class Job(Base):
    """One unit of background work of a ``kind`` (a handler registered with :func:`fhir_server.jobs.worker.register`).

    ``id`` (its text form) is the public job id; ``organization_id`` the clinic it works for and ``owner`` the OAuth
    client_id that started it (None: the command line). A running job is held by one worker: ``lease_owner`` until
    ``lease_until``, renewed by its progress calls; a lease that runs out means the worker died, and the job is
    claimable again. ``attempts`` counts the times a worker started it. ``expires_at`` (None: never) is when a
    finished job's row and its outputs are deleted."""

    __tablename__ = "jobs"
    __table_args__ = (
        one_of("state", STATES),
        Index("ix_jobs_state_created_at", "state", "created_at"),
        Index("ix_jobs_kind_owner_state", "kind", "owner", "state"),
        Index("ix_jobs_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), default=None
    )
    owner: Mapped[str | None] = mapped_column(String(100), default=None)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    progress: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
