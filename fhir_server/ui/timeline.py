"""A patient's record as a timeline: one page of ``$everything`` (the operation's own service, so the same
compartment, clinic and scope rules), its resources sorted by their clinically relevant date, newest first
(:mod:`fhir_server.ui.clinical_dates`). The operation pages in its own (type, id) order; the timeline sorts each page
and follows the operation's next link for more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.settings import Settings
from fhir_server.ui.clinical_dates import clinical_date
from fhir_server.ui.display import describe, resource_path
from fhir_server.ui.imaging import viewer_link

PAGE = "200"
"""Resources per timeline page (``_count`` of the ``$everything`` request)."""
PASSED = frozenset({"_cursor", "_type", "_since"})
"""The query parameters of a timeline page passed on to ``$everything`` (its own ``_count`` is :data:`PAGE`)."""


@dataclass(frozen=True)
class Event:
    """One resource on the timeline: its date (and which element gave it), type, page, description, and the
    imaging viewer's link for an ImagingStudy (when Orthanc is configured)."""

    date: str
    source: str
    resource_type: str
    path: str
    text: str
    viewer: str | None


def everything_pairs(query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``$everything`` parameters of a timeline page's query: :data:`PAGE` and the ones of :data:`PASSED`."""
    return [("_count", PAGE), *((n, v) for n, v in query if n in PASSED)]


def events(bundle: dict[str, Any], patient_id: str, settings: Settings, mode: str = "match") -> list[Event]:
    """The resources of an ``$everything`` page of search mode ``mode`` (``match``: the patient's compartment;
    ``include``: the resources it references, such as practitioners) but the patient, newest first by date."""
    dated = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        kind = resource.get("resourceType")
        if entry.get("search", {}).get("mode") != mode or (kind == "Patient" and resource.get("id") == patient_id):
            continue
        when = clinical_date(resource)
        event = Event(
            when.text,
            when.source,
            kind,
            resource_path(kind, resource["id"]),
            describe(resource),
            viewer_link(settings, resource),
        )
        dated.append((when.instant, event))
    dated.sort(key=lambda pair: pair[0], reverse=True)
    return [event for _, event in dated]
