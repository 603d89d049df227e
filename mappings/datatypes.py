"""Shared FHIR data type helpers for the mappings: paths and conversions used by several resource types."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from mappings import lens
from mappings.base import Field, parse_date, parse_instant

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
DICOM_UID_SYSTEM = "urn:dicom:uid"
DICOM_DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
URI_SYSTEM = "urn:ietf:rfc:3986"


def human_name_fields(resource_type: str, given: str, family: str, prefix: str | None = None) -> tuple[Field, ...]:
    """The first name's first given name and family name (and optionally prefix) as columns."""
    first = lens.FIRST
    fields = [
        Field(family, lens.path("name", first, "family"), f"{resource_type}.name[0].family", required=True),
        Field(
            given,
            lens.path("name", first, "given", lens.Pick(lambda _: True)),
            f"{resource_type}.name[0].given[0]",
            parse=str,
        ),
    ]
    if prefix is not None:
        fields.append(
            Field(
                prefix,
                lens.path("name", first, "prefix", lens.Pick(lambda _: True)),
                f"{resource_type}.name[0].prefix[0]",
            )
        )
    return tuple(fields)


def telecom_field(resource_type: str, attr: str, system: str) -> Field:
    """The first ContactPoint of ``system`` (phone, email)."""
    return Field(
        attr,
        lens.path("telecom", lens.where(system=system), "value"),
        f"{resource_type}.telecom.where(system='{system}').value",
    )


def identifier_field(resource_type: str, attr: str, system: str, required: bool = False) -> Field:
    """The value of the first identifier of ``system``."""
    return Field(
        attr,
        lens.path("identifier", lens.where(system=system), "value"),
        f"{resource_type}.identifier.where(system='{system}').value",
        required=required,
    )


def date_field(resource_type: str, attr: str, element: str) -> Field:
    return Field(
        attr, lens.path(element), f"{resource_type}.{element}", parse=parse_date, render=lambda d: d.isoformat()
    )


def address_field(resource_type: str, attr: str) -> Field:
    """The first address, kept whole as a JSON column."""
    return Field(attr, lens.path("address", lens.FIRST), f"{resource_type}.address[0]", parse=_as_dict)


def _as_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    return value


def coding_code(system: str) -> lens.Pick:
    """The coding of ``system`` in a CodeableConcept's coding array."""
    return lens.where(system=system)


def reference_to(target: str) -> lens.Pick:
    """The first Reference in an array that points at a ``target`` resource (``Target/id``)."""

    def match(element: Any) -> bool:
        reference = element.get("reference") if isinstance(element, dict) else None
        return isinstance(reference, str) and reference.split("/")[-2:-1] == [target]

    return lens.Pick(match)


def one_of(codes: Iterable[str]) -> Callable[[Any], str]:
    """A parser accepting only ``codes`` (a closed vocabulary held by a CHECK-constrained column)."""
    allowed = tuple(codes)

    def parse(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return str(value)

    return parse


def text(max_length: int) -> Callable[[Any], str]:
    """A parser of strings that fit a column of ``max_length`` characters."""

    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError("expected a string")
        if len(value) > max_length:
            raise ValueError(f"at most {max_length} characters are kept here (got {len(value)})")
        return value

    return parse


def parse_datetime(value: Any) -> datetime:
    """A FHIR dateTime (http://hl7.org/fhir/R4/datatypes.html#dateTime) as an instant.

    With a time it must carry a zone; a partial value (``2024``, ``2024-05``, ``2024-05-01``) is held as the
    start of that period in UTC.
    """
    if isinstance(value, str) and "T" not in value:
        return datetime.combine(parse_date(value), datetime.min.time(), UTC)
    return parse_instant(value)


def urn_oid(uid: str) -> str:
    """A DICOM UID as a URI (``urn:oid:1.2.3``)."""
    return f"urn:oid:{uid}"


def dicom_uid(value: Any, prefixed: bool = False) -> str:
    """A DICOM UID (digits and dots, at most 64 characters), read from ``urn:oid:<uid>`` when ``prefixed``."""
    if not isinstance(value, str):
        raise TypeError("expected a string")
    uid = value
    if prefixed:
        if not value.startswith("urn:oid:"):
            raise ValueError(f"{value!r} must be urn:oid:<DICOM UID>")
        uid = value.removeprefix("urn:oid:")
    parts = uid.split(".")
    if len(uid) > 64 or len(parts) < 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ValueError(f"{uid!r} is not a DICOM UID (digits and dots, at most 64 characters)")
    return uid
