"""A search parameter's FHIRPath expression read as a path of JSON members, each with its definition from the
R4 StructureDefinitions in ``conformance/`` (type, cardinality, required binding). Enough FHIRPath for the
official expressions of the served types: member steps, ``where(x='y')`` filters, ``where(resolve() is X)``
target types (as the registry rewrites them) and ``(path as Type)`` choices."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from fhir_server.fhir.search.registry import SearchParameter
from fhir_server.fhir.structure import load_bundles
from tests.fhir.search.search_support import Json


@dataclass(frozen=True)
class Member:
    """One JSON member an element path goes through: its definition, the type it carries and cardinality."""

    name: str
    path: str
    type: str
    many: bool
    required: bool
    binding: str | None


@cache
def _elements() -> dict[str, dict[str, Json]]:
    table: dict[str, dict[str, Json]] = {}
    for sd in load_bundles():
        if sd.get("resourceType") == "StructureDefinition" and sd.get("derivation") != "constraint":
            table[sd["type"]] = {e["path"]: e for e in sd.get("snapshot", {}).get("element", [])}
    return table


def _type_of(element: Json) -> str:
    code: str = element.get("type", [{"code": "BackboneElement"}])[0]["code"]
    return "string" if code.startswith("http://hl7.org/fhirpath/System.") else code


def members(owner: str, parent: str) -> dict[str, Member]:
    """The JSON members of element ``parent`` of type ``owner`` (choices expanded: ``deceasedDateTime``)."""
    found: dict[str, Member] = {}
    for path, element in _elements()[owner].items():
        if not path.startswith(parent + ".") or "." in path[len(parent) + 1 :]:
            continue
        name = path[len(parent) + 1 :]
        many, required = element.get("max") != "1", element.get("min", 0) > 0
        binding = element.get("binding", {})
        strength = binding.get("valueSet") if binding.get("strength") == "required" else None
        types = [t["code"] for t in element.get("type", [])] or ["BackboneElement"]
        if name.endswith("[x]"):
            for code in types:
                choice = name[:-3] + code[0].upper() + code[1:]
                found[choice] = Member(choice, path, code, many, required, strength)
        else:
            found[name] = Member(
                name, element.get("contentReference", "#" + path)[1:], _type_of(element), many, required, strength
            )
    return found


def inside(owner: str, member: Member) -> tuple[str, str]:
    """The (type, element path) whose members are the members of ``member``'s value."""
    if member.type in {"BackboneElement", "Element"}:
        return owner, member.path
    return member.type, member.type


@dataclass
class Step:
    """One member of the path, with the values a ``where()`` puts on it and the reference target it names."""

    name: str
    filters: dict[str, str] = field(default_factory=dict)
    target: str | None = None


_AS = re.compile(r"^\((?P<path>.+) as (?P<type>\w+)\)$")
_AS_CALL = re.compile(r"^(?P<path>.+)\.as\((?P<type>\w+)\)$")
_EQUALS = re.compile(r"^(\w+)\s*=\s*'([^']*)'$")
_TARGET = re.compile(r"reference\.startsWith\('([A-Z]\w+)/'\)")


def _split(expression: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in expression:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def steps_of(param: SearchParameter) -> list[Step]:
    """The element path of the parameter's (first) expression."""
    first = param.expression.split(" | ")[0].strip()
    choice = None
    if match := _AS.match(first) or _AS_CALL.match(first):
        first, choice = match["path"], match["type"]
    steps: list[Step] = []
    for part in _split(first)[1:]:
        if part.startswith("where("):
            condition = part[len("where(") : -1]
            if match := _EQUALS.match(condition):
                steps[-1].filters[match[1]] = match[2]
            elif match := _TARGET.search(condition):
                steps[-1].target = match[1]
            else:
                raise ValueError(f"{param.code}: cannot read {part}")
        else:
            steps.append(Step(part))
    if choice:
        steps[-1].name += choice[0].upper() + choice[1:]
    return steps
