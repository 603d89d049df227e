"""Binary (http://hl7.org/fhir/R4/binary.html) in the resource store, its bytes beside its JSON.

A stored type like any other (mappings.stored), except for ``data``: ``from_fhir`` takes it out of the stored JSON
and leaves a marker in its place, and ``apply`` stages the content for the version step, which stores it in chunks
under the new version (fhir_server.fhir.binary_content). So the JSON that history, search and the index walk stays
small, and the write pipeline stays the one write path: a raw upload and a FHIR JSON Binary both come here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir_server.fhir import binary_content
from mappings.base import MappedValues, MappingError
from mappings.stored import StoredMapping


class BinaryMapping(StoredMapping):
    """Binary: the stored JSON without ``data`` (a marker instead); the content staged for its version."""

    resource_type = "Binary"

    @classmethod
    def from_fhir(cls, resource: Mapping[str, Any]) -> MappedValues:
        """The stored document (``data`` replaced by a marker) and, in ``columns``, the content (None: no data).
        MappingError when ``data`` is not base64."""
        data = resource.get("data")
        values = super().from_fhir({k: v for k, v in resource.items() if k != "data"})
        values.extra = binary_content.unmarked(values.extra)
        content = None if data is None else binary_content.content_of(data)
        if content is not None and content.size == 0:
            content = None  # an empty upload: a Binary without data (FHIR has no empty base64Binary)
        if content is not None:
            try:
                values.extra = binary_content.with_marker(values.extra, content)
            except ValueError as exc:
                raise MappingError(f"Binary.data: {exc}", "Binary.data") from None
        values.columns[_CONTENT] = content
        return values

    @classmethod
    def apply(cls, row: Any, values: MappedValues, session: Any) -> None:
        content = values.columns.pop(_CONTENT, None)
        super().apply(row, values, session)
        if session is not None:
            binary_content.stage(session, row.fhir_id, content)


_CONTENT = "content"
"""The key of the content in the mapped values' ``columns`` (a Binary has no column; apply takes it out)."""
