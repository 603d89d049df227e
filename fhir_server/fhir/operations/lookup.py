"""$lookup: ``[base]/CodeSystem/$lookup?system=...&code=...`` (GET, or POST Parameters with ``coding``).

http://hl7.org/fhir/R4/codesystem-operation-lookup.html. The answer is a Parameters resource: the CodeSystem's
``name`` and ``version``, the concept's ``display`` (its code when it has none), its ``designation`` s, and its
``property`` s: those the CodeSystem gives it, ``parent`` and ``child`` from the hierarchy, ``definition`` (the
``property`` input keeps only the codes it names). A code the system does not hold answers 404, as does a system
this server does not hold; a missing system or code answers 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.errors import bad_request, not_found
from fhir_server.fhir import terminology
from fhir_server.fhir.content import FhirResponse, check_accept, is_pretty
from fhir_server.fhir.operation_parameters import Param, add_routes, parameters, part, read_input, single
from fhir_server.fhir.operations.terminology_sources import code_system
from fhir_server.fhir.route_interactions import declares
from fhir_server.request_context import Context

router = APIRouter()
DECLARED = {
    "code": Param("code"),
    "system": Param("uri"),
    "version": Param("string"),
    "coding": Param("Coding"),
    "date": Param("dateTime"),
    "displayLanguage": Param("code"),
    "property": Param("code", repeats=True),
}


async def lookup(request: Request, ctx: Context) -> Response:
    check_accept(request)
    values = await read_input(request, "lookup", DECLARED)
    system, code = coded(values, "system", "code")
    found = code_system(system)
    version = single(values, "version")
    if version is not None and version != found.get("version"):
        raise not_found(
            f"CodeSystem {system} version {version!r} is not known (the version here is {found.get('version')!r})"
        )
    concept = terminology.find_concept(found, code)
    if concept is None:
        raise not_found(f"the code {code!r} is not in the CodeSystem {system}")
    return FhirResponse(answer(concept, values.get("property")), pretty=is_pretty(request))


def coded(values: dict[str, list[Any]], system_name: str, code_name: str) -> tuple[str, str]:
    """(system, code) from ``system`` + ``code`` or from ``coding`` (400 when neither is complete, or both given)."""
    coding = single(values, "coding")
    if coding is not None:
        if code_name in values or system_name in values:
            raise bad_request(f"give either coding or {system_name} and {code_name}, not both", "coding")
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            raise bad_request("the coding needs a system and a code", "coding", code="required")
        return system, code
    system, code = single(values, system_name), single(values, code_name)
    if code is None:
        raise bad_request(f"the {code_name} is required (or a coding)", code_name, code="required")
    if system is None:
        raise bad_request(f"the {system_name} of the code is required", system_name, code="required")
    return system, code


def answer(concept: terminology.Concept, wanted: list[str] | None) -> dict[str, Any]:
    """The Parameters of a found concept, with the properties ``wanted`` (all when None)."""
    system, definition = concept.system, concept.definition
    pairs: list[tuple[str, dict[str, Any]]] = [("name", {"valueString": system.get("title") or system["name"]})]
    if system.get("version"):
        pairs.append(("version", {"valueString": system["version"]}))
    pairs.append(("display", {"valueString": definition.get("display") or definition["code"]}))
    pairs.extend(("designation", {"part": _designation(d)}) for d in definition.get("designation", []))
    for code, value in _properties(concept):
        if wanted is None or code in wanted:
            pairs.append(("property", {"part": [part("code", {"valueCode": code}), part("value", value)]}))
    return parameters(*pairs)


def _designation(designation: dict[str, Any]) -> list[dict[str, Any]]:
    parts = []
    if designation.get("language"):
        parts.append(part("language", {"valueCode": designation["language"]}))
    if designation.get("use"):
        parts.append(part("use", {"valueCoding": designation["use"]}))
    parts.append(part("value", {"valueString": designation["value"]}))
    return parts


def _properties(concept: terminology.Concept) -> Iterator[tuple[str, dict[str, Any]]]:
    """(code, value[x]) of each property of ``concept``."""
    if concept.definition.get("definition"):
        yield "definition", {"valueString": concept.definition["definition"]}
    if concept.parent is not None:
        yield "parent", {"valueCode": concept.parent}
    for child in concept.children:
        yield "child", {"valueCode": child}
    for prop in concept.definition.get("property", []):
        value = next(((k, v) for k, v in prop.items() if k.startswith("value")), None)
        if value is not None:
            yield prop["code"], {value[0]: value[1]}


add_routes(router, "/CodeSystem/$lookup", lookup, declares("$lookup", "CodeSystem"))
