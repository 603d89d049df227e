"""One resource type's part of the OpenAPI document: its paths, the paths of no type (system-level FHIR, the
authorization server, health, DICOMweb) and only the components they refer to, directly or through other
components. ReDoc renders one such part at a time (the whole document, a thousand paths, is more than it can lay out
in a browser tab, and hangs on the recursion of FHIR's data types: Extension holds every data type, which hold
Extensions). So a part describes its own type's schema (and backbone elements) in full and every other schema by
name only, with a link to its definition; the whole document keeps them all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_COMPONENTS = "#/components/"


def one_type(document: dict[str, Any], resource_type: str, types: frozenset[str]) -> dict[str, Any]:
    """``document`` narrowed to the paths of ``resource_type`` and of no type of ``types``, with the components
    those paths need."""
    paths = {path: methods for path, methods in document["paths"].items() if _kept(methods, resource_type, types)}
    narrowed = {**document, "paths": paths, "tags": [t for t in document.get("tags", []) if t["name"] == resource_type]}
    components = _needed(document["components"], paths)
    if "schemas" in components:
        components["schemas"] = {
            name: _own_or_named(name, schema, resource_type) for name, schema in components["schemas"].items()
        }
    narrowed["components"] = components
    return narrowed


def _own_or_named(name: str, schema: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """``schema`` when it belongs to ``resource_type``, else an object named by its definition's URL."""
    if name == resource_type or name.startswith(resource_type + "."):
        return schema
    page = (
        f"http://hl7.org/fhir/R4/{name.lower()}.html" if name[:1].isupper() else "http://hl7.org/fhir/R4/datatypes.html"
    )
    return {"type": schema.get("type", "object"), "description": f"FHIR {name} ({page}; in full in /openapi.json)"}


def _kept(methods: dict[str, Any], resource_type: str, types: frozenset[str]) -> bool:
    tags = {tag for operation in methods.values() for tag in operation.get("tags", [])}
    return not (tags & types) or resource_type in tags


def _needed(components: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    """The components reachable from ``paths`` (the security schemes always)."""
    needed: dict[str, dict[str, Any]] = {"securitySchemes": components.get("securitySchemes", {})}
    pending = list(_references(paths))
    while pending:
        kind, name = pending.pop()
        if name in needed.setdefault(kind, {}) or name not in components.get(kind, {}):
            continue
        needed[kind][name] = components[kind][name]
        pending.extend(_references(components[kind][name]))
    return {kind: dict(sorted(found.items())) for kind, found in needed.items() if found}


def _references(value: Any) -> Iterator[tuple[str, str]]:
    """The (kind, name) of every ``#/components/<kind>/<name>`` reference inside ``value``."""
    if isinstance(value, dict):
        target = value.get("$ref")
        if isinstance(target, str) and target.startswith(_COMPONENTS):
            kind, _, name = target[len(_COMPONENTS) :].partition("/")
            yield kind, name
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)
