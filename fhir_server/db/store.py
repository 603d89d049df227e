"""The resource store: every R4 resource type without a clinic table, kept as versioned FHIR JSON.

One row per resource (its current version): the type, the logical id (unique within the type), the clinic it
belongs to, ``meta.versionId``/``meta.lastUpdated`` and the resource JSON itself in ``extra`` (without
``resourceType``, ``id`` and the server's meta, as a mapped row keeps what it has no column for). Every version's
full JSON is in ``resource_history``, like a mapped type's; searches run over the same index tables.
"""

from __future__ import annotations

import uuid

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.db.base import Base, FhirResourceMixin, TenantMixin, uuid_pk


class StoredResource(TenantMixin, FhirResourceMixin, Base):
    """A resource of a type the clinic's own tables do not hold (Observation, Condition, Binary, ...)."""

    __tablename__ = "stored_resources"
    __table_args__ = (UniqueConstraint("resource_type", "fhir_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    resource_type: Mapped[str] = mapped_column(String(64))
    fhir_id: Mapped[str] = mapped_column(String(64), default=lambda: str(uuid.uuid4()))
