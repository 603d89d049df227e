"""What a clinic publishes for others to use: its technical endpoints and its questionnaires."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fhir_server.db.base import Base, FhirResourceMixin, TenantMixin, one_of, uuid_pk

if TYPE_CHECKING:
    from fhir_server.db.clinic import Organization

ENDPOINT_STATUSES = ("active", "suspended", "error", "off", "entered-in-error", "test")
"""http://hl7.org/fhir/R4/valueset-endpoint-status.html (a required binding: the column holds FHIR's codes)."""

PUBLICATION_STATUSES = ("draft", "active", "retired", "unknown")
"""http://hl7.org/fhir/R4/valueset-publication-status.html (a required binding: the column holds FHIR's codes)."""


class Endpoint(TenantMixin, FhirResourceMixin, Base):
    """A technical endpoint of a clinic (FHIR Endpoint), e.g. the DICOMweb base URL its studies are read from.

    ``connection_type`` is a code of http://terminology.hl7.org/CodeSystem/endpoint-connection-type
    (``dicom-wado-rs``, ``hl7-fhir-rest``); the payload types live in ``extra``. Connection type and address are
    empty when the resource's cannot be held (a coding without a code, an address longer than the column).
    """

    __tablename__ = "endpoints"
    __table_args__ = (one_of("status", ENDPOINT_STATUSES),)

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    connection_type: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(1000))


class Questionnaire(FhirResourceMixin, Base):
    """A form definition (FHIR Questionnaire); ``organization_id`` NULL means shared by every clinic.

    The columns are the metadata a form is found by (canonical ``url`` and ``version``, names, status,
    publisher); the items themselves are the document kept in ``extra``.
    """

    __tablename__ = "questionnaires"
    __table_args__ = (one_of("status", PUBLICATION_STATUSES),)

    id: Mapped[uuid.UUID] = uuid_pk()
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    url: Mapped[str | None] = mapped_column(String(1000), index=True)
    version: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    publisher: Mapped[str | None] = mapped_column(String(200))

    organization: Mapped[Organization | None] = relationship()
