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
from mappings.base import Field, MappedValues, MappingError, ResourceMapping, fhir_instant, reference_field
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
    keeps_unheld = True
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

    @classmethod
    def apply(cls, row: Any, values: MappedValues, session: Any) -> None:
        """As every mapping; in the write pipeline (with a ``session``) the MRN stays the server's
        (:func:`_keep_mrn`)."""
        if session is not None:
            _keep_mrn(row, values)
        super().apply(row, values, session)


_MRN_EXPRESSION = f"Patient.identifier.where(system='{MRN_SYSTEM}').value"


def _keep_mrn(row: Patient, values: MappedValues) -> None:
    """The medical record number (the identifier of :data:`MRN_SYSTEM`) is the server's: a client may send it back
    unchanged, or leave it out (an existing patient keeps theirs), never set, change or add one (422 naming it; the
    same answer whatever the value, so it cannot tell whether another patient holds a number)."""
    held = row.mrn
    sent = values.columns.get("mrn")
    identifiers = values.extra.get("identifier")
    mrns = [i for i in identifiers or [] if isinstance(i, dict) and i.get("system") == MRN_SYSTEM]
    if len(mrns) > 1 or (sent is not None and sent != held) or "mrn" in values.unheld:
        message = f"{_MRN_EXPRESSION}: the medical record number is assigned by the server and read-only"
        raise MappingError(f"{message} (leave it out, or send the current one unchanged)", _MRN_EXPRESSION)
    values.columns["mrn"] = held


def _allocate_mrn(session: Session, row: Patient, new: bool) -> None:
    """A patient without an MRN (a new one) gets the clinic's next one."""
    if row.mrn is None:
        row.mrn = allocate_mrn(session, row.organization_id, utcnow().year)


PatientMapping.before_write = (_allocate_mrn,)
