"""``_summary`` and ``_elements`` (http://hl7.org/fhir/R4/search.html#summary, #elements): the elements kept,
read from the R4 StructureDefinitions (``isSummary`` and ``min > 0``). A subsetted resource is tagged SUBSETTED.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from fhir_server.paths import project_dir

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
_ALWAYS = frozenset({"resourceType", "id", "meta"})


@cache
def _top_level_elements() -> dict[str, dict[str, tuple[bool, bool]]]:
    """type -> element name -> (isSummary, mandatory), for top-level elements (choice types by prefix)."""
    bundle = orjson.loads((project_dir("conformance") / "structure-definitions.json").read_bytes())
    table: dict[str, dict[str, tuple[bool, bool]]] = {}
    for entry in bundle["entry"]:
        definition = entry["resource"]
        elements: dict[str, tuple[bool, bool]] = {}
        for element in definition["snapshot"]["element"]:
            parts = element["path"].split(".")
            if len(parts) == 2:
                elements[parts[1].removesuffix("[x]")] = (bool(element.get("isSummary")), element.get("min", 0) > 0)
        table[definition["id"]] = elements
    return table


def _element_info(resource_type: str, key: str) -> tuple[bool, bool]:
    elements = _top_level_elements().get(resource_type, {})
    if key in elements:
        return elements[key]
    for name, info in elements.items():  # choice types: valueString under value[x]
        if key.startswith(name) and key[len(name) : len(name) + 1].isupper():
            return info
    return False, False


def _tagged(resource: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    meta = dict(kept.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    return {**kept, "meta": meta}


def summarize(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    """The resource as ``_summary=mode`` (true, text, data) shows it."""
    resource_type = resource["resourceType"]
    if mode == "data":
        kept = {k: v for k, v in resource.items() if k != "text"}
    elif mode == "text":
        kept = {k: v for k, v in resource.items() if k in _ALWAYS or k == "text" or _element_info(resource_type, k)[1]}
    else:
        kept = {k: v for k, v in resource.items() if k in _ALWAYS or any(_element_info(resource_type, k))}
    return _tagged(resource, kept) if kept != resource else resource


def select_elements(resource: dict[str, Any], elements: list[str]) -> dict[str, Any]:
    """The resource with only the named top-level elements (and the mandatory ones)."""
    resource_type = resource["resourceType"]
    wanted = {e.split(".")[-1] if e.startswith(resource_type + ".") else e for e in elements}
    kept = {k: v for k, v in resource.items() if k in _ALWAYS or k in wanted or _element_info(resource_type, k)[1]}
    return _tagged(resource, kept) if kept != resource else resource
