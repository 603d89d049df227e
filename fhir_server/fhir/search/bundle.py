"""The searchset Bundle (http://hl7.org/fhir/R4/bundle.html, http://hl7.org/fhir/R4/search.html#return):
matches, included resources and warnings as entries, with self/first/next/previous links on the public base."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fhir_server.errors import Issue
from fhir_server.fhir.outcomes import operation_outcome
from fhir_server.fhir.search.params import SearchQuery
from fhir_server.fhir.search.summary import select_elements, summarize


def shaped(resource: dict[str, Any], query: SearchQuery) -> dict[str, Any]:
    """A resource as ``_summary``/``_elements`` ask it to be shown."""
    if query.summary in {"true", "text", "data"}:
        return summarize(resource, query.summary)
    if query.elements:
        return select_elements(resource, query.elements)
    return resource


def _entry(base_url: str, resource: dict[str, Any], mode: str, query: SearchQuery) -> dict[str, Any]:
    return {
        "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
        "resource": shaped(resource, query),
        "search": {"mode": mode},
    }


def link(url: str, params: list[tuple[str, str]], cursor: str | None = None) -> str:
    extra = [("_cursor", cursor)] if cursor else []
    query = urlencode(params + extra)
    return f"{url}?{query}" if query else url


def searchset(
    base_url: str,
    query: SearchQuery,
    matches: list[dict[str, Any]],
    included: list[dict[str, Any]],
    total: int | None,
    links: dict[str, str],
    warnings: list[Issue],
) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = [{"relation": relation, "url": url} for relation, url in links.items()]
    entries = (
        []
        if query.summary == "count"
        else [
            *(_entry(base_url, r, "match", query) for r in matches),
            *(_entry(base_url, r, "include", query) for r in included),
        ]
    )
    if warnings:
        entries.append({"resource": operation_outcome(warnings), "search": {"mode": "outcome"}})
    if entries:
        bundle["entry"] = entries
    return bundle
