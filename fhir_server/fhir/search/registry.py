"""SearchParameter data -> the search parameters of each served type.

Loaded once from conformance/search-parameters.json (the official R4 definitions),
conformance/search-parameters-us-core.json (the US Core parameters R4 lacks) and the server's own
conformance/SearchParameter-*.json (``Binary.securityContext``, which patient access to a Binary rests on). An
expression shared by many types (``Patient.address | Practitioner.address | ...``) is cut down to the parts about
the type at hand, and ``where(resolve() is X)`` becomes a test on the reference's type prefix, since the target is
never loaded.

A composite parameter (http://hl7.org/fhir/R4/search.html#composite) keeps its components, each the parameter its
``definition`` names with the component's ``expression`` (relative to one repetition of the composite's element).
Parameters of type ``special`` (``Location.near``) are not served, nor a composite whose components the path
walker cannot evaluate (none in R4), nor those of :data:`NOT_INDEXED`; all are left out of the CapabilityStatement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson

from fhir_server.fhir.bindings import required_bindings
from fhir_server.fhir.search.fhirpath import relative
from fhir_server.fhir.structure import children
from fhir_server.paths import project_dir

SUPPORTED_TYPES = frozenset({"string", "token", "date", "reference", "uri", "number", "quantity", "composite"})
_RESOLVE_IS = re.compile(r"resolve\(\)\s+is\s+([A-Z][A-Za-z]+)")
_PLAIN_PATH = re.compile(r"[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*)+")
_COMPONENT_ERRATA = {
    ("http://hl7.org/fhir/SearchParameter/DocumentReference-relationship", "code"): (
        "http://hl7.org/fhir/SearchParameter/DocumentReference-relation"
    ),
    ("http://hl7.org/fhir/SearchParameter/DocumentReference-relationship", "target"): (
        "http://hl7.org/fhir/SearchParameter/DocumentReference-relatesto"
    ),
}
"""(composite, component expression) -> the definition the component means, where R4 names the wrong one: R4's
``relationship`` gives ``code`` the reference parameter ``relatesto`` and ``target`` the token ``relation`` (R5
swaps them back)."""
NOT_INDEXED = {
    "http://hl7.org/fhir/SearchParameter/Bundle-composition": "selects the Bundle's first resource, not a reference",
    "http://hl7.org/fhir/SearchParameter/Bundle-message": "selects the Bundle's first resource, not a reference",
}
"""Official parameters left out, with the reason: what they select is not what their type indexes (a search by
them could never find anything)."""
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
    components: tuple[SearchParameter, ...] = ()
    """A composite's components, in order: code ``<composite>$<n>``, the type of the parameter the component's
    definition names, the component's own expression (see fhir_server.fhir.search.fhirpath.relative)."""

    def to_capability(self) -> dict[str, Any]:
        return {"name": self.code, "definition": self.url, "type": self.type}


def _parts_for(resource_type: str, expression: str) -> str | None:
    """The union members of ``expression`` that are about ``resource_type`` (Resource.x applies to all; a member
    without a type, as in the official ``InsurancePlan-name``'s ``name | alias``, is about the one base type)."""
    parts = []
    for part in (p.strip() for p in expression.split(" | ")):
        if part[:1].islower():
            part = f"{resource_type}.{part}"
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


DEFINITION_FILES = ("search-parameters.json", "search-parameters-us-core.json")
"""The official R4 SearchParameters, then the US Core ones R4 lacks (race, ethnicity, gender-identity, CareTeam role,
Condition asserted-date, ...): http://hl7.org/fhir/us/core/. A later file's parameter replaces an earlier one's of the
same code."""


@cache
def _definitions() -> list[dict[str, Any]]:
    """The official definitions, the US Core ones, then the server's own (conformance/SearchParameter-*.json)."""
    conformance = project_dir("conformance")
    bundles = [orjson.loads((conformance / name).read_bytes()) for name in DEFINITION_FILES]
    own = [orjson.loads(path.read_bytes()) for path in sorted(conformance.glob("SearchParameter-*.json"))]
    return [entry["resource"] for bundle in bundles for entry in bundle["entry"]] + own


@cache
def _by_url() -> dict[str, dict[str, Any]]:
    return {definition["url"]: definition for definition in _definitions()}


def definition(url: str) -> dict[str, Any] | None:
    """The SearchParameter resource of canonical ``url`` the registry loaded (None when it loaded none)."""
    return _by_url().get(url)


def _components(code: str, definition: dict[str, Any]) -> tuple[SearchParameter, ...] | None:
    """The components of composite ``definition`` (None when one cannot be indexed)."""
    found = []
    for number, component in enumerate(definition.get("component", [])):
        expression = component["expression"]
        url = _COMPONENT_ERRATA.get((definition["url"], expression), component["definition"])
        named = _by_url().get(url)
        if named is None or named["type"] not in SUPPORTED_TYPES - {"composite"} or relative(expression) is None:
            return None
        targets = tuple(named.get("target", ()))
        found.append(SearchParameter(f"{code}${number}", named["type"], expression, named["url"], targets))
    return tuple(found) or None


def _parameter(resource_type: str, definition: dict[str, Any]) -> SearchParameter | None:
    """``definition`` as it applies to ``resource_type`` (None when it cannot be served)."""
    code, kind = definition["code"], definition["type"]
    if kind not in SUPPORTED_TYPES or code in _UNSUPPORTED_CODES or definition["url"] in NOT_INDEXED:
        return None
    expression = _parts_for(resource_type, definition.get("expression") or "")
    if expression is None:
        return None
    components = _components(code, definition) if kind == "composite" else ()
    if components is None:
        return None
    return SearchParameter(
        code=code,
        type=kind,
        expression=_rewrite_resolve(expression),
        url=definition["url"],
        targets=tuple(definition.get("target", ())),
        system=_implicit_system(resource_type, expression) if kind == "token" else None,
        components=components,
    )


@cache
def parameters_for(resource_type: str) -> dict[str, SearchParameter]:
    """Every indexable search parameter of ``resource_type``, by code."""
    found: dict[str, SearchParameter] = {}
    for definition in _definitions():
        if not set(definition["base"]) & {resource_type, "Resource", "DomainResource"}:
            continue
        param = _parameter(resource_type, definition)
        if param is not None:
            found[param.code] = param
    return found
