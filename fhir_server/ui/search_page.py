"""The search page's data: a type's search parameters (as the CapabilityStatement lists them) and one page of
results from the search service, with the Bundle's own paging links turned into links of the UI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.fhir.capability_search import registry_parameters, search_part
from fhir_server.fhir.search import params
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.search.service import search
from fhir_server.ui.display import UI_PREFIX, describe, resource_path

PAGING = ("previous", "next", "first")


@dataclass(frozen=True)
class Match:
    """One resource of a result page: its page, id, description and last update."""

    path: str
    resource_type: str
    resource_id: str
    text: str
    updated: str
    mode: str


def form_parameters(resource_type: str) -> list[dict[str, Any]]:
    """The search parameters of ``resource_type`` (name, type, definition) exactly as the CapabilityStatement
    declares them for the generic search."""
    parameters: list[dict[str, Any]] = search_part(resource_type, None, {}, registry_parameters)["searchParam"]
    return parameters


def filled(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The query's parameters without the form's empty fields (an empty field asks for nothing)."""
    return [(name, value) for name, value in pairs if value.strip()]


def run_search(
    session: Session,
    access: AccessContext,
    resource_type: str,
    pairs: list[tuple[str, str]],
    limits: SearchLimits,
    base_url: str,
    key: bytes,
) -> dict[str, Any]:
    """The searchset Bundle of ``GET [base]/[resource_type]?pairs`` for ``access`` (the FHIR search's own parse and
    service: its 400s, 403s and limits alike)."""
    query = params.parse(resource_type, pairs, limits)
    return search(session, access, query, base_url, f"{base_url}/{resource_type}", key)


def matches(bundle: dict[str, Any]) -> list[Match]:
    """The resources of a Bundle page, in its order (matches and includes; an OperationOutcome entry is left out)."""
    found = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") in (None, "OperationOutcome"):
            continue
        resource_type, resource_id = resource["resourceType"], resource.get("id", "")
        updated = str(resource.get("meta", {}).get("lastUpdated", ""))
        mode = entry.get("search", {}).get("mode", "match")
        found.append(
            Match(
                resource_path(resource_type, resource_id), resource_type, resource_id, describe(resource), updated, mode
            )
        )
    return found


def ui_url(fhir_url: str, base_url: str, ui_path: str | None = None) -> str | None:
    """The UI page showing the FHIR URL ``fhir_url`` (a link the server built under ``base_url``): the same query on
    ``ui_path`` (default: the same path under ``/ui``); None for a URL elsewhere."""
    if not fhir_url.startswith(base_url + "/"):
        return None
    path, _, query = fhir_url[len(base_url) :].partition("?")
    target = ui_path or UI_PREFIX + path
    return f"{target}?{query}" if query else target


def paging_links(bundle: dict[str, Any], base_url: str, ui_path: str | None = None) -> dict[str, str]:
    """The Bundle's previous, next and first links as UI links (relation -> UI URL)."""
    links = {link["relation"]: link["url"] for link in bundle.get("link", [])}
    found = {}
    for relation in PAGING:
        url = ui_url(links[relation], base_url, ui_path) if relation in links else None
        if url is not None:
            found[relation] = url
    return found


def outcome_notes(bundle: dict[str, Any]) -> list[str]:
    """What the Bundle's OperationOutcome entry says (ignored parameters, withheld includes, capped counts)."""
    notes = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "OperationOutcome":
            notes += [str(i.get("diagnostics", i.get("code", ""))) for i in resource.get("issue", [])]
    return notes
