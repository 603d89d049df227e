"""Required terminology bindings: every coded value a resource holds, checked against its bound ValueSet.

http://hl7.org/fhir/R4/terminologies.html#required: "to be conformant, the concept in this element SHALL be from
the specified value set". fhir.resources does not check this (it takes ``Patient.gender = "dog"``); this module
does, from the official data in ``conformance/``: the StructureDefinition snapshots give every element with a
required binding (resources, backbone elements and data types alike: ``Appointment.participant.status``,
``ContactPoint.system``, ``HumanName.use``, ``Narrative.status``, ...), and ``required-binding-valuesets.json``
gives the ValueSets and the CodeSystems they draw from. The table ``element path -> allowed codes`` is built once
per process (:func:`required_bindings`).

What a value must be, by its type (R4 terminologies.html#strength and #4.1.4.1):

- ``code``: one of the ValueSet's codes.
- ``Coding``: its ``system`` and ``code`` together one of the ValueSet's concepts (a coding of another system is
  not from the value set).
- ``CodeableConcept``: at least one of its codings from the ValueSet; other codings may accompany it as
  translations, and text alone does not satisfy a required binding.

A violation answers **422** with issue code ``code-invalid``: the content parsed and has a valid structure
(otherwise 400), but it breaks the rules of the resource's definition, which http://hl7.org/fhir/R4/http.html#create
lists under 422 ("the proposed resource violated applicable FHIR profiles or server business rules").

A ValueSet that cannot be expanded from this data (its CodeSystem is external and not enumerated, e.g. MIME types
``urn:ietf:bcp:13`` or currencies ``urn:iso:std:iso:4217``) is skipped: :func:`required_bindings` lists those
elements in ``skipped``, and the tests pin that list so the decision stays visible.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from fhir_server.errors import Issue
from fhir_server.fhir.structure import Definitions, Node, definitions, load_bundles, walk

VALUESETS_FILE = "required-binding-valuesets.json"
Concept = tuple[str, str]
"""A concept as (system, code)."""
_MAX_LISTED = 12


@dataclass(frozen=True)
class Binding:
    """A required binding of one element: the ValueSet's canonical URL and its expansion."""

    path: str
    value_set: str
    concepts: frozenset[Concept]
    codes: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codes", frozenset(code for _, code in self.concepts))


@dataclass(frozen=True)
class BindingTable:
    """Every required binding that can be checked, by element path, and the ones that cannot (path -> ValueSet)."""

    by_path: Mapping[str, Binding]
    skipped: Mapping[str, str]


@cache
def required_bindings() -> BindingTable:
    """The binding table of the definitions in ``conformance/`` (built once per process)."""
    terminology = load_bundles((VALUESETS_FILE,))
    value_sets = {r["url"]: r for r in terminology if r.get("resourceType") == "ValueSet"}
    code_systems = {r["url"]: r for r in terminology if r.get("resourceType") == "CodeSystem"}
    return build_table(definitions(), value_sets, code_systems)


def build_table(
    defs: Definitions, value_sets: Mapping[str, dict[str, Any]], code_systems: Mapping[str, dict[str, Any]]
) -> BindingTable:
    """The required bindings of ``defs``, each expanded from ``value_sets`` and ``code_systems``."""
    by_path: dict[str, Binding] = {}
    skipped: dict[str, str] = {}
    for elements in defs.elements.values():
        for element in elements.values():
            if element.binding_strength != "required" or element.value_set is None:
                continue
            concepts = expand(element.value_set, value_sets, code_systems)
            if concepts is None:
                skipped[element.path] = element.value_set
            else:
                by_path[element.path] = Binding(element.path, element.value_set, concepts)
    return BindingTable(by_path, skipped)


# --- ValueSet expansion (http://hl7.org/fhir/R4/valueset.html#compositions) ------------------------------------


def expand(
    url: str,
    value_sets: Mapping[str, dict[str, Any]],
    code_systems: Mapping[str, dict[str, Any]],
    seen: frozenset[str] = frozenset(),
) -> frozenset[Concept] | None:
    """The concepts of ValueSet ``url`` from its ``compose`` (None when the data cannot say what they are)."""
    value_set = value_sets.get(url.split("|", 1)[0])
    if value_set is None or url in seen:
        return None
    compose = value_set.get("compose") or {}
    concepts: set[Concept] = set()
    for include in compose.get("include", []):
        included = _select(include, value_sets, code_systems, seen | {url})
        if included is None:
            return None
        concepts |= included
    for exclude in compose.get("exclude", []):
        excluded = _select(exclude, value_sets, code_systems, seen | {url})
        if excluded is None:
            return None
        concepts -= excluded
    return frozenset(concepts)


def _select(
    rule: dict[str, Any],
    value_sets: Mapping[str, dict[str, Any]],
    code_systems: Mapping[str, dict[str, Any]],
    seen: frozenset[str],
) -> frozenset[Concept] | None:
    """One include/exclude: the intersection of its system part and its imported value sets."""
    parts: list[frozenset[Concept] | None] = []
    if rule.get("system"):
        parts.append(_from_system(rule, code_systems))
    parts.extend(expand(imported, value_sets, code_systems, seen) for imported in rule.get("valueSet", []))
    if not parts or any(part is None for part in parts):
        return None
    return frozenset.intersection(*[part for part in parts if part is not None])


def _from_system(rule: dict[str, Any], code_systems: Mapping[str, dict[str, Any]]) -> frozenset[Concept] | None:
    system: str = rule["system"]
    if rule.get("concept"):
        return frozenset((system, concept["code"]) for concept in rule["concept"])
    code_system = code_systems.get(system)
    if code_system is None or code_system.get("content", "complete") != "complete":
        return None
    hierarchy = {code: (concept, ancestors) for code, concept, ancestors in _concepts(code_system.get("concept", []))}
    codes: set[str] | None = {code for code, (concept, _) in hierarchy.items() if _selectable(concept)}
    for rule_filter in rule.get("filter", []):
        matched = _filtered(rule_filter, hierarchy)
        codes = None if matched is None or codes is None else codes & matched
    return None if codes is None else frozenset((system, code) for code in codes)


def _concepts(
    concepts: list[dict[str, Any]], ancestors: tuple[str, ...] = ()
) -> Iterator[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """Every concept of a CodeSystem, nested ones included, with the codes above it."""
    for concept in concepts:
        yield concept["code"], concept, ancestors
        yield from _concepts(concept.get("concept", []), (*ancestors, concept["code"]))


def _selectable(concept: dict[str, Any]) -> bool:
    """False for a concept marked ``notSelectable`` (a grouping, such as item-type ``question``)."""
    return not any(
        p.get("code") == "notSelectable" and p.get("valueBoolean") is True for p in concept.get("property", [])
    )


def _filtered(
    rule_filter: dict[str, Any], hierarchy: Mapping[str, tuple[dict[str, Any], tuple[str, ...]]]
) -> set[str] | None:
    """The codes a filter selects (is-a, descendent-of, is-not-a on ``concept``; ``=`` on a property)."""
    op, prop, value = rule_filter.get("op"), rule_filter.get("property"), rule_filter.get("value")
    if not isinstance(value, str):
        return None
    if prop == "concept" and op in {"is-a", "descendent-of", "is-not-a"}:
        below = {code for code, (_, ancestors) in hierarchy.items() if value in ancestors}
        if op == "descendent-of":
            return below
        subsumed = below | ({value} if value in hierarchy else set())
        return subsumed if op == "is-a" else set(hierarchy) - subsumed
    if op == "=" and isinstance(prop, str):
        return {code for code, (concept, _) in hierarchy.items() if _property_value(concept, prop) == value}
    return None


def _property_value(concept: dict[str, Any], name: str) -> str | None:
    for prop in concept.get("property", []):
        if prop.get("code") == name:
            found = next((v for k, v in prop.items() if k.startswith("value")), None)
            return None if found is None else str(found).lower() if isinstance(found, bool) else str(found)
    return None


# --- checking a resource ------------------------------------------------------------------------------------


def binding_issues(resource: Mapping[str, Any]) -> list[Issue]:
    """One ``code-invalid`` issue per coded value of ``resource`` outside its element's required ValueSet."""
    table = required_bindings().by_path
    issues: list[Issue] = []
    for node in walk(resource):
        binding = table.get(node.element.path)
        if binding is None:
            continue
        problem = violation(binding, node)
        if problem is not None:
            issues.append(Issue("code-invalid", f"{node.expression}: {problem}", (node.expression,)))
    return issues


def violation(binding: Binding, node: Node) -> str | None:
    """Why ``node`` breaks ``binding`` (None when it keeps it, or when its type carries no code)."""
    value = node.value
    if node.type == "Coding" and isinstance(value, dict):
        if _coding_in(binding, value):
            return None
        return f"the Coding {_coding_text(value)} is not in the required ValueSet {binding.value_set}{_hint(binding)}"
    if node.type == "CodeableConcept" and isinstance(value, dict):
        codings = [c for c in value.get("coding", []) if isinstance(c, dict)]
        if any(_coding_in(binding, c) for c in codings):
            return None
        found = ", ".join(_coding_text(c) for c in codings) or "no coding"
        return f"none of the codings ({found}) is from the required ValueSet {binding.value_set}{_hint(binding)}"
    if isinstance(value, str) and node.type not in {"Coding", "CodeableConcept"} and value not in binding.codes:
        return f"{value!r} is not a code of the required ValueSet {binding.value_set}{_hint(binding)}"
    return None


def _coding_in(binding: Binding, coding: dict[str, Any]) -> bool:
    return (coding.get("system"), coding.get("code")) in binding.concepts


def _coding_text(coding: dict[str, Any]) -> str:
    return f"{coding.get('system', '(no system)')}#{coding.get('code', '(no code)')}"


def _hint(binding: Binding) -> str:
    if len(binding.codes) > _MAX_LISTED:
        return ""
    return f" (one of: {', '.join(sorted(binding.codes))})"
