"""The SHALL requirements of the US Core 3.1.1 server CapabilityStatement
(http://hl7.org/fhir/us/core/STU3.1.1/CapabilityStatement-us-core-server.html), as data, and the check of a
CapabilityStatement against them.

Written down from the published statement (``CapabilityStatement-us-core-server.json`` of US Core 3.1.1): every
resource type whose expectation is SHALL, with the interactions, search parameters and search parameter
combinations its ``capabilitystatement-expectation`` extensions mark SHALL, the ``_revinclude`` of
``Provenance:target`` its narrative requires ("A Server SHALL be capable of supporting the following _revincludes"),
and the operations marked SHALL (``$docref`` on DocumentReference). Server-wide: JSON, and every unauthorized
request refused with 401 (rest.security), so a server with authorization off never instantiates it. SHOULD and MAY
items (vread, history, the ``_include`` lists, ValueSet ``$expand``, XML) are not requirements.

A server whose own CapabilityStatement meets all of them instantiates
:data:`SERVER_CAPABILITY_STATEMENT` (:func:`fhir_server.fhir.capability_statement.build`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SERVER_CAPABILITY_STATEMENT = "http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server|3.1.1"
PROVENANCE = ("Provenance:target",)


@dataclass(frozen=True)
class Required:
    """What US Core 3.1.1 requires (SHALL) of a server for one resource type."""

    interactions: tuple[str, ...] = ("search-type", "read")
    search_parameters: tuple[str, ...] = ()
    combinations: tuple[tuple[str, ...], ...] = ()
    rev_includes: tuple[str, ...] = PROVENANCE
    operations: tuple[str, ...] = ()


_CREATE = ("create", "search-type", "read")
SHALL: dict[str, Required] = {
    "AllergyIntolerance": Required(search_parameters=("patient",)),
    "CarePlan": Required(combinations=(("patient", "category"),)),
    "CareTeam": Required(combinations=(("patient", "status"),)),
    "Condition": Required(search_parameters=("patient",)),
    "Device": Required(search_parameters=("patient",)),
    "DiagnosticReport": Required(
        _CREATE,
        ("patient",),
        (("patient", "category", "date"), ("patient", "code"), ("patient", "category")),
    ),
    "DocumentReference": Required(
        _CREATE,
        ("_id", "patient"),
        (("patient", "type"), ("patient", "category", "date"), ("patient", "category")),
        operations=("docref",),
    ),
    "Encounter": Required(search_parameters=("_id", "patient"), combinations=(("date", "patient"),)),
    "Goal": Required(search_parameters=("patient",)),
    "Immunization": Required(search_parameters=("patient",)),
    "Location": Required(search_parameters=("name", "address"), rev_includes=()),
    "Medication": Required(("read",), rev_includes=()),
    "MedicationRequest": Required(combinations=(("patient", "intent"), ("patient", "intent", "status"))),
    "Observation": Required(
        combinations=(("patient", "category", "date"), ("patient", "code"), ("patient", "category"))
    ),
    "Organization": Required(search_parameters=("name", "address"), rev_includes=()),
    "Patient": Required(
        search_parameters=("_id", "identifier", "name"), combinations=(("birthdate", "name"), ("gender", "name"))
    ),
    "Practitioner": Required(search_parameters=("name", "identifier"), rev_includes=()),
    "PractitionerRole": Required(search_parameters=("specialty", "practitioner"), rev_includes=()),
    "Procedure": Required(search_parameters=("patient",), combinations=(("patient", "date"),)),
    "Provenance": Required(("read",), rev_includes=()),
}
"""Resource type -> what US Core 3.1.1 requires of a server for it (every type whose expectation is SHALL)."""


def unmet(statement: dict[str, Any]) -> list[str]:
    """Each SHALL requirement of US Core 3.1.1 that the CapabilityStatement ``statement`` does not meet, in words
    (empty: the server may instantiate the US Core server CapabilityStatement)."""
    rest = statement["rest"][0]
    problems = [] if "json" in statement.get("format", ()) else ["the json format"]
    if "security" not in rest:
        problems.append("401 for unauthorized requests (authorization is off)")
    resources = {r["type"]: r for r in rest.get("resource", ())}
    for resource_type, required in SHALL.items():
        problems.extend(f"{resource_type}: {p}" for p in _unmet_by(resources.get(resource_type), required))
    return problems


def _unmet_by(resource: dict[str, Any] | None, required: Required) -> Iterator[str]:
    if resource is None:
        yield "not served"
        return
    interactions = {i["code"] for i in resource.get("interaction", ())}
    parameters = {p["name"] for p in resource.get("searchParam", ())}
    rev_includes = set(resource.get("searchRevInclude", ()))
    operations = {o["name"] for o in resource.get("operation", ())}
    yield from (f"interaction {code}" for code in required.interactions if code not in interactions)
    yield from (f"search parameter {name}" for name in required.search_parameters if name not in parameters)
    for combination in required.combinations:
        if not set(combination) <= parameters:
            yield f"search parameter combination {'+'.join(combination)}"
    yield from (f"_revinclude={value}" for value in required.rev_includes if value not in rev_includes)
    yield from (f"operation ${name}" for name in required.operations if name not in operations)
