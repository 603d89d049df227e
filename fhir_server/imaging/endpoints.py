"""The clinic's DICOMweb Endpoint (http://hl7.org/fhir/R4/endpoint.html), the one every ImagingStudy points at.

One per clinic: connectionType ``dicom-wado-rs`` (http://terminology.hl7.org/CodeSystem/endpoint-connection-type),
address = this server's own ``/dicomweb`` (never Orthanc's), status active. ``payloadType`` (1..*, an example
binding) is the R4 WADO-RS example's ``{"text": "DICOM WADO-RS"}``, with payloadMimeType application/dicom.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.db import Endpoint, Organization

WADO_RS = "dicom-wado-rs"
PROXY_PATH = "/dicomweb"


def dicomweb_base(base_url: str) -> str:
    """The public DICOMweb base: the FHIR base URL's origin + ``/dicomweb`` (no trailing slash)."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{PROXY_PATH}"


def clinic_endpoint(session: Session, organization_id: uuid.UUID, address: str) -> Endpoint:
    """The clinic's live WADO-RS Endpoint at ``address``, made when missing."""
    query = select(Endpoint).where(
        Endpoint.organization_id == organization_id,
        Endpoint.connection_type == WADO_RS,
        Endpoint.address == address,
        Endpoint.deleted_at.is_(None),
    )
    found = session.scalars(query).first()
    if found is not None:
        return found
    clinic = session.get(Organization, organization_id)
    endpoint = Endpoint(
        fhir_id=str(uuid.uuid4()),  # known before the flush: studies reference it in the same transaction
        organization_id=organization_id,
        status="active",
        connection_type=WADO_RS,
        name=f"DICOMweb (WADO-RS) of {clinic.name if clinic else 'the clinic'}",
        address=address,
        extra={"payloadType": [{"text": "DICOM WADO-RS"}], "payloadMimeType": ["application/dicom"]},
    )
    session.add(endpoint)
    return endpoint
