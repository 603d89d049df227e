"""The FHIR REST API's paths, one per resource type and interaction (http://hl7.org/fhir/R4/http.html).

What each type supports comes from the server's CapabilityStatement (its interactions, conditional flags, search
parameters, includes and operations); the URL shape and method of each interaction from the route that serves it (the
routes' own OpenAPI paths, where every route under ``/fhir`` declares its interaction,
:mod:`fhir_server.fhir.route_interactions`). A route whose path fixes its type (``/fhir/Binary``) is taken for that
type before a generic ``{resource_type}`` route, as routing does. Paths that serve no resource type (``/fhir``,
``metadata``, ``_history``) are left to the routes' own entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fhir_server.fhir.content import FHIR_JSON, JSON_PATCH
from fhir_server.fhir.route_interactions import INTERACTION, RESOURCE_TYPE
from fhir_server.openapi import parameters
from fhir_server.openapi.schemas import RESOURCE, ref

PREFIX = "/fhir"
RESPONSES = "#/components/responses/"
REQUEST_BODIES = "#/components/requestBodies/"
OPERATION_INPUT = "OperationInput"
TYPE_PARAMETER = "{resource_type}"
ERRORS = {"4XX": {"$ref": "#/components/responses/Error"}, "5XX": {"$ref": "#/components/responses/Error"}}
_RENAMED = {"resource_id": "id", "patient_id": "id", "version_id": "vid"}
_WHAT = {
    "read": "Read the current version",
    "vread": "Read one version",
    "update": "Update (or create with this id)",
    "patch": "Patch with a JSON Patch or a FHIRPath Patch (Parameters)",
    "delete": "Delete",
    "history-instance": "The versions of one resource",
    "history-type": "The versions of every resource of the type",
    "create": "Create (the server assigns the id)",
    "search-type": "Search",
}
_OUTPUT = {"everything": "Bundle", "docref": "Bundle", "validate": "OperationOutcome"}
"""The type an operation answers with (its OperationDefinition's ``return``); any resource when not listed."""
_BODY_SCHEMAS = {JSON_PATCH: ref("JsonPatch"), FHIR_JSON: ref("Parameters")}
JSON_PATCH_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "A JSON Patch document (RFC 6902)",
    "items": {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": {"type": "string"},
            "from": {"type": "string"},
            "value": {},
        },
    },
}


@dataclass(frozen=True)
class Route:
    """One operation of the routes' own OpenAPI paths: its method, path, interaction and status on success."""

    method: str
    path: str
    interaction: str
    status: str
    fixed_type: str | None

    def instance_path(self, resource_type: str) -> str:
        """The path for ``resource_type``, with FHIR's names for its parameters (``{id}``, ``{vid}``)."""
        path = self.path.replace(TYPE_PARAMETER, resource_type)
        return re.sub(r"\{(\w+)\}", lambda m: "{" + _RENAMED.get(m.group(1), m.group(1)) + "}", path)

    @property
    def type_level(self) -> bool:
        """True for a path that names no instance (``/fhir/Patient``, ``/fhir/Patient/_search``)."""
        return "{" not in self.path.replace(TYPE_PARAMETER, "")


@dataclass
class TypePaths:
    """The generated paths, and the routes' own (path, method) entries they replace."""

    paths: dict[str, dict[str, Any]]
    replaced: set[tuple[str, str]]


def type_paths(statement: Mapping[str, Any], route_paths: Mapping[str, Mapping[str, Any]]) -> TypePaths:
    """The OpenAPI paths of every resource type of ``statement`` (a CapabilityStatement), from ``route_paths``."""
    entries = {entry["type"]: entry for entry in statement["rest"][0]["resource"]}
    patch_formats = tuple(statement.get("patchFormat", ()))
    routes = sorted(_routes(route_paths), key=lambda r: r.fixed_type is None)  # a fixed type's own route first
    found = TypePaths({}, set())
    for resource_type, entry in sorted(entries.items()):
        for route in routes:
            if route.fixed_type not in (None, resource_type) or not _supports(entry, route):
                continue
            found.replaced.add((route.path, route.method))
            methods = found.paths.setdefault(route.instance_path(resource_type), {})
            if route.method not in methods:
                methods[route.method] = _operation(resource_type, entry, route, patch_formats)
    return found


def _routes(route_paths: Mapping[str, Mapping[str, Any]]) -> Iterator[Route]:
    """The routes serving one resource type at a time: a ``{resource_type}`` path or one fixing its type."""
    for path, methods in route_paths.items():
        for method, spec in methods.items():
            interaction = spec.get(INTERACTION)
            fixed = spec.get(RESOURCE_TYPE)
            if interaction and (fixed or TYPE_PARAMETER in path or _operation_name(interaction, path)):
                fixed = fixed or _literal_type(path)
                success = next((code for code in spec.get("responses", {}) if code.startswith("2")), "200")
                yield Route(method, path, interaction, success, fixed)


def _operation_name(interaction: str, path: str) -> str | None:
    return interaction[1:] if interaction.startswith("$") and f"/{interaction}" in path else None


def _literal_type(path: str) -> str | None:
    """The type a path names literally (``/fhir/Patient/{patient_id}/$everything``), if it takes no type parameter."""
    if TYPE_PARAMETER in path:
        return None
    first = path[len(PREFIX) :].strip("/").split("/", 1)[0]
    return first if first[:1].isupper() else None


def _supports(entry: Mapping[str, Any], route: Route) -> bool:
    """True when the CapabilityStatement ``entry`` of a type says it supports what ``route`` does."""
    if route.interaction.startswith("$"):
        return route.interaction[1:] in {op["name"] for op in entry.get("operation", [])}
    codes = {i["code"] for i in entry.get("interaction", [])}
    if route.interaction == "update" and route.type_level:
        return bool(entry.get("conditionalUpdate"))
    if route.interaction == "delete" and route.type_level:
        return bool(entry.get("conditionalDelete", "not-supported") != "not-supported")
    return route.interaction in codes


def _operation(
    resource_type: str, entry: Mapping[str, Any], route: Route, patch_formats: tuple[str, ...]
) -> dict[str, Any]:
    """The OpenAPI operation of ``route`` for ``resource_type``."""
    path = route.instance_path(resource_type)
    conditional = route.interaction in ("update", "delete") and route.type_level
    operation: dict[str, Any] = {
        "tags": [resource_type],
        "summary": f"{'conditional ' if conditional else ''}{route.interaction} {resource_type}",
        "operationId": f"{route.method}{re.sub(r'[^A-Za-z0-9]+', '-', path[len(PREFIX) :]).rstrip('-')}",
        INTERACTION: route.interaction,
    }
    if route.interaction in _WHAT:
        operation["description"] = _WHAT[route.interaction] + (" the one match of the query" if conditional else "")
    operation["parameters"] = _parameters(entry, route, path)
    body = _request_body(resource_type, entry, route, patch_formats)
    if body is not None:
        operation["requestBody"] = body
    operation["responses"] = {route.status: _success(resource_type, route), **ERRORS}
    return operation


def _parameters(entry: Mapping[str, Any], route: Route, path: str) -> list[dict[str, Any]]:
    names = re.findall(r"\{(\w+)\}", path)
    found = parameters.shared(tuple(names))
    searching = route.interaction == "search-type" and route.method == "get"
    if searching or (route.interaction in ("update", "delete") and route.type_level):
        found += parameters.search_references(entry)
    if searching:
        found += parameters.shared(parameters.RESULT)
    if route.interaction == "create" and entry.get("conditionalCreate"):
        found += parameters.shared(("If-None-Exist",))
    if route.interaction in ("update", "patch", "delete") and not route.type_level:
        found += parameters.shared(("If-Match",))
    if route.interaction in ("create", "update", "patch"):
        found += parameters.shared(("Prefer",))
    return found + parameters.shared(parameters.FORMAT)


def _request_body(
    resource_type: str, entry: Mapping[str, Any], route: Route, patch_formats: tuple[str, ...]
) -> dict[str, Any] | None:
    if route.interaction in ("create", "update"):
        return {"$ref": REQUEST_BODIES + resource_type}
    if route.interaction == "patch":
        content = {media: {"schema": _BODY_SCHEMAS.get(media, {"type": "object"})} for media in patch_formats}
        return {"required": True, "content": content}
    if route.interaction == "search-type" and route.method == "post":
        form = parameters.form_schema(entry)
        return {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": form}}}
    if route.interaction.startswith("$") and route.method == "post":
        return {"$ref": REQUEST_BODIES + OPERATION_INPUT}
    return None


def _success(resource_type: str, route: Route) -> dict[str, Any]:
    if route.status == "204":
        return {"description": "Done (no content)"}
    if route.interaction.startswith("$"):
        answered = _OUTPUT.get(route.interaction[1:], RESOURCE)
    elif route.interaction.startswith(("search", "history")):
        answered = "Bundle"
    else:
        answered = resource_type
    return {"$ref": RESPONSES + answered}


def components(types: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The ``responses`` and ``requestBodies`` components the paths refer to: one per resource type (and for
    Bundle, OperationOutcome, any resource and an operation's input), with FHIR JSON as its content."""
    answered = (*types, "Bundle", "OperationOutcome", RESOURCE)
    either = {"oneOf": [ref("Parameters"), ref(RESOURCE)]}
    return {
        "responses": {t: {"description": f"A {t}", "content": _json(ref(t))} for t in answered},
        "requestBodies": {
            **{t: {"required": True, "description": f"The {t} resource", "content": _json(ref(t))} for t in types},
            OPERATION_INPUT: {"required": False, "description": "Parameters, or a resource", "content": _json(either)},
        },
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {FHIR_JSON: {"schema": schema}, "application/json": {"schema": schema}}
