"""The official R4 StructureDefinitions (conformance/) as the generator needs them.

http://hl7.org/fhir/R4/elementdefinition.html: for every element its cardinality (``min``/``max``), its types (a
choice element ``value[x]`` has several), the target types of a Reference (``targetProfile``), the element it
reuses (``contentReference``, as ``Questionnaire.item.item``), its binding and its invariants (``constraint``);
for every primitive type the regex its value must match (the ``regex`` extension of ``<type>.value``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir_server.fhir.structure import load_bundles

FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
PROFILE_BASE = "http://hl7.org/fhir/StructureDefinition/"


@dataclass(frozen=True)
class Constraint:
    """One invariant of an element (``key``: ``per-1``; ``expression``: FHIRPath that must be true)."""

    key: str
    expression: str


@dataclass(frozen=True)
class Element:
    """One element of a snapshot."""

    path: str
    min: int
    max: str
    types: tuple[str, ...]
    targets: tuple[str, ...] = ()
    content_reference: str | None = None
    binding_strength: str | None = None
    value_set: str | None = None
    constraints: tuple[Constraint, ...] = ()
    system_typed: bool = False
    """A FHIRPath system type (``Element.id``, ``Extension.url``): a plain JSON string, never ``_``-extended."""

    @property
    def name(self) -> str:
        """The last part of the path (``value[x]`` for a choice element)."""
        return self.path.rsplit(".", 1)[-1]

    @property
    def repeats(self) -> bool:
        return self.max != "1"

    @property
    def is_choice(self) -> bool:
        return self.name.endswith("[x]")

    def member(self, type_code: str) -> str:
        """The JSON member name this element has when it holds ``type_code`` (``valueString`` for value[x])."""
        if not self.is_choice:
            return self.name
        return self.name[:-3] + type_code[0].upper() + type_code[1:]


@dataclass(frozen=True)
class StructureDefinition:
    name: str
    kind: str
    elements: Mapping[str, Element]


def _type_code(entry: dict[str, Any]) -> str:
    for extension in entry.get("extension", []):
        if extension["url"] == FHIR_TYPE_EXTENSION:
            return str(extension["valueUrl"])
    return str(entry["code"])


def _element(raw: dict[str, Any]) -> Element:
    types = tuple(_type_code(t) for t in raw.get("type", []))
    targets = tuple(
        profile.removeprefix(PROFILE_BASE) for t in raw.get("type", []) for profile in t.get("targetProfile", [])
    )
    binding = raw.get("binding") or {}
    value_set = binding.get("valueSet")
    constraints = tuple(
        Constraint(c["key"], c["expression"])
        for c in raw.get("constraint", [])
        if c.get("severity") == "error" and c.get("expression") and c["key"] != "ele-1"
    )
    return Element(
        path=raw["path"],
        min=int(raw.get("min", 0)),
        max=str(raw.get("max", "*")),
        types=types,
        targets=targets,
        content_reference=raw.get("contentReference"),
        binding_strength=binding.get("strength"),
        value_set=value_set.split("|", 1)[0] if isinstance(value_set, str) else None,
        constraints=constraints,
        system_typed=any(t["code"].startswith("http://hl7.org/fhirpath/System.") for t in raw.get("type", [])),
    )


@cache
def structure_definitions() -> Mapping[str, StructureDefinition]:
    """Every base StructureDefinition of conformance/ by type name."""
    found: dict[str, StructureDefinition] = {}
    for sd in load_bundles():
        if sd.get("resourceType") != "StructureDefinition" or sd.get("derivation") == "constraint":
            continue
        elements = {e["path"]: _element(e) for e in sd["snapshot"]["element"]}
        found[sd["type"]] = StructureDefinition(sd["type"], sd["kind"], elements)
    return found


def definition(type_name: str) -> StructureDefinition:
    return structure_definitions()[type_name]


def is_primitive(type_name: str) -> bool:
    sd = structure_definitions().get(type_name)
    return sd is not None and sd.kind == "primitive-type"


def is_resource(type_name: str) -> bool:
    sd = structure_definitions().get(type_name)
    return sd is not None and sd.kind == "resource"


@cache
def children(owner: str, parent_path: str) -> tuple[Element, ...]:
    """The direct child elements of ``parent_path`` in ``owner``'s snapshot, in definition order."""
    prefix = parent_path + "."
    return tuple(
        element
        for path, element in definition(owner).elements.items()
        if path.startswith(prefix) and "." not in path[len(prefix) :]
    )


@cache
def regex(primitive: str) -> str | None:
    """The regex a value of a primitive type matches (None for ``xhtml`` and types without one)."""
    value = definition(primitive).elements.get(f"{primitive}.value")
    if value is None:
        return None
    raw = _raw_value_element(primitive)
    for entry in raw.get("type", []):
        for extension in entry.get("extension", []):
            if extension["url"] == REGEX_EXTENSION:
                return str(extension["valueString"])
    return None


@cache
def _raw_elements() -> Mapping[str, dict[str, dict[str, Any]]]:
    return {
        sd["type"]: {e["path"]: e for e in sd["snapshot"]["element"]}
        for sd in load_bundles()
        if sd.get("resourceType") == "StructureDefinition" and sd.get("derivation") != "constraint"
    }


def _raw_value_element(primitive: str) -> dict[str, Any]:
    return _raw_elements()[primitive][f"{primitive}.value"]


def constraints_of(owner: str, path: str) -> tuple[Constraint, ...]:
    """The error invariants of an element, and, for a data type, those its type definition declares."""
    element = definition(owner).elements.get(path)
    return () if element is None else element.constraints
