"""The server's CapabilityStatement, generated from what is really routed (http://hl7.org/fhir/R4/capabilitystatement.html).

Interactions and operations are read off the application's routes (its OpenAPI paths): a method and path pattern under
``/fhir`` tell which interaction it serves (``PUT /{type}/{id}`` is ``update``, ``PUT /{type}`` conditional update),
a ``$name`` path segment an operation. Conditional create (an ``If-None-Exist`` header, no route of its own) is
announced when :mod:`fhir_server.fhir.conditional` provides it; conditional read (``If-None-Match`` and
``If-Modified-Since``) comes with read. Search parameters and includes come from the search registry
(:mod:`fhir_server.fhir.capability_search`), or from the route of a type searched its own way. The US Core server
CapabilityStatement is instantiated only when this statement meets its SHALL requirements
(:mod:`fhir_server.fhir.us_core`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fhir_server.db.types import utcnow
from fhir_server.fhir import elements, us_core
from fhir_server.fhir.capability_search import Parameters, RevIncludes, registry_parameters, rev_includes, search_part
from fhir_server.fhir.content import FHIR_JSON, JSON_PATCH, MERGE_PATCH
from fhir_server.fhir.route_interactions import SEARCH_PARAMETERS
from fhir_server.fhir.search.includes import MAX_ROUNDS
from fhir_server.fhir.search.limits import SearchLimits, describe
from fhir_server.settings import Settings
from mappings import CANONICAL_BASE
from mappings.base import fhir_instant
from mappings.registry import MAPPINGS

FHIR_VERSION = "4.0.1"
PREFIX = "/fhir"
TYPE_INTERACTIONS = (
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
)
SYSTEM_INTERACTIONS = ("transaction", "batch", "search-system", "history-system")
CONDITIONAL_UPDATE = "conditional-update"
CONDITIONAL_DELETE = "conditional-delete"
"""Pseudo-interactions for the routes of conditional update and delete (not listed as interactions)."""

_NOT_TERSE = frozenset({"searchParam", "searchInclude", "searchRevInclude", "operation"})
_RESOURCE_OPERATIONS = frozenset({"validate", "meta", "meta-add", "meta-delete", "convert", "graph", "graphql"})
_TERMINOLOGY_OPERATIONS = frozenset(
    {("CodeSystem", "lookup"), ("ValueSet", "expand"), ("ValueSet", "validate-code"), ("ConceptMap", "translate")}
)
"""The core terminology operations served, each defined as http://hl7.org/fhir/OperationDefinition/[type]-[name]."""
BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
_EXPORTS = {"Patient": "patient-export", "Group": "group-export"}
"""The Bulk Data IG's OperationDefinitions of ``$export`` (system level: ``export``)."""
_STARTED = fhir_instant(utcnow())
_P = "{}"  # any path parameter, in a route's normalised shape
_PATTERNS: dict[tuple[str, tuple[str, ...]], str] = {
    ("GET", (_P, _P)): "read",
    ("GET", (_P, _P, "_history", _P)): "vread",
    ("PUT", (_P, _P)): "update",
    ("PATCH", (_P, _P)): "patch",
    ("DELETE", (_P, _P)): "delete",
    ("GET", (_P, _P, "_history")): "history-instance",
    ("GET", (_P, "_history")): "history-type",
    ("POST", (_P,)): "create",
    ("GET", (_P,)): "search-type",
    ("POST", (_P, "_search")): "search-type",
    ("PUT", (_P,)): CONDITIONAL_UPDATE,
    ("DELETE", (_P,)): CONDITIONAL_DELETE,
    ("GET", ("_history",)): "history-system",
    ("GET", ()): "search-system",
    ("GET", ("_search",)): "search-system",
    ("POST", ("_search",)): "search-system",
}


@dataclass
class Routed:
    """What the routes serve: interactions and operations, system-wide and per resource type."""

    system: set[str] = field(default_factory=set)
    by_type: dict[str, set[str]] = field(default_factory=dict)
    system_operations: set[str] = field(default_factory=set)
    type_operations: dict[str, set[str]] = field(default_factory=dict)
    own_search: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Types searched by a route of their own, with the only parameters it supports."""


def routed(paths: Mapping[str, Mapping[str, Any]]) -> Routed:
    """The interactions and operations served, from the OpenAPI ``paths`` of the application (routes hidden from
    the schema are not announced)."""
    found = Routed()
    for path, methods in paths.items():
        if not path.startswith(PREFIX + "/") and path != PREFIX:
            continue
        segments = tuple(s for s in path[len(PREFIX) :].split("/") if s)
        for method, operation in methods.items():
            declared = operation if isinstance(operation, Mapping) else {}
            _classify(found, method.upper(), segments, declared)
    return found


def _classify(found: Routed, method: str, segments: tuple[str, ...], declared: Mapping[str, Any]) -> None:
    summary = declared.get("summary")
    operation = next((i for i, s in enumerate(segments) if s.startswith("$")), None)
    if operation is not None:
        _add_operation(found, segments[:operation], segments[operation][1:])
        return
    if not segments and method == "POST":
        bundles = {"batch", "transaction"}
        found.system.update(bundles & {summary or ""} or bundles)  # a bare POST [base] serves both
        return
    types = _types_of(segments[0]) if segments and segments[0] not in ("_history", "_search") else None
    shape = tuple(_P if s.startswith("{") or (i == 0 and types) else s for i, s in enumerate(segments))
    interaction = _PATTERNS.get((method, shape))
    if interaction is None:
        return
    if interaction in SYSTEM_INTERACTIONS:
        found.system.add(interaction)
        return
    for resource_type in types or ():
        found.by_type.setdefault(resource_type, set()).add(interaction)
        if interaction == "search-type" and SEARCH_PARAMETERS in declared:
            found.own_search[resource_type] = tuple(declared[SEARCH_PARAMETERS])


def _types_of(segment: str) -> list[str]:
    """The types a path's first segment stands for: every mapped type for a parameter, else the R4 resource type
    it names (such as the published ConceptMaps)."""
    if segment.startswith("{"):
        return list(MAPPINGS)
    return [segment] if segment in MAPPINGS or _is_resource_type(segment) else []


def _is_resource_type(name: str) -> bool:
    if not name[:1].isupper():
        return False
    try:
        elements.resource_model(name)
    except KeyError:
        return False
    return True


def _add_operation(found: Routed, before: tuple[str, ...], name: str) -> None:
    if not before:
        found.system_operations.add(name)
        return
    for resource_type in _types_of(before[0]):
        found.type_operations.setdefault(resource_type, set()).add(name)


def operation_definition(name: str, resource_type: str | None) -> str:
    """The canonical URL of the OperationDefinition of ``$name``: the core one for standard operations."""
    if name in _RESOURCE_OPERATIONS:
        return f"http://hl7.org/fhir/OperationDefinition/Resource-{name}"
    if (resource_type, name) in _TERMINOLOGY_OPERATIONS:
        return f"http://hl7.org/fhir/OperationDefinition/{resource_type}-{name}"
    if name == "everything" and resource_type == "Patient":
        return "http://hl7.org/fhir/OperationDefinition/Patient-everything"
    if name == "export":
        return f"{BULK_DATA}/OperationDefinition/{_EXPORTS.get(resource_type or '', 'export')}"
    if name == "docref" and resource_type == "DocumentReference":
        return "http://hl7.org/fhir/us/core/OperationDefinition/docref"
    return f"{CANONICAL_BASE}/OperationDefinition/{name}"


# --- the statement -----------------------------------------------------------------------------------------------


def build(
    paths: Mapping[str, Mapping[str, Any]],
    settings: Settings,
    software_version: str,
    search_parameters: Parameters = registry_parameters,
) -> dict[str, Any]:
    """The full CapabilityStatement of a server with OpenAPI ``paths`` whose types have ``search_parameters``."""
    served = routed(paths)
    statement: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": _STARTED,
        "publisher": "fhir-server",
        "kind": "instance",
        "software": {"name": "fhir-server", "version": software_version},
        "implementation": {"description": "FHIR R4 server over the clinic's data", "url": settings.base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["json", FHIR_JSON],
    }
    if any("patch" in interactions for interactions in served.by_type.values()):
        statement["patchFormat"] = [JSON_PATCH, MERGE_PATCH, FHIR_JSON]
    statement["rest"] = [_rest(served, search_parameters)]
    if any("search-type" in interactions for interactions in served.by_type.values()):
        statement["rest"][0]["documentation"] = search_limits_text(settings)
    if settings.auth == "enabled":
        from fhir_server.auth.smart_configuration import capability_security

        statement["rest"][0]["security"] = capability_security(settings)
    instantiates = [] if us_core.unmet(statement) else [us_core.SERVER_CAPABILITY_STATEMENT]
    if "export" in served.system_operations and settings.auth == "enabled":  # export.html: SMART Backend Services
        instantiates.append(f"{BULK_DATA}/CapabilityStatement/bulk-data")
    if instantiates:
        statement["instantiates"] = instantiates
    return statement


def _rest(served: Routed, search_parameters: Parameters) -> dict[str, Any]:
    rest: dict[str, Any] = {"mode": "server"}
    generic = [t for t, done in served.by_type.items() if "search-type" in done and t not in served.own_search]
    rev_included = rev_includes(generic, search_parameters)
    rest["resource"] = [
        _resource(resource_type, served, search_parameters, rev_included) for resource_type in sorted(served.by_type)
    ]
    interactions = [code for code in SYSTEM_INTERACTIONS if code in served.system]
    if interactions:
        rest["interaction"] = [{"code": code} for code in interactions]
    if served.system_operations:
        rest["operation"] = [
            {"name": name, "definition": operation_definition(name, None)} for name in sorted(served.system_operations)
        ]
    return rest


def _resource(
    resource_type: str, served: Routed, search_parameters: Parameters, rev_included: RevIncludes
) -> dict[str, Any]:
    interactions = served.by_type[resource_type]
    resource: dict[str, Any] = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in TYPE_INTERACTIONS if code in interactions],
        "versioning": _versioning(interactions),
        "readHistory": "vread" in interactions,
        "updateCreate": "update" in interactions,
        **conditional_support(interactions, mapped=resource_type in MAPPINGS),
    }
    if "search-type" in interactions:
        own = served.own_search.get(resource_type)
        resource.update(search_part(resource_type, own, rev_included, search_parameters))
    operations = served.type_operations.get(resource_type, set())
    if operations:
        resource["operation"] = [
            {"name": name, "definition": operation_definition(name, resource_type)} for name in sorted(operations)
        ]
    return resource


def _versioning(interactions: set[str]) -> str:
    if "update" in interactions:
        return "versioned-update"
    return "versioned" if "vread" in interactions else "no-version"


def conditional_support(interactions: set[str], mapped: bool = True) -> dict[str, Any]:
    """The conditional flags of a type (http://hl7.org/fhir/R4/http.html#ccreate, #cond-update, #cdelete).

    Conditional read is the generic read's (``mapped`` types): other types' own read routes do not claim it.
    """
    return {
        "conditionalCreate": "create" in interactions and _provides("fhir_server.fhir.conditional", "create"),
        "conditionalRead": "full-support" if mapped and "read" in interactions else "not-supported",
        "conditionalUpdate": CONDITIONAL_UPDATE in interactions,
        "conditionalDelete": "single" if CONDITIONAL_DELETE in interactions else "not-supported",
    }


def _provides(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


def search_limits_text(settings: Settings) -> str:
    """What the server says about the work one search may ask for (fhir_server.fhir.search.limits)."""
    return describe(SearchLimits.of(settings), MAX_ROUNDS)


def terse(statement: dict[str, Any]) -> dict[str, Any]:
    """``mode=terse``: the resource types and their interactions, without search parameters and operations."""
    rest = [
        {
            **part,
            "resource": [{k: v for k, v in r.items() if k not in _NOT_TERSE} for r in part["resource"]],
        }
        for part in statement["rest"]
    ]
    return {**statement, "rest": rest}
