"""The definitions the server publishes about itself, served read-only: the ConceptMaps its mappings translate
codes with (mappings/conceptmaps/), and its own StructureDefinitions and OperationDefinitions (conformance/).

They are files shipped with the code, the same in every worker and replica; each is version 1, last updated when
its file was written. Search supports ``_id``, ``url``, ``name``, ``status`` and ``version`` (exact matches).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from fhir_server.errors import bad_request, not_found
from fhir_server.paths import project_dir
from mappings.base import fhir_instant
from mappings.terminology import CONCEPTMAP_DIR

PUBLISHED_TYPES = ("ConceptMap", "StructureDefinition", "OperationDefinition")
SEARCHABLE = ("_id", "url", "name", "status", "version")


def _files() -> list[Path]:
    conformance = project_dir("conformance")
    return [
        *sorted(CONCEPTMAP_DIR.glob("*.json")),
        *sorted(conformance.glob("StructureDefinition-*.json")),
        *sorted(conformance.glob("OperationDefinition-*.json")),
    ]


@cache
def published() -> dict[str, dict[str, dict[str, Any]]]:
    """type -> id -> resource (with meta), for every published definition."""
    table: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in PUBLISHED_TYPES}
    for file in _files():
        resource = orjson.loads(file.read_bytes())
        written = datetime.fromtimestamp(file.stat().st_mtime, UTC)
        meta = {**resource.get("meta", {}), "versionId": "1", "lastUpdated": fhir_instant(written)}
        table[resource["resourceType"]][resource["id"]] = {**resource, "meta": meta}
    return table


def read(resource_type: str, resource_id: str) -> dict[str, Any]:
    found = published()[resource_type].get(resource_id)
    if found is None:
        raise not_found(f"{resource_type}/{resource_id} is not known")
    return found


def search(resource_type: str, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The published resources of ``resource_type`` matching every parameter (comma-separated values OR)."""
    resources = list(published()[resource_type].values())
    for name, raw in pairs:
        if name in {"_format", "_pretty", "_count"}:
            continue
        if name not in SEARCHABLE:
            raise bad_request(f"unknown search parameter {name!r} for {resource_type}", name, code="not-supported")
        wanted = set(raw.split(","))
        element = "id" if name == "_id" else name
        resources = [r for r in resources if r.get(element) in wanted]
    return resources
