"""The terminology the server holds: the R4 CodeSystems and ValueSets of ``conformance/`` (the ones the required
bindings draw on, :mod:`fhir_server.fhir.bindings`), served read-only, and what the terminology operations need of
them: a concept of a CodeSystem with its place in the hierarchy, and the ordered expansion of a ValueSet.

http://hl7.org/fhir/R4/terminology-module.html. Every definition here is a file shipped with the code, the same in
every worker and replica (version 1, as the other published definitions: :mod:`fhir_server.fhir.published`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir_server.errors import Kind, fail
from fhir_server.fhir.bindings import VALUESETS_FILE, expand
from fhir_server.fhir.structure import load_bundles

TERMINOLOGY_TYPES = ("CodeSystem", "ValueSet")


@dataclass(frozen=True)
class Catalogue:
    """The published CodeSystems and ValueSets, by type then id, and by canonical URL."""

    by_id: Mapping[str, Mapping[str, dict[str, Any]]]
    value_sets: Mapping[str, dict[str, Any]]
    code_systems: Mapping[str, dict[str, Any]]


@cache
def catalogue() -> Catalogue:
    """The terminology of ``conformance/`` (loaded once per process); each resource gets ``meta.versionId`` 1."""
    by_id: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in TERMINOLOGY_TYPES}
    for resource in load_bundles((VALUESETS_FILE,)):
        meta = {**resource.get("meta", {}), "versionId": "1"}
        by_id[resource["resourceType"]][resource["id"]] = {**resource, "meta": meta}
    value_sets = {r["url"]: r for r in by_id["ValueSet"].values()}
    code_systems = {r["url"]: r for r in by_id["CodeSystem"].values()}
    return Catalogue(by_id, value_sets, code_systems)


def published(resource_type: str, resource_id: str) -> dict[str, Any] | None:
    """The published CodeSystem or ValueSet ``resource_id`` (None when the server publishes none of that id)."""
    return catalogue().by_id.get(resource_type, {}).get(resource_id)


def is_published(resource_type: str, resource_id: str) -> bool:
    """True for the id of a published CodeSystem or ValueSet (which no write may take)."""
    return published(resource_type, resource_id) is not None


def refuse_write(resource_type: str, resource_id: str) -> None:
    """405 for a write to a published CodeSystem or ValueSet (create-on-update, update, patch, delete alike)."""
    if is_published(resource_type, resource_id):
        raise fail(
            Kind.NOT_ALLOWED,
            f"{resource_type}/{resource_id} is one of the server's published R4 definitions: it is read-only",
            resource_type,
        )


def by_url(resource_type: str, url: str) -> dict[str, Any] | None:
    """The published CodeSystem or ValueSet of canonical ``url`` (``url|version`` matches the published version)."""
    canonical, _, version = url.partition("|")
    table = catalogue().code_systems if resource_type == "CodeSystem" else catalogue().value_sets
    found = table.get(canonical)
    if found is None or (version and found.get("version") != version):
        return None
    return found


# --- concepts of a CodeSystem ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Concept:
    """One concept of a CodeSystem: its definition, the code above it (if any) and the codes right below it."""

    system: dict[str, Any]
    definition: dict[str, Any]
    parent: str | None
    children: tuple[str, ...]


def concepts(code_system: Mapping[str, Any]) -> Iterator[Concept]:
    """Every concept of ``code_system``, nested ones included, depth first in the order of definition."""

    def walk(items: list[dict[str, Any]], parent: str | None) -> Iterator[Concept]:
        for item in items:
            below = item.get("concept", [])
            children = tuple(child["code"] for child in below)
            yield Concept(dict(code_system), item, parent, children)
            yield from walk(below, item["code"])

    return walk(code_system.get("concept", []), None)


def find_concept(code_system: Mapping[str, Any], code: str) -> Concept | None:
    """The concept ``code`` of ``code_system`` (codes compared as the system says: ``caseSensitive``)."""
    folded = code if code_system.get("caseSensitive", True) else code.lower()
    for concept in concepts(code_system):
        own = concept.definition["code"]
        if (own if code_system.get("caseSensitive", True) else own.lower()) == folded:
            return concept
    return None


# --- expansion of a ValueSet -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One concept of an expansion."""

    system: str
    code: str
    display: str | None

    def matches(self, text: str) -> bool:
        """True when ``text`` is a case-insensitive substring of the code or the display."""
        folded = text.casefold()
        return folded in self.code.casefold() or folded in (self.display or "").casefold()


def expansion(value_set: Mapping[str, Any]) -> list[Entry] | None:
    """The concepts of ``value_set`` in a stable order (each included system's concepts in their order of definition,
    the systems in the order the compose names them), with their displays; None when this server cannot expand it
    (a CodeSystem it does not hold completely, such as MIME types)."""
    books = catalogue()
    url = value_set.get("url")
    value_sets = {**books.value_sets, url: dict(value_set)} if isinstance(url, str) else books.value_sets
    members = expand(url, value_sets, books.code_systems) if isinstance(url, str) else None
    if members is None:
        return None
    ordered = {(entry.system, entry.code): entry for entry in _catalogued(value_set, value_sets)}
    listed = [entry for key, entry in ordered.items() if key in members]
    rest = sorted(members - ordered.keys())  # members only an imported ValueSet names: code order
    return listed + [Entry(system, code, None) for system, code in rest]


def _catalogued(value_set: Mapping[str, Any], value_sets: Mapping[str, dict[str, Any]]) -> Iterator[Entry]:
    """Every concept the includes of ``value_set`` could draw on, in order, with its display."""
    for include in (value_set.get("compose") or {}).get("include", []):
        system = include.get("system")
        if not isinstance(system, str):
            continue
        if include.get("concept"):
            yield from (
                Entry(system, c["code"], c.get("display") or _display(system, c["code"])) for c in include["concept"]
            )
            continue
        code_system = catalogue().code_systems.get(system)
        if code_system is not None:
            yield from (Entry(system, c.definition["code"], c.definition.get("display")) for c in concepts(code_system))


def _display(system: str, code: str) -> str | None:
    code_system = catalogue().code_systems.get(system)
    concept = find_concept(code_system, code) if code_system is not None else None
    return None if concept is None else concept.definition.get("display")
