"""SearchParameter data -> the search parameters of each served type.

Loaded once from conformance/search-parameters.json (the official R4 definitions). An expression shared by many
types (``Patient.address | Practitioner.address | ...``) is cut down to the parts about the type at hand, and
``where(resolve() is X)`` becomes a test on the reference's type prefix, since the target is never loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from fhir_server.fhir.bindings import required_bindings
from fhir_server.fhir.structure import children
from fhir_server.paths import project_dir

SUPPORTED_TYPES = frozenset({"string", "token", "date", "reference", "uri", "number", "quantity"})
_RESOLVE_IS = re.compile(r"resolve\(\)\s+is\s+([A-Z][A-Za-z]+)")
_PLAIN_PATH = re.compile(r"[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*)+")
_UNSUPPORTED_CODES = frozenset({"_text", "_content", "_query", "_list", "_has", "_type", "_filter"})


@dataclass(frozen=True)
class SearchParameter:
    """One search parameter as it applies to one resource type."""

    code: str
    type: str
    expression: str
    url: str
    targets: tuple[str, ...]
    modifiers: tuple[str, ...] = ()
    system: str | None = None
    """The implicit code system of a token on a ``code`` element (its required ValueSet's one CodeSystem)."""

    def to_capability(self) -> dict[str, Any]:
        return {"name": self.code, "definition": self.url, "type": self.type}


def _parts_for(resource_type: str, expression: str) -> str | None:
    """The union members of ``expression`` that are about ``resource_type`` (Resource.x applies to all)."""
    parts = []
    for part in (p.strip() for p in expression.split(" | ")):
        head = part.lstrip("(").split(".", 1)[0]
        if head in (resource_type, "Resource", "DomainResource"):
            if head != resource_type:
                part = part.replace(f"{head}.", f"{resource_type}.", 1)
            parts.append(part)
    return " | ".join(parts) if parts else None


def _implicit_system(resource_type: str, expression: str) -> str | None:
    """The code system a ``code`` element's values belong to: "the system is implicit" for the data type code
    (http://hl7.org/fhir/R4/search.html#token), known when a required binding draws on exactly one CodeSystem.
    Only plain element paths (``Patient.gender``, ``Patient.address.use``) are followed."""
    if not _PLAIN_PATH.fullmatch(expression):
        return None
    owner, parent, found = resource_type, resource_type, None
    for name in expression.split(".")[1:]:
        found = children(owner, parent).get(name)
        if found is None:
            return None
        element, type_code = found
        nested = type_code in {"BackboneElement", "Element"}
        owner, parent = (owner, element.path) if nested else (type_code, type_code)
    if found is None or found[1] != "code":
        return None
    binding = required_bindings().by_path.get(found[0].path)
    systems = {system for system, _ in binding.concepts} if binding else set()
    return systems.pop() if len(systems) == 1 else None


def _rewrite_resolve(expression: str) -> str:
    return _RESOLVE_IS.sub(
        lambda m: f"reference.startsWith('{m.group(1)}/') or reference.contains('/{m.group(1)}/')", expression
    )


@cache
def _definitions() -> list[dict[str, Any]]:
    bundle = orjson.loads((project_dir("conformance") / "search-parameters.json").read_bytes())
    return [entry["resource"] for entry in bundle["entry"]]


@cache
def parameters_for(resource_type: str) -> dict[str, SearchParameter]:
    """Every indexable search parameter of ``resource_type``, by code."""
    found: dict[str, SearchParameter] = {}
    for definition in _definitions():
        bases = set(definition["base"])
        if not bases & {resource_type, "Resource", "DomainResource"}:
            continue
        if definition["type"] not in SUPPORTED_TYPES or definition["code"] in _UNSUPPORTED_CODES:
            continue
        expression = _parts_for(resource_type, definition.get("expression") or "")
        if expression is None:
            continue
        found[definition["code"]] = SearchParameter(
            code=definition["code"],
            type=definition["type"],
            expression=_rewrite_resolve(expression),
            url=definition["url"],
            targets=tuple(definition.get("target", ())),
            system=_implicit_system(resource_type, expression) if definition["type"] == "token" else None,
        )
    return found
