"""patients <-> Patient (http://hl7.org/fhir/R4/patient.html).

Columns: MRN as the ``MR`` identifier of the server's MRN system, first name, birth date, gender (the clinic's
words are FHIR's administrative-gender codes), first phone and email, first address, first communication
language, general practitioner, active, deceased (``deceasedDateTime`` may be partial, ``2020-05``: it is held as
the start of that period, and served as sent while it means the same).
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.orm import Session

from fhir_server.db import Patient
from fhir_server.db.mrn import allocate_mrn
from fhir_server.db.types import utcnow
from mappings import CANONICAL_BASE, lens
from mappings.base import Field, ResourceMapping, fhir_instant, reference_field
from mappings.datatypes import (
    IDENTIFIER_TYPE_SYSTEM,
    address_field,
    date_field,
    human_name_fields,
    parse_datetime,
    reference_to,
    telecom_field,
)

MRN_SYSTEM = f"{CANONICAL_BASE}/sid/mrn"
BCP47 = "urn:ietf:bcp:47"
_MRN = lens.Pick(
    lambda e: isinstance(e, dict) and e.get("system") == MRN_SYSTEM,
    {"use": "usual", "type": {"coding": [{"system": IDENTIFIER_TYPE_SYSTEM, "code": "MR"}]}, "system": MRN_SYSTEM},
)


def _language(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a code")
    return value


def _deceased_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected a boolean")
    return value


class PatientMapping(ResourceMapping):
    resource_type = "Patient"
    model = Patient
    fields: ClassVar[tuple[Field, ...]] = (
        Field("mrn", lens.path("identifier", _MRN, "value"), f"Patient.identifier.where(system='{MRN_SYSTEM}').value"),
        *human_name_fields("Patient", "given_name", "family_name"),
        date_field("Patient", "birth_date", "birthDate"),
        Field("gender", lens.path("gender"), "Patient.gender"),
        telecom_field("Patient", "phone", "phone"),
        telecom_field("Patient", "email", "email"),
        address_field("Patient", "address"),
        Field(
            "preferred_language",
            lens.path("communication", lens.FIRST, "language", "coding", lens.where(system=BCP47), "code"),
            f"Patient.communication[0].language.coding.where(system='{BCP47}').code",
            parse=_language,
        ),
        reference_field(
            "general_practitioner",
            "Practitioner",
            lens.path("generalPractitioner", reference_to("Practitioner"), "reference"),
            "Patient.generalPractitioner",
            foreign_key="general_practitioner_id",
        ),
        reference_field(
            "organization",
            "Organization",
            lens.path("managingOrganization", "reference"),
            "Patient.managingOrganization",
            foreign_key="organization_id",
        ),
        Field("active", lens.path("active"), "Patient.active", default=True),
        Field("deceased", lens.path("deceasedBoolean"), "Patient.deceasedBoolean", parse=_deceased_flag, default=False),
        Field(
            "deceased_at",
            lens.path("deceasedDateTime"),
            "Patient.deceasedDateTime",
            parse=parse_datetime,
            render=fhir_instant,
        ),
    )


def _allocate_mrn(session: Session, row: Patient, new: bool) -> None:
    """A patient created without an MRN of ours gets the clinic's next one (a server-set identifier)."""
    if row.mrn is None:
        row.mrn = allocate_mrn(session, row.organization_id, utcnow().year)


PatientMapping.before_write = (_allocate_mrn,)
