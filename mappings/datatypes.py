"""Shared FHIR data type helpers for the mappings: paths and conversions used by several resource types."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from mappings import lens, terminology
from mappings.base import Field, parse_date, parse_instant, reference_target

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
DICOM_UID_SYSTEM = "urn:dicom:uid"
DICOM_DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
URI_SYSTEM = "urn:ietf:rfc:3986"


def human_name_fields(resource_type: str, given: str, family: str, prefix: str | None = None) -> tuple[Field, ...]:
    """The first name's first given name and family name (and optionally prefix) as columns."""
    first = lens.FIRST
    fields = [
        Field(family, lens.path("name", first, "family"), f"{resource_type}.name[0].family"),
        Field(
            given,
            lens.path("name", first, "given", lens.Pick(lambda _: True)),
            f"{resource_type}.name[0].given[0]",
            parse=str,
            default="",
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


def reference_to(target: str) -> lens.Pick:
    """The first Reference in an array that points at a ``target`` resource (``Target/id``, versioned or not)."""

    def match(element: Any) -> bool:
        named = reference_target(element.get("reference") if isinstance(element, dict) else None)
        return named is not None and named[0] == target

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


def participant_actor(target: str, status: str = "accepted") -> lens.Pick:
    """The first ``participant`` whose ``actor`` references a ``target`` resource.

    A participant the mapping adds starts as ``{"status": status}`` (``participant.status`` is 1..1, see
    http://hl7.org/fhir/R4/appointment-definitions.html#Appointment.participant.status).
    """

    def match(element: Any) -> bool:
        actor = element.get("actor") if isinstance(element, dict) else None
        named = reference_target(actor.get("reference") if isinstance(actor, dict) else None)
        return named is not None and named[0] == target

    return lens.Pick(match, {"status": status})


def mapped_concept(conceptmap_id: str) -> tuple[Callable[[Any], str], Callable[[str], dict[str, Any]]]:
    """``(parse, render)`` between an internal code and a CodeableConcept, through a ConceptMap.

    ``render`` gives the FHIR coding the ConceptMap maps the code to (when it maps it) followed by the code in
    the clinic's own code system (the map's ``group.source``). ``parse`` reads the clinic's coding first, then
    any FHIR coding the map knows; ValueError when neither is there (or the clinic's code is unknown).
    """

    def parse(concept: Any) -> str:
        listed = concept.get("coding") if isinstance(concept, dict) else None
        codings = [c for c in listed or [] if isinstance(c, dict)]
        internal = terminology.source_codes(conceptmap_id)
        source = terminology.source_system(conceptmap_id)
        for coding in codings:
            if coding.get("system") == source:
                if coding.get("code") not in internal:
                    raise ValueError(f"unknown code {coding.get('code')!r} of {source}; one of {', '.join(internal)}")
                return str(coding["code"])
        for coding in codings:
            with contextlib.suppress(KeyError):
                return terminology.reverse(conceptmap_id, str(coding.get("system")), str(coding.get("code")))
        known = ", ".join(terminology.known_targets(conceptmap_id))
        raise ValueError(f"needs a coding of {source} or one of {known}")

    def render(code: str) -> dict[str, Any]:
        own = {"system": terminology.source_system(conceptmap_id), "code": code}
        display = terminology.source_codes(conceptmap_id).get(code)
        if display:
            own["display"] = display
        try:
            translated = terminology.translate(conceptmap_id, code)
        except KeyError:
            return {"coding": [own]}
        fhir = {"system": translated.system, "code": translated.code}
        if translated.display:
            fhir["display"] = translated.display
        return {"coding": [fhir, own]}

    return parse, render


def concept_with(*systems: str) -> lens.Pick:
    """The first CodeableConcept of an array holding a coding of one of ``systems``."""

    def match(element: Any) -> bool:
        codings = element.get("coding") if isinstance(element, dict) else None
        return isinstance(codings, list) and any(isinstance(c, dict) and c.get("system") in systems for c in codings)

    return lens.Pick(match)


def extension_value(url: str, value_type: str) -> lens.Path:
    """The ``value[x]`` of the first extension of ``url`` (http://hl7.org/fhir/R4/extensibility.html)."""
    return lens.path("extension", lens.where(url=url), f"value{value_type}")


def owned_element_field(
    attr: str,
    element: lens.Path,
    key: str,
    expression: str,
    parse: Callable[[Any], Any] = lambda value: value,
    render: Callable[[Any], Any] = lambda value: value,
    template: dict[str, Any] | None = None,
) -> Field:
    """A column held by ``key`` of an array element the column owns (a ContactPoint, an Identifier, ...).

    While the element means the column's value it is served as the client sent it. When the column changes the
    element is replaced by ``{**template, key: render(value)}``: its other members (``use``, ``period``,
    ``display``) described the old value. When the column is cleared the element goes, rather than staying
    behind without its value (a qualification without its required ``code``, an identifier without a value).
    """
    base = dict(template or {})

    def read(found: Any) -> Any:
        if not isinstance(found, dict):
            raise TypeError("expected an object")
        value = found.get(key)
        return None if value is None else parse(value)

    def write(value: Any) -> dict[str, Any]:
        return {**base, key: render(value)}

    return Field(attr, element, expression, parse=read, render=write)
