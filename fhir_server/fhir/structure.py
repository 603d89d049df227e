"""The official R4 StructureDefinitions as a type-directed walk over a resource's JSON.

http://hl7.org/fhir/R4/elementdefinition.html and http://hl7.org/fhir/R4/json.html. The snapshots of the served
resource types and of the data types (copied unchanged into ``conformance/``) say, for every element, its types,
its binding and, for a backbone element reused elsewhere, its ``contentReference``. :func:`walk` follows them
through a resource at every depth: backbone elements, data types inside data types, choice elements (``value[x]``
as ``valueCoding``), primitive extensions (``_gender``), extensions and contained resources (walked as their own
type). Each value comes out as a :class:`Node` naming its element definition and its FHIRPath with indices
(``Appointment.participant[1].status``). Elements the definitions do not know are skipped: the structure check
reports them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import orjson

from fhir_server.paths import project_dir

DEFINITION_FILES = ("structure-definitions.json", "structure-definitions-types.json")
_SYSTEM_TYPE = "http://hl7.org/fhirpath/System."
_REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
_FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"


@dataclass(frozen=True)
class Constraint:
    """An invariant of severity error (``constraint``): its key (``per-1``), human text and FHIRPath expression."""

    key: str
    human: str
    expression: str


@dataclass(frozen=True)
class ElementDef:
    """One element of a snapshot: its canonical path, its type codes, its binding and its content reference; its
    cardinality (``max`` None when unbounded), the resource types a Reference may target (empty: any), its error
    invariants (``ele-1`` aside: the structure check covers it) and, for a primitive's ``value``, its regex."""

    path: str
    types: tuple[str, ...]
    binding_strength: str | None = None
    value_set: str | None = None
    content_reference: str | None = None
    min: int = 0
    max: int | None = None
    targets: tuple[str, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    regex: str | None = None
    system_typed: bool = False
    """Typed by a FHIRPath system type (``Element.id``, ``Extension.url``): a bare JSON string, never ``_``-extended."""
    short: str = ""
    """The element's short description (``ElementDefinition.short``), for documentation."""

    @property
    def repeats(self) -> bool:
        """True when the element may hold more than one value (a JSON array)."""
        return self.max is None or self.max > 1


@dataclass(frozen=True)
class Node:
    """One value met by :func:`walk`: where it is (``expression``), what defines it and which type it has."""

    expression: str
    element: ElementDef
    type: str
    value: Any


@dataclass(frozen=True)
class Definitions:
    """The loaded StructureDefinitions: each one's elements by path, and each one's kind."""

    elements: Mapping[str, Mapping[str, ElementDef]]
    kinds: Mapping[str, str]

    def is_resource(self, name: str) -> bool:
        return self.kinds.get(name) == "resource"


def load_bundles(names: tuple[str, ...] = DEFINITION_FILES) -> list[dict[str, Any]]:
    """The StructureDefinition resources of ``conformance/<name>`` (FHIR Bundles)."""
    directory = project_dir("conformance")
    resources: list[dict[str, Any]] = []
    for name in names:
        bundle = orjson.loads((directory / name).read_bytes())
        resources.extend(entry["resource"] for entry in bundle.get("entry", []))
    return resources


@cache
def definitions() -> Definitions:
    """Every StructureDefinition of ``conformance/``, indexed (loaded once per process)."""
    return index(load_bundles())


def index(structure_definitions: list[dict[str, Any]]) -> Definitions:
    """Index StructureDefinition resources (with snapshots) by type name and element path."""
    elements: dict[str, dict[str, ElementDef]] = {}
    kinds: dict[str, str] = {}
    for sd in structure_definitions:
        if sd.get("resourceType") != "StructureDefinition" or sd.get("derivation") == "constraint":
            continue
        name = sd["type"]
        kinds[name] = sd["kind"]
        elements[name] = {e["path"]: _element(e) for e in sd.get("snapshot", {}).get("element", [])}
        if sd["kind"] == "resource" and f"{name}.id" in elements[name]:  # a resource's id has the id syntax
            elements[name][f"{name}.id"] = replace(elements[name][f"{name}.id"], types=("id",), system_typed=False)
    return Definitions(elements, kinds)


def _element(element: dict[str, Any]) -> ElementDef:
    binding = element.get("binding") or {}
    value_set = binding.get("valueSet")
    types = element.get("type", [])
    maximum = element.get("max", "*")
    return ElementDef(
        path=element["path"],
        types=tuple(_type_code(t) for t in types),
        binding_strength=binding.get("strength"),
        value_set=value_set.split("|", 1)[0] if isinstance(value_set, str) else None,
        content_reference=element.get("contentReference"),
        min=int(element.get("min", 0)),
        max=None if maximum == "*" else int(maximum),
        targets=tuple(p.rsplit("/", 1)[-1] for t in types for p in t.get("targetProfile", [])),
        constraints=tuple(
            Constraint(c["key"], c.get("human", ""), c["expression"])
            for c in element.get("constraint", [])
            if c.get("severity") == "error" and c.get("expression") and c["key"] != "ele-1"
        ),
        regex=next((x["valueString"] for t in types for x in t.get("extension", []) if x["url"] == _REGEX), None),
        system_typed=any(t["code"].startswith(_SYSTEM_TYPE) for t in types),
        short=element.get("short", ""),
    )


def _type_code(entry: dict[str, Any]) -> str:
    """The FHIR type of a type entry: a FHIRPath system type (``Element.id``, ``Extension.url``) is the FHIR type its
    ``structuredefinition-fhir-type`` extension names (``Extension.url`` is a ``uri``), else a string as far as JSON
    goes."""
    code: str = entry["code"]
    if not code.startswith(_SYSTEM_TYPE):
        return code
    named = [x.get("valueUrl") for x in entry.get("extension", []) if x.get("url") == _FHIR_TYPE]
    return named[0] if named and isinstance(named[0], str) else "string"


@cache
def children(owner: str, parent_path: str) -> Mapping[str, tuple[ElementDef, str]]:
    """The JSON members of an element: member name -> (element definition, the type that name carries).

    A choice element ``value[x]`` yields one member per type (``valueString``, ``valueCoding``, ...).
    """
    members: dict[str, tuple[ElementDef, str]] = {}
    prefix = parent_path + "."
    for path, element in definitions().elements.get(owner, {}).items():
        if not path.startswith(prefix) or "." in path[len(prefix) :]:
            continue
        name = path[len(prefix) :]
        if name.endswith("[x]"):
            for type_code in element.types:
                members[name[:-3] + type_code[0].upper() + type_code[1:]] = (element, type_code)
        else:
            members[name] = (element, element.types[0] if element.types else "BackboneElement")
    return members


def walk(resource: Mapping[str, Any], expression: str | None = None) -> Iterator[Node]:
    """Every value of ``resource`` at every depth, with its definition (nothing when its type is unknown)."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not definitions().is_resource(resource_type):
        return
    yield from _members(resource_type, resource_type, resource, expression or resource_type)


def _members(owner: str, parent_path: str, obj: Mapping[str, Any], expression: str) -> Iterator[Node]:
    members = children(owner, parent_path)
    for name, value in obj.items():
        if name.startswith("_") and name[1:] in members:
            yield from _primitive_elements(name[1:], value, expression)
            continue
        found = members.get(name)
        if found is None:
            continue
        element, type_code = found
        for item_expression, item in _items(f"{expression}.{name}", value):
            yield Node(item_expression, element, type_code, item)
            if isinstance(item, dict):
                yield from _inside(owner, element, type_code, item, item_expression)


def _items(expression: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if item is not None:
                yield f"{expression}[{i}]", item
    elif value is not None:
        yield expression, value


def _primitive_elements(name: str, value: Any, expression: str) -> Iterator[Node]:
    """``_name``: the id and extensions of a primitive value, walked as an ``Element``."""
    for item_expression, item in _items(f"{expression}.{name}", value):
        if isinstance(item, dict):
            yield from _members("Element", "Element", item, item_expression)


def _inside(owner: str, element: ElementDef, type_code: str, item: dict[str, Any], expression: str) -> Iterator[Node]:
    """The members of a complex value: a backbone element, a data type or a contained resource."""
    defs = definitions()
    if element.content_reference:
        yield from _members(owner, element.content_reference.lstrip("#"), item, expression)
    elif type_code in {"BackboneElement", "Element"} and children(owner, element.path):
        yield from _members(owner, element.path, item, expression)
    elif type_code == "Resource" or defs.is_resource(type_code):
        yield from walk(item, expression)
    elif type_code in defs.elements:
        yield from _members(type_code, type_code, item, expression)
