"""Where the terminology operations find the CodeSystem, ValueSet or ConceptMap they work on.

A ValueSet is named by the instance of the URL (``ValueSet/[id]/$expand``) or by its canonical ``url``. The
published definitions (:mod:`fhir_server.fhir.terminology`, :mod:`fhir_server.fhir.published`) are found by either;
a ValueSet a clinic stored itself is found by its id, read as the caller may read it (so another clinic's, or one
beyond the token's scopes, is unknown: 404). A canonical ``url`` names the published definitions only.
"""

from __future__ import annotations

from typing import Any

from fhir_server.errors import bad_request, not_found, unprocessable
from fhir_server.fhir import published, reading, terminology
from fhir_server.fhir.types import valid_id
from fhir_server.request_context import RequestContext


async def value_set(ctx: RequestContext, resource_id: str | None, url: str | None) -> dict[str, Any]:
    """The ValueSet of the instance ``resource_id`` or of canonical ``url`` (404 when unknown, 400 when neither or
    both disagree)."""
    if resource_id is not None:
        valid_id(resource_id)
        found = terminology.published("ValueSet", resource_id)
        if found is None:
            found = await reading.read_current(ctx.database, ctx.access, "ValueSet", resource_id)
        if url is not None and url.split("|", 1)[0] != found.get("url"):
            raise bad_request(f"url {url!r} is not the url of ValueSet/{resource_id}", "url")
        return found
    if url is None:
        raise bad_request("the ValueSet is required: its url, or the instance (ValueSet/[id]/$...)", "url", "required")
    found = terminology.by_url("ValueSet", url)
    if found is None:
        raise not_found(f"ValueSet {url!r} is not known to this server")
    return found


def expansion(found: dict[str, Any]) -> list[terminology.Entry]:
    """The concepts of the ValueSet ``found`` (422 ``not-supported`` when it draws on a CodeSystem this server does
    not hold in full, such as MIME types: it cannot be expanded, nor a code checked against it)."""
    entries = terminology.expansion(found)
    if entries is None:
        raise unprocessable(
            f"ValueSet {found.get('url')} draws on a CodeSystem this server does not hold in full: "
            "it cannot be expanded",
            code="not-supported",
        )
    return entries


def code_system(system: str) -> dict[str, Any]:
    """The published CodeSystem of canonical ``system`` (404 when this server holds none)."""
    found = terminology.by_url("CodeSystem", system)
    if found is None:
        raise not_found(f"CodeSystem {system!r} is not known to this server")
    return found


def concept_maps(resource_id: str | None, url: str | None) -> list[dict[str, Any]]:
    """The ConceptMaps to translate with: the instance ``resource_id``, the one of canonical ``url``, else all of
    them (404 for an unknown id or url)."""
    maps = list(published.published()["ConceptMap"].values())
    if resource_id is not None:
        maps = [published.read("ConceptMap", valid_id(resource_id))]
    if url is not None:
        canonical, _, version = url.partition("|")
        maps = [m for m in maps if m.get("url") == canonical and (not version or m.get("version") == version)]
        if not maps:
            raise not_found(f"ConceptMap {url!r} is not known to this server")
    return maps
