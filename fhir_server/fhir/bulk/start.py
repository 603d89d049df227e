"""Starting, finding and cancelling export jobs for a caller: the service side of the Bulk Data HTTP layer
(https://hl7.org/fhir/uv/bulkdata/STU2/export.html), over the durable job queue (:mod:`fhir_server.jobs.queue`).

An export job belongs to the client that started it, in its clinic: only a token of that client there finds it
again (status, files, cancel); any other caller gets the 404 of an unknown job, never a 403 that would confirm the
job exists. A cancelled job and one past its expiry are unknown too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.db import Job
from fhir_server.db.types import utcnow
from fhir_server.errors import Kind, fail, not_found
from fhir_server.fhir import repository
from fhir_server.fhir.bulk.snapshot import group_members
from fhir_server.jobs import queue
from fhir_server.settings import Settings

KIND = "export"
RETRY_SECONDS = 2
"""The ``Retry-After`` of a 429 and of a status poll while the export runs."""


@dataclass(frozen=True)
class ExportJob:
    """An export job as the HTTP layer reads it (a plain copy of its row, usable after its session ends)."""

    id: str
    state: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    progress: dict[str, Any] | None
    error: str | None
    expires_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> ExportJob:
        return cls(str(job.id), job.state, job.params or {}, job.result, job.progress, job.error, job.expires_at)


def grant_of(access: AccessContext) -> dict[str, Any] | None:
    """The caller's grant as the job's ``params["grant"]`` (the fields of
    :class:`fhir_server.access.bearer.BearerGrant`), from which the runner rebuilds the same access context; None for
    the open context (authorization disabled)."""
    if access.open:
        return None
    return {
        "scope": access.scope_text,
        "client_id": access.client_id,
        "user_id": str(access.user_id) if access.user_id is not None else None,
        "role": access.role,
        "organization_id": str(access.organization_id) if access.organization_id is not None else None,
        "patient_id": access.patient_id,
    }


def start(session: Session, access: AccessContext, settings: Settings, params: dict[str, Any]) -> Job:
    """Queue the export of ``params`` for the caller: 429 (``Retry-After``) when its client already has
    ``export_max_running`` exports queued or running; 404 for a Group or a patient the caller cannot see."""
    owner = access.client_id
    if owner is not None and queue.running_count(session, KIND, owner) >= settings.export_max_running:
        text = f"this client already has {settings.export_max_running} exports queued or running; retry later"
        raise fail(Kind.TOO_MANY_REQUESTS, text, headers={"Retry-After": str(RETRY_SECONDS * 5)})
    as_of = datetime.fromisoformat(params["transaction_time"])
    if params["level"] == "group":
        group_members(session, access, params["group_id"], as_of, params["base_url"])
    for patient_id in params.get("patients") or ():
        repository.read(session, access, "Patient", patient_id)
    expires = timedelta(hours=settings.export_expire_hours)
    return queue.enqueue(session, KIND, params, organization_id=access.organization_id, owner=owner, expires_in=expires)


def find(session: Session, access: AccessContext, job_id: str) -> ExportJob:
    """The caller's export job ``job_id``; 404 when it is unknown, another client's or clinic's, cancelled or
    expired (all alike)."""
    job = queue.find(session, job_id)
    if job is None or not _owned(job, access) or job.state == "cancelled" or _expired(job):
        raise not_found(f"no export job {job_id[:64]!r} (unknown, expired, cancelled or not this client's)")
    return ExportJob.of(job)


def cancel(session: Session, access: AccessContext, job_id: str) -> tuple[str, bool]:
    """Cancel the caller's export ``job_id`` (export.html#bulk-data-delete-request); its id and whether it was
    running (its worker then stops at its next progress report and removes its files itself). 404 as :func:`find`."""
    job = find(session, access, job_id)
    if queue.cancel(session, job.id) is None:
        raise not_found(f"no export job {job_id[:64]!r}")
    return job.id, job.state == "running"


def _owned(job: Job, access: AccessContext) -> bool:
    if job.kind != KIND:
        return False
    if access.open:
        return job.owner is None
    return job.owner == access.client_id and job.organization_id == access.organization_id


def _expired(job: Job) -> bool:
    return job.expires_at is not None and job.expires_at <= utcnow()
