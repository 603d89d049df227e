"""$translate: ``[base]/ConceptMap/$translate?system=...&code=...`` and ``[base]/ConceptMap/[id]/$translate``
(GET, or POST Parameters with ``coding`` or ``codeableConcept``), over the ConceptMaps the server publishes (the
ones its mappings translate the clinic's codes with: mappings/conceptmaps/).

http://hl7.org/fhir/R4/conceptmap-operation-translate.html. The maps used are the instance, the one of ``url``, or
every map, narrowed by ``source`` and ``target`` (the value sets a map is scoped to) and ``targetsystem`` (a group's
target system); ``reverse=true`` translates from a map's targets back to its sources. The answer is a Parameters
resource: ``result`` (true when some match is not ``unmatched`` or ``disjoint``), ``message`` when there is none,
and one ``match`` per mapping found (``equivalence``, ``concept``, ``source`` = the ConceptMap's url).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.fhir.content import FhirResponse, check_accept, is_pretty
from fhir_server.fhir.operation_parameters import Param, add_routes, parameters, part, read_input, single
from fhir_server.fhir.operations.terminology_sources import concept_maps
from fhir_server.fhir.operations.validate_code import Candidate, candidates
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE
from fhir_server.request_context import Context

router = APIRouter()
DECLARED = {
    "url": Param("uri"),
    "conceptMapVersion": Param("string"),
    "code": Param("code"),
    "system": Param("uri"),
    "version": Param("string"),
    "source": Param("uri"),
    "coding": Param("Coding"),
    "codeableConcept": Param("CodeableConcept"),
    "target": Param("uri"),
    "targetsystem": Param("uri"),
    "reverse": Param("boolean"),
}
NO_MATCH = frozenset({"unmatched", "disjoint"})
_EXTRA = declares("$translate", "ConceptMap")


async def translate_type(request: Request, ctx: Context) -> Response:
    return await _translate(request, None)


async def translate_instance(resource_id: str, request: Request, ctx: Context) -> Response:
    return await _translate(request, resource_id)


async def _translate(request: Request, resource_id: str | None) -> Response:
    """The translation (the caller's token was checked by ``Context``: the maps are the same for every clinic)."""
    check_accept(request)
    values = await read_input(request, "translate", DECLARED)
    maps = [m for m in concept_maps(resource_id, single(values, "url")) if _scoped(m, values)]
    reverse = bool(single(values, "reverse"))
    wanted: list[Candidate] = [(s, c, None) for s, c, _ in candidates(values)]
    found = [m for concept_map in maps for m in _matches(concept_map, wanted, values, reverse)]
    return FhirResponse(answer(found, wanted), pretty=is_pretty(request))


def _scoped(concept_map: dict[str, Any], values: dict[str, list[Any]]) -> bool:
    """True when the map's own ``conceptMapVersion``, ``source`` and ``target`` scope fit the request."""
    version, source, target = (single(values, n) for n in ("conceptMapVersion", "source", "target"))
    if version is not None and concept_map.get("version") != version:
        return False
    if source is not None and source not in (concept_map.get("sourceUri"), concept_map.get("sourceCanonical")):
        return False
    return target is None or target in (concept_map.get("targetUri"), concept_map.get("targetCanonical"))


def _matches(
    concept_map: dict[str, Any], wanted: list[Candidate], values: dict[str, list[Any]], reverse: bool
) -> Iterator[dict[str, Any]]:
    """One ``match`` parameter per mapping of ``concept_map`` for a wanted concept."""
    target_system = single(values, "targetsystem")
    for group in concept_map.get("group", []):
        source, target = (
            (group.get("target"), group.get("source")) if reverse else (group.get("source"), group.get("target"))
        )
        if target_system is not None and target != target_system:
            continue
        for system, code, _ in wanted:
            if system in (None, source):
                yield from _group_matches(concept_map, group, source, target, code, reverse)


def _group_matches(
    concept_map: dict[str, Any], group: dict[str, Any], source: Any, target: Any, code: str, reverse: bool
) -> Iterator[dict[str, Any]]:
    for element in group.get("element", []):
        for mapped in element.get("target", []):
            if (mapped.get("code") if reverse else element.get("code")) != code:
                continue
            other = element if reverse else mapped
            parts = [part("equivalence", {"valueCode": mapped.get("equivalence", "equivalent")})]
            if other.get("code") and mapped.get("equivalence") != "unmatched":
                coding = {"system": target, "code": other["code"]}
                if other.get("display"):
                    coding["display"] = other["display"]
                parts.append(part("concept", {"valueCoding": coding}))
            parts.append(part("source", {"valueUri": concept_map["url"]}))
            yield {"part": parts}


def answer(found: list[dict[str, Any]], wanted: list[Candidate]) -> dict[str, Any]:
    """The Parameters of the matches ``found`` for ``wanted``."""
    matched = any(p["valueCode"] not in NO_MATCH for m in found for p in m["part"] if p["name"] == "equivalence")
    pairs: list[tuple[str, dict[str, Any]]] = [("result", {"valueBoolean": matched})]
    if not matched:
        shown = ", ".join(f"{s}#{c}" if s else repr(c) for s, c, _ in wanted)
        pairs.append(("message", {"valueString": f"no ConceptMap here maps {shown}"}))
    pairs.extend(("match", m) for m in found)
    return parameters(*pairs)


add_routes(router, "/ConceptMap/$translate", translate_type, _EXTRA)
add_routes(router, f"/ConceptMap/{INSTANCE}/$translate", translate_instance, _EXTRA)
