"""``_summary`` and ``_elements`` (http://hl7.org/fhir/R4/search.html#summary, #elements): the elements kept,
read from the R4 StructureDefinitions (``isSummary`` and ``min > 0``). Every resource so shown is tagged SUBSETTED
(``_summary`` true, text or data; ``_elements`` when it left something out).

``_summary=true`` keeps, at every level of the resource's own definition (its backbone elements, such as
``Observation.component``, followed through ``contentReference``), the elements marked ``isSummary`` and the
mandatory ones (``min > 0``); a kept data type (a HumanName, a CodeableConcept) is kept whole. ``resourceType``,
``id`` and ``meta`` are always kept; a primitive's extension (``_birthDate``) goes with its value.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Element:
    """What ``_summary`` needs of one element definition: summary or mandatory, and where its children are defined
    (its own path, or the path its ``contentReference`` names)."""

    summary: bool
    mandatory: bool
    children_at: str


@dataclass(frozen=True)
class _Definition:
    """One type's elements by path, and the paths that have children of their own (backbone elements)."""

    elements: dict[str, _Element]
    parents: frozenset[str]


@cache
def _definitions() -> dict[str, _Definition]:
    """type -> its elements (from the R4 StructureDefinitions of conformance/), at every depth."""
    bundle = orjson.loads((project_dir("conformance") / "structure-definitions.json").read_bytes())
    table: dict[str, _Definition] = {}
    for entry in bundle["entry"]:
        definition = entry["resource"]
        elements: dict[str, _Element] = {}
        for element in definition["snapshot"]["element"]:
            path = element["path"].removesuffix("[x]")
            reference = element.get("contentReference")
            children_at = reference.removeprefix("#") if reference else path
            elements[path] = _Element(bool(element.get("isSummary")), element.get("min", 0) > 0, children_at)
        parents = frozenset(path.rsplit(".", 1)[0] for path in elements if "." in path)
        table[definition["id"]] = _Definition(elements, parents)
    return table


def _element_name(resource_type: str, parent: str, key: str) -> str | None:
    """The name of the element JSON member ``key`` under ``parent`` stands for: ``value`` for a choice's
    ``valueString`` (``value[x]``), ``birthDate`` for a primitive's ``_birthDate``, else ``key`` itself; None when
    the type defines no such element."""
    definition = _definitions().get(resource_type)
    if definition is None:
        return None
    name = key.removeprefix("_")
    if f"{parent}.{name}" in definition.elements:
        return name
    for cut in range(len(name) - 1, 0, -1):  # choice types: valueString under value[x]
        if name[cut].isupper() and f"{parent}.{name[:cut]}" in definition.elements:
            return name[:cut]
    return None


def _member(resource_type: str, parent: str, key: str) -> _Element | None:
    """The definition of JSON member ``key`` under ``parent`` (a choice ``valueString`` under ``value[x]``, a
    primitive's ``_key`` under ``key``); None when the type defines no such element."""
    name = _element_name(resource_type, parent, key)
    return None if name is None else _definitions()[resource_type].elements[f"{parent}.{name}"]


def _element_info(resource_type: str, key: str) -> tuple[bool, bool]:
    """(isSummary, mandatory) of the top-level member ``key`` of ``resource_type``."""
    found = _member(resource_type, resource_type, key)
    return (found.summary, found.mandatory) if found is not None else (False, False)


def _summary_members(resource_type: str, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The summary and mandatory members of ``obj`` (defined at ``path``), backbone elements pruned alike."""
    kept: dict[str, Any] = {}
    parents = _definitions()[resource_type].parents
    for key, value in obj.items():
        found = _member(resource_type, path, key)
        if found is None or not (found.summary or found.mandatory):
            continue
        if found.children_at in parents and not key.startswith("_"):
            value = _pruned(resource_type, found.children_at, value)
        if value not in (None, [], {}):
            kept[key] = value
    return kept


def _pruned(resource_type: str, path: str, value: Any) -> Any:
    """A backbone element's value (an object or an array of them) with only its summary and mandatory members."""
    if isinstance(value, list):
        items = [_pruned(resource_type, path, item) for item in value]
        return [item for item in items if item not in (None, {})]
    if isinstance(value, dict):
        return _summary_members(resource_type, path, value)
    return value


def _tagged(kept: dict[str, Any]) -> dict[str, Any]:
    meta = dict(kept.get("meta", {}))
    tags = meta.get("tag", [])
    if not any(t.get("system") == SUBSETTED["system"] and t.get("code") == SUBSETTED["code"] for t in tags):
        meta["tag"] = [*tags, SUBSETTED]
    return {**kept, "meta": meta}


def summarize(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    """The resource as ``_summary=mode`` (true, text, data) shows it, tagged SUBSETTED."""
    resource_type = resource["resourceType"]
    if mode == "data":
        kept = {k: v for k, v in resource.items() if k != "text"}
    elif mode == "text":
        kept = {k: v for k, v in resource.items() if k in _ALWAYS or k == "text" or _element_info(resource_type, k)[1]}
    elif resource_type in _definitions():
        members = _summary_members(resource_type, resource_type, resource)
        kept = {k: members.get(k, v) for k, v in resource.items() if k in _ALWAYS or k in members}
    else:
        kept = {k: v for k, v in resource.items() if k in _ALWAYS}
    return _tagged(kept)


def select_elements(resource: dict[str, Any], elements: list[str]) -> dict[str, Any]:
    """The resource with only the named top-level elements (and the mandatory ones). An element is named as its
    definition names it: ``multipleBirth`` keeps ``multipleBirthInteger`` (a choice type by its base name), and a
    primitive's extension (``_birthDate``) goes with its value."""
    resource_type = resource["resourceType"]
    wanted = {e.split(".")[-1] if e.startswith(resource_type + ".") else e for e in elements}

    def named(key: str) -> bool:
        return key in wanted or _element_name(resource_type, resource_type, key) in wanted

    kept = {k: v for k, v in resource.items() if k in _ALWAYS or named(k) or _element_info(resource_type, k)[1]}
    return _tagged(kept) if kept != resource else resource
