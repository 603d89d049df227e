"""How the pages name resources and follow references: a one-line description of a resource, and the UI page a
FHIR reference leads to."""

from __future__ import annotations

from typing import Any

from fhir_server.fhir.primitives import is_id
from mappings.registry import MAPPINGS

UI_PREFIX = "/ui"
_DESCRIBING = ("code", "type", "vaccineCode", "medicationCodeableConcept", "category", "serviceType")
_MAX_TEXT = 120


def resource_path(resource_type: str, resource_id: str) -> str:
    """The UI page of one resource."""
    return f"{UI_PREFIX}/{resource_type}/{resource_id}"


def reference_path(reference: Any, base_url: str) -> str | None:
    """The UI page of the resource a ``Reference.reference`` names (relative ``Type/id``, with ``/_history/n`` or
    not, or absolute under this server's ``base_url``); None for anything else (contained, another server, a
    conditional or malformed reference, a type not served here)."""
    if not isinstance(reference, str):
        return None
    local = reference[len(base_url) + 1 :] if reference.startswith(base_url + "/") else reference
    parts = local.split("/")
    if len(parts) not in (2, 4) or (len(parts) == 4 and parts[2] != "_history"):
        return None
    resource_type, resource_id = parts[0], parts[1]
    if resource_type not in MAPPINGS or not is_id(resource_id):
        return None
    return resource_path(resource_type, resource_id)


def describe(resource: dict[str, Any]) -> str:
    """A short human description of ``resource``: its name, code, description or status, whichever comes first."""
    text = _name(resource.get("name")) or _coded(resource) or resource.get("description") or resource.get("status")
    return _cut(str(text)) if text else ""


def _name(value: Any) -> str | None:
    """A HumanName list's first name as text, or a plain name string."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[0], dict):
        first = value[0]
        given = " ".join(g for g in first.get("given", []) if isinstance(g, str))
        return str(first.get("text") or f"{given} {first.get('family', '')}".strip()) or None
    return None


def _coded(resource: dict[str, Any]) -> str | None:
    """The text or first display of the first describing CodeableConcept (a list's first element)."""
    for element in _DESCRIBING:
        value = resource.get(element)
        concept = value[0] if isinstance(value, list) and value else value
        if isinstance(concept, dict):
            codings = [c for c in concept.get("coding", []) if isinstance(c, dict)]
            text = concept.get("text") or next((c.get("display") or c.get("code") for c in codings), None)
            if text:
                return str(text)
    return None


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
