"""FHIR JSON (http://hl7.org/fhir/R4/json.html) as JSON Schemas, generated from the R4 StructureDefinitions.

One schema per resource type, per data type and per backbone element (named by its path, ``Patient.contact``), each
referring to the others by ``$ref`` so that a data type is described once however often it is used. A choice
element ``value[x]`` becomes one property per type (``valueString``, ``valueCoding``), a repeating element an array,
a required element (``min`` 1) a required property; a primitive type is a JSON string, number or boolean (with the
regex of its ``value`` as ``pattern``). Primitive extensions (``_birthDate``) and contained resources are allowed but
not spelled out (a contained resource is any object with a ``resourceType``). The schemas are computed once per
process (:func:`components`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from fhir_server.fhir import structure

REF = "#/components/schemas/"
RESOURCE = "Resource"
"""The schema of any resource (``contained``, ``Bundle.entry.resource``, an operation's output)."""
_NUMBERS: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "positiveInt": {"type": "integer", "minimum": 1},
    "unsignedInt": {"type": "integer", "minimum": 0},
    "decimal": {"type": "number"},
}
_ANY_RESOURCE: dict[str, Any] = {
    "type": "object",
    "description": "Any FHIR resource: an object whose resourceType names its type",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}, "id": {"$ref": REF + "id"}, "meta": {"$ref": REF + "Meta"}},
}


def ref(name: str) -> dict[str, Any]:
    """A reference to the schema ``name`` (a type or a backbone element's path)."""
    return {"$ref": REF + name}


@cache
def components(types: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The schemas of the resource ``types`` and of every schema they refer to, by name (sorted)."""
    found: dict[str, dict[str, Any]] = {RESOURCE: _ANY_RESOURCE}
    pending = [*types, "id", "Meta"]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        schema = _schema(name)
        found[name] = schema
        pending.extend(_referenced(schema))
    return dict(sorted(found.items()))


def _referenced(schema: dict[str, Any]) -> Iterable[str]:
    for value in schema.get("properties", {}).values():
        target = value.get("items", value).get("$ref", "")
        if target.startswith(REF):
            yield target[len(REF) :]


def _schema(name: str) -> dict[str, Any]:
    """The schema of a type or (a dotted name) of a backbone element."""
    defs = structure.definitions()
    owner = name.split(".", 1)[0]
    if defs.kinds.get(name) == "primitive-type":
        return _primitive(name)
    members = structure.children(owner, name)
    schema: dict[str, Any] = {"type": "object"}
    element = defs.elements.get(owner, {}).get(name)
    if element is not None and element.short:
        schema["description"] = element.short
    properties = {member: _property(owner, element, type_code) for member, (element, type_code) in members.items()}
    if defs.is_resource(name):
        properties = {"resourceType": {"const": name}, **properties}
    schema["properties"] = properties
    required = [m for m, (e, _) in members.items() if e.min > 0 and not e.path.endswith("[x]")]
    if defs.is_resource(name):
        required.insert(0, "resourceType")
    if required:
        schema["required"] = required
    return schema


def _primitive(name: str) -> dict[str, Any]:
    if name in _NUMBERS:
        return dict(_NUMBERS[name])
    schema: dict[str, Any] = {"type": "string"}
    value = structure.definitions().elements.get(name, {}).get(f"{name}.value")
    if value is not None and value.regex and name != "string":
        schema["pattern"] = f"^{value.regex}$"
    return schema


def _property(owner: str, element: structure.ElementDef, type_code: str) -> dict[str, Any]:
    """The schema of one member: a reference to its type's (or backbone element's) schema, an array when it
    repeats, with the element's short description."""
    target = ref(_target(owner, element, type_code))
    schema: dict[str, Any] = {"type": "array", "items": target} if element.repeats else dict(target)
    if element.short:
        schema["description"] = element.short
    return schema


def _target(owner: str, element: structure.ElementDef, type_code: str) -> str:
    """The schema name a member of ``type_code`` refers to."""
    defs = structure.definitions()
    if element.content_reference:
        return element.content_reference.lstrip("#")
    if type_code in {"BackboneElement", "Element"} and structure.children(owner, element.path):
        return element.path
    if type_code == "Resource" or (defs.is_resource(type_code) and type_code != owner):
        return RESOURCE
    if type_code == "xhtml" or type_code not in defs.elements:
        return "string"
    return type_code
