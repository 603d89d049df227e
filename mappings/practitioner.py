"""practitioners (the clinic's doctors) <-> Practitioner (http://hl7.org/fhir/R4/practitioner.html).

Columns: the first name's first given name, family name, first prefix ("Dr.") and first suffix ("MD"); the NPI as
the identifier of system http://hl7.org/fhir/sid/us-npi and every other identifier as the ``identifiers`` JSON
column; the first phone and email; active; the specialty as the code of a qualification (its name as text, with a
NUCC provider taxonomy coding when the ConceptMap ``practitioner-specialty`` knows it); the calendar colour as the
extension ``StructureDefinition/practitioner-calendar-color``. Initials stay internal (filled from the name when a
practitioner is created over FHIR). Practitioner has no managing organization: the repository gives a new
practitioner the caller's clinic (or the only one).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from fhir_server.db import Practitioner
from mappings import CANONICAL_BASE, lens, terminology
from mappings.base import Field, MappedValues, ResourceMapping
from mappings.datatypes import NPI_SYSTEM, extension_value, owned_element_field, text

CALENDAR_COLOR_URL = f"{CANONICAL_BASE}/StructureDefinition/practitioner-calendar-color"
NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"
SPECIALTY_MAP = "practitioner-specialty"
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_NPI = re.compile(r"^[0-9]{10}$")
_NAME = lens.path("name", lens.FIRST)
_ANY = lens.Pick(lambda _: True)
_NPI_EXPRESSION = f"Practitioner.identifier.where(system='{NPI_SYSTEM}').value"
_NPI_IDENTIFIER = lens.path("identifier", lens.where(system=NPI_SYSTEM))


def _npi(value: Any) -> str:
    if not isinstance(value, str) or not _NPI.match(value):
        raise ValueError(f"an NPI is 10 digits (got {value!r})")
    return value


def _color(value: Any) -> str:
    if not isinstance(value, str) or not _COLOR.match(value):
        raise ValueError(f"a calendar colour is #rrggbb (got {value!r})")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected a boolean")
    return value


def _is_specialty(qualification: Any) -> bool:
    """A qualification that states the specialty: NUCC-coded, or text without any coding."""
    code = qualification.get("code") if isinstance(qualification, dict) else None
    if not isinstance(code, dict):
        return False
    codings = code.get("coding") or []
    if not codings:
        return isinstance(code.get("text"), str)
    return any(isinstance(c, dict) and c.get("system") == NUCC_SYSTEM for c in codings)


def _specialty(concept: Any) -> str:
    """The specialty a qualification code names: its text, else the specialty its NUCC code maps back to."""
    if isinstance(concept.get("text"), str):
        return text(100)(concept["text"])
    for coding in concept.get("coding") or []:
        try:
            return terminology.reverse(SPECIALTY_MAP, NUCC_SYSTEM, str(coding.get("code")))
        except KeyError:
            continue
    raise ValueError("give the specialty as text (the NUCC code is not one this server knows)")


def _specialty_concept(specialty: str) -> dict[str, Any]:
    try:
        code = terminology.translate(SPECIALTY_MAP, specialty).code
    except KeyError:
        return {"text": specialty}
    return {"coding": [{"system": NUCC_SYSTEM, "code": code}], "text": specialty}


def _telecom(system: str, limit: int) -> Field:
    """The first ContactPoint of ``system``, owned by its column (a changed number drops the old ``use``)."""
    return owned_element_field(
        system,
        lens.path("telecom", lens.where(system=system)),
        "value",
        f"Practitioner.telecom.where(system='{system}').value",
        parse=text(limit),
        template={"system": system},
    )


class OtherIdentifiersField(Field):
    """Every identifier but the NPIs, as one JSON column; NPIs stay where they are when the column is written."""

    def read(self, resource: Any) -> Any:
        return list(super().read(resource))

    def write(self, doc: dict[str, Any], row: Any) -> dict[str, Any]:
        value = list(self.value_of(row) or [])
        current = lens.get(doc, self.path)
        if current is None and not value:
            return doc
        if current is not None and self._means(current, value):
            return doc
        npis = [i for i in current or [] if isinstance(i, dict) and i.get("system") == NPI_SYSTEM]
        return lens.put(doc, self.path, npis + value or None)


def _other_identifiers(identifiers: Any) -> list[dict[str, Any]]:
    if not isinstance(identifiers, list):
        raise TypeError("expected a list of identifiers")
    return [dict(i) for i in identifiers if isinstance(i, dict) and i.get("system") != NPI_SYSTEM]


class PractitionerMapping(ResourceMapping):
    resource_type = "Practitioner"
    model = Practitioner
    keeps_unheld = True
    conceptmaps = (SPECIALTY_MAP,)
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "calendar_color",
            extension_value(CALENDAR_COLOR_URL, "String"),
            f"Practitioner.extension('{CALENDAR_COLOR_URL}').valueString",
            parse=_color,
        ),
        OtherIdentifiersField(
            "identifiers",
            lens.path("identifier"),
            f"Practitioner.identifier.where(system != '{NPI_SYSTEM}')",
            parse=_other_identifiers,
            default=[],
        ),
        owned_element_field(
            "npi", _NPI_IDENTIFIER, "value", _NPI_EXPRESSION, parse=_npi, template={"system": NPI_SYSTEM}
        ),
        Field("active", lens.path("active"), "Practitioner.active", parse=_flag, default=True),
        Field("family_name", (*_NAME, lens.Key("family")), "Practitioner.name[0].family", text(100)),
        Field("given_name", (*_NAME, lens.Key("given"), _ANY), "Practitioner.name[0].given[0]", text(100)),
        Field("prefix", (*_NAME, lens.Key("prefix"), _ANY), "Practitioner.name[0].prefix[0]", text(20)),
        Field("suffix", (*_NAME, lens.Key("suffix"), _ANY), "Practitioner.name[0].suffix[0]", text(40)),
        _telecom("phone", 40),
        _telecom("email", 320),
        owned_element_field(
            "specialty",
            lens.path("qualification", lens.Pick(_is_specialty)),
            "code",
            "Practitioner.qualification.code",
            parse=_specialty,
            render=_specialty_concept,
        ),
    )

    @classmethod
    def apply(cls, row: Any, values: MappedValues, session: Any) -> None:
        """Write the values; a new row gets initials (when it has a name)."""
        super().apply(row, values, session)
        if row.initials is None:
            row.initials = ((row.given_name or "")[:1] + (row.family_name or "")[:1]).upper() or None
