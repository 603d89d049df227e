"""organizations <-> Organization (http://hl7.org/fhir/R4/organization.html).

A row is a clinic's own Organization or an Organization a clinic works with (a lab, a payer: data of that clinic);
which, and the clinic, is the row's ``organization_id`` (fhir_server.db.clinic), set by the repository, never read
from the resource: a FHIR write never makes a clinic.
"""

from __future__ import annotations

from typing import ClassVar

from fhir_server.db import Organization
from fhir_server.db.vocab import ORGANIZATION_TYPES
from mappings import CANONICAL_BASE, lens
from mappings.base import Field, ResourceMapping
from mappings.datatypes import NPI_SYSTEM, address_field, identifier_field, telecom_field

ORGANIZATION_TYPE_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/organization-type"


def _organization_type(code: object) -> str:
    if code not in ORGANIZATION_TYPES:
        raise ValueError(f"unknown organization type {code!r}; one of {', '.join(ORGANIZATION_TYPES)}")
    return str(code)


class OrganizationMapping(ResourceMapping):
    resource_type = "Organization"
    model = Organization
    fields: ClassVar[tuple[Field, ...]] = (
        Field("name", lens.path("name"), "Organization.name", required=True),
        identifier_field("Organization", "npi", NPI_SYSTEM),
        Field(
            "type",
            lens.path("type", lens.FIRST, "coding", lens.where(system=ORGANIZATION_TYPE_SYSTEM), "code"),
            f"Organization.type.coding.where(system='{ORGANIZATION_TYPE_SYSTEM}').code",
            parse=_organization_type,
            default="clinic",
        ),
        telecom_field("Organization", "phone", "phone"),
        address_field("Organization", "address"),
        Field("active", lens.path("active"), "Organization.active", default=True),
    )
