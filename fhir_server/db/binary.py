"""The content of Binary resources (http://hl7.org/fhir/R4/binary.html), kept beside their JSON.

A Binary's bytes are not in its stored JSON (``stored_resources.extra`` and ``resource_history.resource``), where
every history walk, search and index run would carry them: they live here, cut into chunks of
:data:`fhir_server.fhir.binary_content.CHUNK_BYTES`, under the Binary's id and the version they belong to. The
stored JSON holds a marker instead (fhir_server.fhir.binary_content), replaced by ``data`` whenever the Binary is
served as FHIR JSON, and streamed chunk by chunk when it is downloaded in its own content type.
"""

from __future__ import annotations

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.db.base import Base, TenantMixin


class BinaryChunk(TenantMixin, Base):
    """Chunk ``seq`` (from 0) of the content of version ``version_id`` of ``Binary/resource_id``."""

    __tablename__ = "binary_chunks"

    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
