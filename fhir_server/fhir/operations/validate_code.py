"""$validate-code: ``[base]/ValueSet/$validate-code?url=...&system=...&code=...`` and
``[base]/ValueSet/[id]/$validate-code`` (GET, or POST Parameters with ``coding`` or ``codeableConcept``).

http://hl7.org/fhir/R4/valueset-operation-validate-code.html. The answer is a Parameters resource: ``result``
(true when the concept is in the ValueSet and, when a ``display`` is given, that display is the concept's),
``message`` (why not, or what was off), ``display`` (the concept's display). A ``codeableConcept`` is valid when one
of its codings is. A code without a system is looked for in every system of the ValueSet. A request naming no
concept, or an unknown ValueSet, is an error (400, 404), not a ``false``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.errors import bad_request
from fhir_server.fhir import terminology
from fhir_server.fhir.content import FhirResponse, check_accept, is_pretty
from fhir_server.fhir.operation_parameters import Param, add_routes, parameters, read_input, single
from fhir_server.fhir.operations.terminology_sources import expansion, value_set
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE
from fhir_server.request_context import Context, RequestContext

router = APIRouter()
DECLARED = {
    "url": Param("uri"),
    "context": Param("uri"),
    "valueSetVersion": Param("string"),
    "code": Param("code"),
    "system": Param("uri"),
    "systemVersion": Param("string"),
    "display": Param("string"),
    "coding": Param("Coding"),
    "codeableConcept": Param("CodeableConcept"),
    "date": Param("dateTime"),
    "abstract": Param("boolean"),
    "displayLanguage": Param("code"),
}
Candidate = tuple[str | None, str, str | None]
"""A concept to check: (system, code, display)."""
_EXTRA = declares("$validate-code", "ValueSet")


async def validate_type(request: Request, ctx: Context) -> Response:
    return await _validate(request, ctx, None)


async def validate_instance(resource_id: str, request: Request, ctx: Context) -> Response:
    return await _validate(request, ctx, resource_id)


async def _validate(request: Request, ctx: RequestContext, resource_id: str | None) -> Response:
    check_accept(request)
    values = await read_input(request, "validate-code", DECLARED)
    found = await value_set(ctx, resource_id, single(values, "url"))
    entries = expansion(found)
    return FhirResponse(verdict(found, entries, candidates(values)), pretty=is_pretty(request))


def candidates(values: dict[str, list[Any]]) -> list[Candidate]:
    """The concepts the request names (400 when it names none, or names them more than one way)."""
    given = [name for name in ("code", "coding", "codeableConcept") if name in values]
    if len(given) != 1:
        raise bad_request("name the concept once: code (with system), coding or codeableConcept", "code", "required")
    if given == ["code"]:
        return [(single(values, "system"), single(values, "code"), single(values, "display"))]
    if given == ["coding"]:
        return [_of_coding(single(values, "coding"), single(values, "display"), "coding")]
    concept = single(values, "codeableConcept")
    codings = concept.get("coding")
    if not isinstance(codings, list) or not codings:
        raise bad_request("the codeableConcept has no coding to check", "codeableConcept", code="required")
    return [_of_coding(c, None, f"codeableConcept.coding[{i}]") for i, c in enumerate(codings)]


def _of_coding(coding: Any, display: str | None, where: str) -> Candidate:
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        raise bad_request(f"{where} needs a code", where, code="required")
    system, shown = coding.get("system"), coding.get("display")
    return (system if isinstance(system, str) else None, coding["code"], shown if isinstance(shown, str) else display)


def verdict(found: dict[str, Any], entries: list[terminology.Entry], wanted: list[Candidate]) -> dict[str, Any]:
    """The Parameters answer for ``wanted`` against the expansion ``entries`` of ``found``."""
    url = found.get("url")
    problems: list[str] = []
    for system, code, display in wanted:
        entry = next((e for e in entries if e.code == code and system in (None, e.system)), None)
        if entry is None:
            problems.append(f"the code {_shown(system, code)} is not in the ValueSet {url}")
            continue
        if display is not None and entry.display is not None and display.casefold() != entry.display.casefold():
            message = f"the display {display!r} is not the display of {_shown(entry.system, code)} ({entry.display!r})"
            return _answer(False, message, entry.display)
        return _answer(True, None, entry.display)
    return _answer(False, "; ".join(problems), None)


def _answer(result: bool, message: str | None, display: str | None) -> dict[str, Any]:
    pairs: list[tuple[str, dict[str, Any]]] = [("result", {"valueBoolean": result})]
    if message:
        pairs.append(("message", {"valueString": message}))
    if display:
        pairs.append(("display", {"valueString": display}))
    return parameters(*pairs)


def _shown(system: str | None, code: str) -> str:
    return f"{system}#{code}" if system else repr(code)


add_routes(router, "/ValueSet/$validate-code", validate_type, _EXTRA)
add_routes(router, f"/ValueSet/{INSTANCE}/$validate-code", validate_instance, _EXTRA)
