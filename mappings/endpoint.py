"""endpoints <-> Endpoint (http://hl7.org/fhir/R4/endpoint.html).

Columns: status (FHIR's own codes), connectionType's code, name, address and the managing clinic
(``managingOrganization``). Everything else (payload types and MIME types, headers, period, contacts) is kept
verbatim in ``extra``. R4 requires ``payloadType`` (1..*): a row made inside the server without one is served with
the ``any`` payload type of http://terminology.hl7.org/CodeSystem/endpoint-payload-type.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fhir_server.db import Endpoint
from fhir_server.db.directory import ENDPOINT_STATUSES
from mappings import lens
from mappings.base import Field, ResourceMapping, reference_field
from mappings.datatypes import one_of, text

CONNECTION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
PAYLOAD_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/endpoint-payload-type"
ANY_PAYLOAD: dict[str, Any] = {"coding": [{"system": PAYLOAD_TYPE_SYSTEM, "code": "any", "display": "Any"}]}


def _connection_code(coding: Any) -> str:
    """The code of ``connectionType`` (the binding is extensible: another system's code is held as it is)."""
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        raise ValueError("a code is required")
    return text(64)(coding["code"])


def _connection_coding(code: str) -> dict[str, Any]:
    return {"system": CONNECTION_TYPE_SYSTEM, "code": code}


class EndpointMapping(ResourceMapping):
    resource_type = "Endpoint"
    model = Endpoint
    keeps_unheld = True
    fields: ClassVar[tuple[Field, ...]] = (
        Field("status", lens.path("status"), "Endpoint.status", parse=one_of(ENDPOINT_STATUSES), required=True),
        Field(
            "connection_type",
            lens.path("connectionType"),
            "Endpoint.connectionType",
            parse=_connection_code,
            render=_connection_coding,
            required=True,
        ),
        Field("name", lens.path("name"), "Endpoint.name", parse=text(200)),
        reference_field(
            "organization",
            "Organization",
            lens.path("managingOrganization", "reference"),
            "Endpoint.managingOrganization",
            foreign_key="organization_id",
        ),
        Field("address", lens.path("address"), "Endpoint.address", parse=text(1000), required=True),
    )

    @classmethod
    def finish(cls, doc: dict[str, Any], row: Any) -> dict[str, Any]:
        """Serve the ``any`` payload type when the row has none (R4: ``payloadType`` 1..*)."""
        if not doc.get("payloadType"):
            doc["payloadType"] = [ANY_PAYLOAD]
        return doc
