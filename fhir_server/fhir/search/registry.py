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

from fhir_server.paths import project_dir
from mappings.registry import MAPPINGS

SUPPORTED_TYPES = frozenset({"string", "token", "date", "reference", "uri", "number", "quantity"})
_RESOLVE_IS = re.compile(r"resolve\(\)\s+is\s+([A-Z][A-Za-z]+)")
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
        )
    return found


def served_types() -> list[str]:
    return sorted(MAPPINGS)


def supported_search_parameters(resource_type: str) -> list[dict[str, Any]]:
    """The CapabilityStatement ``searchParam`` list of ``resource_type``."""
    return [p.to_capability() for p in sorted(parameters_for(resource_type).values(), key=lambda p: p.code)]
