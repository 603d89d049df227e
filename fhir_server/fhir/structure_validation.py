"""The structure of a resource checked against the official R4 StructureDefinitions (snapshots in conformance/).

http://hl7.org/fhir/R4/json.html and http://hl7.org/fhir/R4/elementdefinition.html. :func:`structure_issues`
walks the JSON by definition (the members :func:`fhir_server.fhir.structure.children` gives, at every depth:
backbone elements, data types, ``contentReference``, contained resources and ``Bundle.entry.resource`` /
``Parameters.parameter.resource`` as their own type) and reports, each naming the element (``Patient.gender``,
``Bundle.entry[3].resource.gender``):

- ``structure``: an element the definition does not have (``_x`` siblings included: only a primitive element has
  one, and it holds an ``Element``: ``id`` and ``extension``); an array where the element holds one value or a
  single value where it repeats; more values than ``max``; a choice element (``value[x]``) given under two
  names; ``null`` (allowed only inside a primitive array whose ``_x`` array has a value at that index); an empty
  object, array or string; a resource of an unknown or abstract type.
- ``value``: a primitive value of the wrong JSON type or text (:mod:`fhir_server.fhir.primitive_formats`).
- ``required``: an element with ``min`` 1 that is missing (a primitive carried only by its ``_x`` counts).

Each (type, element path) is looked up once per process (:func:`shape`), so the walk costs dictionary lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir_server.errors import Issue
from fhir_server.fhir.primitive_formats import problem
from fhir_server.fhir.structure import ElementDef, children, definitions

ABSTRACT_TYPES = frozenset({"Resource", "DomainResource"})


@dataclass(frozen=True)
class Shape:
    """The JSON members of one element (or type), by name, and the elements that must be present."""

    members: Mapping[str, tuple[ElementDef, str]]
    required: tuple[tuple[str, frozenset[str]], ...]
    """(element name as defined, e.g. ``value[x]``; the member names that satisfy it)."""


@cache
def shape(owner: str, path: str) -> Shape:
    """The shape of ``path`` in ``owner``'s snapshot (computed once per process)."""
    members = children(owner, path)
    names: dict[str, set[str]] = {}
    for name, (element, _) in members.items():
        if element.min > 0:
            names.setdefault(element.path.rsplit(".", 1)[-1], set()).add(name)
    return Shape(members, tuple((name, frozenset(found)) for name, found in names.items()))


@cache
def is_primitive(type_code: str) -> bool:
    return definitions().kinds.get(type_code) == "primitive-type"


def structure_issues(resource: Mapping[str, Any], expression: str | None = None) -> list[Issue]:
    """Every way ``resource`` breaks the R4 structure, at every depth (empty when it has none)."""
    found: list[Issue] = []
    _resource(resource, expression, found)
    return found


def _issue(found: list[Issue], code: str, where: str, message: str) -> None:
    found.append(Issue(code, f"{where}: {message}", (where,)))


def _resource(resource: Mapping[str, Any], expression: str | None, found: list[Issue]) -> None:
    resource_type = resource.get("resourceType")
    if (
        not isinstance(resource_type, str)
        or resource_type in ABSTRACT_TYPES
        or not definitions().is_resource(resource_type)
    ):
        where = f"{expression}.resourceType" if expression else "resourceType"
        _issue(found, "not-supported" if expression is None else "structure", where, "unknown resource type")
        return
    _object(resource_type, resource_type, resource, expression or resource_type, found)


def _object(owner: str, path: str, obj: Mapping[str, Any], expression: str, found: list[Issue]) -> None:
    """The members of one JSON object defined by ``path`` of ``owner``."""
    if not obj:
        _issue(found, "structure", expression, "an empty object is not allowed (it must have a value or children)")
        return
    form = shape(owner, path)
    chosen: dict[str, str] = {}
    for name, value in obj.items():
        where = f"{expression}.{name}"
        if name == "resourceType" and path == owner and definitions().is_resource(owner):
            continue
        if name.startswith("_"):
            _primitive_sibling(form, name, value, obj.get(name[1:]), where, found)
            continue
        member = form.members.get(name)
        if member is None:
            _issue(found, "structure", where, "unknown element")
            continue
        element, type_code = member
        if element.path.endswith("[x]") and chosen.setdefault(element.path, name) != name:
            _issue(found, "structure", where, f"a choice element has one type, but {chosen[element.path]} is given too")
        _value(owner, element, type_code, value, obj.get(f"_{name}"), where, found)
    for name, names in form.required:
        if not any(n in obj or f"_{n}" in obj for n in names):
            _issue(found, "required", f"{expression}.{name}", "required element is missing")


def _value(
    owner: str, element: ElementDef, type_code: str, value: Any, partner: Any, where: str, found: list[Issue]
) -> None:
    """A member's value: an array exactly when the element repeats, each item checked."""
    repeats = element.repeats
    if value is None:
        _issue(found, "structure", where, "null is not allowed")
    elif not isinstance(value, list):
        if repeats:
            _issue(found, "structure", where, "the element repeats: its value must be an array")
        else:
            _item(owner, element, type_code, value, where, found)
    elif not repeats:
        _issue(found, "structure", where, "the element holds at most one value, not an array")
    elif not value:
        _issue(found, "structure", where, "an empty array is not allowed")
    elif element.max is not None and len(value) > element.max:
        _issue(found, "structure", where, f"the element holds at most {element.max} values")
    else:
        for i, item in enumerate(value):
            if item is None:
                if not (is_primitive(type_code) and _has(partner, i)):
                    _issue(found, "structure", f"{where}[{i}]", "null is not allowed")
                continue
            _item(owner, element, type_code, item, f"{where}[{i}]", found)


def _has(partner: Any, index: int) -> bool:
    """True when the ``_x`` array ``partner`` holds a value at ``index``."""
    return isinstance(partner, list) and index < len(partner) and partner[index] is not None


def _item(owner: str, element: ElementDef, type_code: str, item: Any, where: str, found: list[Issue]) -> None:
    """One value of an element: a primitive, or an object walked by its definition."""
    if is_primitive(type_code):
        if item == "":
            _issue(found, "structure", where, "an empty string is not allowed")
        elif (why := problem(type_code, item)) is not None:
            _issue(found, "value", where, why)
        return
    if not isinstance(item, dict):
        _issue(found, "structure", where, f"must be a JSON object (a {type_code})")
    elif element.content_reference:
        _object(owner, element.content_reference.lstrip("#"), item, where, found)
    elif type_code in {"BackboneElement", "Element"} and children(owner, element.path):
        _object(owner, element.path, item, where, found)
    elif type_code == "Resource" or definitions().is_resource(type_code):
        _resource(item, where, found)
    else:
        _object(type_code, type_code, item, where, found)


def _primitive_sibling(form: Shape, name: str, value: Any, primitive: Any, where: str, found: list[Issue]) -> None:
    """``_x``: the id and extensions of the primitive element ``x`` (an ``Element``, or an array aligned with
    ``x``'s array, null where an item has none)."""
    member = form.members.get(name[1:])
    if member is None or not is_primitive(member[1]) or member[0].system_typed:
        _issue(found, "structure", where, "unknown element")
        return
    repeats = member[0].repeats
    if value is None:
        _issue(found, "structure", where, "null is not allowed")
    elif repeats != isinstance(value, list):
        _issue(found, "structure", where, f"must be {'an array' if repeats else 'a JSON object'}, as {name[1:]} is")
    elif isinstance(value, dict):
        _object("Element", "Element", value, where, found)
    elif isinstance(value, list):
        _aligned(name, value, primitive, where, found)
    else:
        _issue(found, "structure", where, "must be a JSON object (an Element)")


def _aligned(name: str, value: list[Any], primitive: Any, where: str, found: list[Issue]) -> None:
    """A ``_x`` array: as long as the ``x`` array, each item an Element or null where ``x`` has a value."""
    if not value:
        _issue(found, "structure", where, "an empty array is not allowed")
        return
    if primitive is not None and (not isinstance(primitive, list) or len(primitive) != len(value)):
        _issue(found, "structure", where, f"must have as many items as {name[1:]}")
        return
    for i, item in enumerate(value):
        if item is None:
            if primitive is None:  # else the primitive array reports a null in both
                _issue(found, "structure", f"{where}[{i}]", "null is not allowed")
        elif not isinstance(item, dict):
            _issue(found, "structure", f"{where}[{i}]", "must be a JSON object (an Element)")
        else:
            _object("Element", "Element", item, f"{where}[{i}]", found)
