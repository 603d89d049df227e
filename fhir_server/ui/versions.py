"""A resource's versions for the resource page (the history interaction's own service and Bundle) and the
difference between two versions, line by line over their JSON."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.fhir import history

HISTORY_COUNT = 50
"""The versions listed on a resource's page (newest first); older ones are behind the history's next link."""


@dataclass(frozen=True)
class Version:
    """One version in a history list: its id, when it was written, and by which interaction (create, update,
    delete)."""

    version_id: str
    updated: str
    method: str
    status: str


def history_bundle(
    session: Session, access: AccessContext, resource_type: str, resource_id: str, base_url: str, key: bytes
) -> dict[str, Any]:
    """The first page of ``GET [base]/[type]/[id]/_history?_count=50`` for ``access`` (404 as the API answers)."""
    query = history.parse_query([("_count", str(HISTORY_COUNT))], key, resource_type, resource_id)
    page = history.history_page(session, access, query)
    return history.history_bundle(page, query, base_url, key)


def versions(bundle: dict[str, Any]) -> list[Version]:
    """The versions of a history Bundle, in its order (newest first)."""
    found = []
    for entry in bundle.get("entry", []):
        response = entry.get("response", {})
        version_id = str(response.get("etag", "")).removeprefix('W/"').removesuffix('"')
        method = entry.get("request", {}).get("method", "")
        found.append(Version(version_id, str(response.get("lastModified", "")), method, str(response.get("status"))))
    return found


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: ``kind`` is ``add``, ``remove``, ``same`` or ``hunk`` (a ``@@`` position line)."""

    kind: str
    text: str


def pretty(resource: dict[str, Any] | None) -> list[str]:
    """The lines of ``resource`` as indented JSON with sorted keys (none for a deletion)."""
    return [] if resource is None else json.dumps(resource, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def diff(older: dict[str, Any] | None, newer: dict[str, Any] | None, context: int = 3) -> list[DiffLine]:
    """The unified diff from ``older`` to ``newer`` (None: no version, or a deletion), three lines of context."""
    lines = difflib.unified_diff(pretty(older), pretty(newer), lineterm="", n=context)
    found = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "add", "-": "remove"}.get(line[:1], "same")
        found.append(DiffLine(kind, line))
    return found
