"""Hypothesis strategies of valid R4 resources, driven by the StructureDefinitions in conformance/.

Every element of a resource, backbone element or data type is generated from its definition
(:mod:`tests.roundtrip.definitions`): required elements always, a few optional ones drawn at random (so resources
carry many elements no column holds), arrays of one or two items in random order, one type of each choice element
``[x]``, codes of required bindings from their ValueSets (:mod:`fhir_server.fhir.bindings`), primitive values
from :mod:`tests.roundtrip.primitives`. On top of that, at every level: extensions (simple and nested),
modifierExtensions where the definition allows them, primitive extensions (``_birthDate``), and contained
resources that the resource refers to by ``#id``. Every element's invariants are checked as it is generated
(:mod:`tests.roundtrip.invariants`) and a draw that breaks one is drawn again, so the result is valid R4.

A :class:`Scope` bounds the size: ``depth`` is how many levels of optional complex content may still be added.
References name resources that exist in the clinic (:class:`Clinic`), the resource's contained resources, types
this server does not serve (left alone by its reference checks), or nothing at all (display, identifier).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from hypothesis import reject
from hypothesis import strategies as st

from fhir_server.fhir.bindings import Binding, required_bindings
from mappings import lens
from mappings.registry import MAPPED, MAPPINGS
from tests.roundtrip.definitions import Constraint, Element, children, definition, is_primitive, is_resource
from tests.roundtrip.invariants import broken, strings, violations
from tests.roundtrip.primitives import identifier_token, primitive, text

SERVED = tuple(MAPPINGS)
SAMPLED = (
    *MAPPED,
    *("AllergyIntolerance", "CarePlan", "CareTeam", "Condition", "DiagnosticReport", "DocumentReference"),
    *("Encounter", "Goal", "Immunization", "Location", "Medication", "MedicationRequest", "Observation"),
    *("PractitionerRole", "Procedure", "Provenance", "RelatedPerson"),
)
"""The types the generator's property tests sample: every mapped one and the US Core 3.1.1 profiles' stored
ones (generating every R4 type would take the whole test budget)."""
CONTAINABLE = ("Patient", "Practitioner", "Organization", "PractitionerRole", "Endpoint")
"""Types generated as contained resources (small ones; any type the definitions describe would do)."""
EXTENSION_BASE = "http://example.org/fhir/StructureDefinition/"
SKIPPED_BINDING_CODES = {
    "http://hl7.org/fhir/ValueSet/mimetypes": ("text/plain", "application/pdf", "image/png", "application/fhir+json"),
    "http://hl7.org/fhir/ValueSet/currencies": ("USD", "EUR", "JPY"),
}
"""Codes of the required ValueSets the conformance data cannot expand (external code systems)."""
NOT_IN_R4B = frozenset({"Meta"})
"""Types of R4 choice elements that fhir.resources' R4B models (which the server validates with) lack:
``Extension.valueMeta``. A resource using one is refused with 400, so none is generated."""
_RETRIES = 12
_PRIMITIVE_EXTENSION_ODDS = 8
_MAX_OPTIONAL = {3: 7, 2: 3, 1: 2, 0: 2}
"""How many optional elements an object gets at most, by the depth left."""
_TEXT_DIV = '<div xmlns="http://www.w3.org/1999/xhtml"><p>{}</p></div>'


@dataclass(frozen=True)
class Clinic:
    """The resources a generated reference may name: (type, ids) pairs, all of one clinic."""

    resources: tuple[tuple[str, tuple[str, ...]], ...]
    base_url: str = ""
    """This server's public base URL, for absolute references to its resources."""

    @classmethod
    def of(cls, ids: Mapping[str, list[str] | tuple[str, ...]], base_url: str = "") -> Clinic:
        return cls(tuple((t, tuple(i)) for t, i in sorted(ids.items()) if i), base_url)

    def ids(self, resource_type: str) -> tuple[str, ...]:
        return dict(self.resources).get(resource_type, ())


@dataclass(frozen=True)
class Scope:
    """Where an element is generated: the clinic, the depth left, the container's contained resources.

    Hashable, so that the strategies of an element are built once per scope (building them is most of the cost).
    """

    clinic: Clinic
    resource_type: str
    depth: int = 3
    contained: tuple[tuple[str, str], ...] = ()
    inside_contained: bool = False
    favoured: frozenset[str] = frozenset()
    """Members of the resource drawn one time in two on top of the random few: those a column of the server
    holds (so every example exercises the mapping, amid unmapped elements)."""

    def deeper(self) -> Scope:
        return replace(self, depth=self.depth - 1, favoured=frozenset())

    @property
    def root(self) -> dict[str, Any]:
        """What the invariants see as %rootResource while the resource is being generated."""
        contained = [{"resourceType": t, "id": i} for t, i in self.contained]
        return {"resourceType": self.resource_type, **({"contained": contained} if contained else {})}


# --- resources -----------------------------------------------------------------------------------------------


Shape = Callable[[st.DrawFn, dict[str, Any], Clinic], dict[str, Any]]
"""Adapts a generated resource to what a server requires beyond R4 (see tests.roundtrip.server_rules)."""


@st.composite
def resources(
    draw: st.DrawFn,
    resource_type: str,
    clinic: Clinic,
    shape: Shape | None = None,
    favoured: frozenset[str] = frozenset(),
    depth: int = 3,
) -> dict[str, Any]:
    """A valid ``resource_type`` (without ``id``) whose references name ``clinic``'s resources or its own,
    adapted by ``shape`` before its invariants are checked. The members the server maps to columns, and
    ``favoured`` ones, are drawn more often than the others."""
    for _ in range(_RETRIES):
        plan = draw(_contained_plan(depth))
        scope = Scope(clinic, resource_type, depth, plan, favoured=mapped_members(resource_type) | favoured)
        contained = [draw(_contained(t, i, clinic)) for t, i in plan]
        resource = {"resourceType": resource_type, **draw(complex_value(resource_type, resource_type, scope))}
        if contained:
            resource["contained"] = contained
            _refer_to_contained(resource)
        if shape is not None:
            resource = shape(draw, resource, clinic)
        if not violations(resource):
            return resource
    return reject()


@cache
def mapped_members(resource_type: str) -> frozenset[str]:
    """The top-level members of a served type that hold a column (the first key of each mapped field's path)."""
    mapping = MAPPINGS.get(resource_type)
    fields = mapping.fields if mapping is not None else ()
    return frozenset(f.path[0].name for f in fields if f.path and isinstance(f.path[0], lens.Key))


@st.composite
def _contained_plan(draw: st.DrawFn, depth: int) -> tuple[tuple[str, str], ...]:
    if depth < 2:
        return ()
    types = draw(st.lists(st.sampled_from(CONTAINABLE), max_size=2))
    ids = draw(st.lists(identifier_token(), min_size=len(types), max_size=len(types), unique=True))
    return tuple(zip(types, ids, strict=True))


@st.composite
def _contained(draw: st.DrawFn, resource_type: str, resource_id: str, clinic: Clinic) -> dict[str, Any]:
    """A contained resource: no meta (dom-4, dom-5), no contained of its own (dom-2)."""
    scope = Scope(clinic, resource_type, depth=1, inside_contained=True)
    body = draw(complex_value(resource_type, resource_type, scope))
    body.pop("meta", None)
    return {"resourceType": resource_type, "id": resource_id, **body}


def _refer_to_contained(resource: dict[str, Any]) -> None:
    """dom-3: a contained resource nothing refers to yet gets a reference from an extension of the container."""
    found = set(strings({k: v for k, v in resource.items() if k != "contained"}))
    for item in resource["contained"]:
        if f"#{item['id']}" not in found:
            extension = {"url": f"{EXTENSION_BASE}see-also", "valueReference": {"reference": f"#{item['id']}"}}
            resource.setdefault("extension", []).append(extension)


# --- complex values ------------------------------------------------------------------------------------------


def _usable(element: Element, scope: Scope, resource_level: bool) -> bool:
    """Whether an optional element may be drawn here."""
    if element.name in {"extension", "modifierExtension", "contained"}:
        return False
    if resource_level and element.name == "id":
        return False
    if scope.inside_contained and element.name == "meta":
        return False
    if element.content_reference is not None or not element.types:
        return scope.depth > 0
    return scope.depth > 0 or any(is_primitive(t) for t in element.types)


@cache
def complex_value(
    owner: str, path: str, scope: Scope, extra: tuple[Constraint, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    return _complex_value(owner, path, scope, extra)


@cache
def _subsets(options: tuple[Element, ...], limit: int) -> st.SearchStrategy[list[Element]]:
    return st.lists(st.sampled_from(options), max_size=limit, unique=True)


@st.composite
def _complex_value(
    draw: st.DrawFn, owner: str, path: str, scope: Scope, extra: tuple[Constraint, ...] = ()
) -> dict[str, Any]:
    """An object of the element ``path`` of ``owner`` (a resource, backbone element or data type) whose
    invariants hold: its own and ``extra`` (those of the element a data type is used at, as org-3)."""
    members = children(owner, path)
    resource_level = is_resource(owner) and path == owner
    required = [e for e in members if e.min > 0]
    optional = tuple(e for e in members if e.min == 0 and _usable(e, scope, resource_level))
    limit = _MAX_OPTIONAL[max(0, min(scope.depth, 3))]
    constraints = () if resource_level else definition(owner).elements[path].constraints + extra
    favoured = [e for e in optional if any(e.member(t) in scope.favoured for t in e.types)]
    for _ in range(_RETRIES):
        chosen = draw(_subsets(optional, limit)) if optional else []
        chosen += [e for e in favoured if draw(st.booleans())]
        obj: dict[str, Any] = {}
        for element in members:
            if element in required or element in chosen:
                _put(draw, obj, owner, element, scope)
        _add_extensions(draw, obj, members, scope)
        if obj and not broken(obj, path, tuple(dict.fromkeys(constraints)), scope.root):
            return obj
    return reject()


def _add_extensions(draw: st.DrawFn, obj: dict[str, Any], members: tuple[Element, ...], scope: Scope) -> None:
    """Extensions and modifierExtensions, where the definition has them, on one object in four."""
    for name in ("extension", "modifierExtension"):
        if any(e.name == name for e in members) and draw(st.integers(0, 3)) == 0:
            obj[name] = draw(st.lists(extensions(scope), min_size=1, max_size=2))


def _put(draw: st.DrawFn, obj: dict[str, Any], owner: str, element: Element, scope: Scope) -> None:
    """Set one element (one type of a choice) on ``obj``, with a primitive extension now and then."""
    types = tuple(t for t in element.types if not (element.is_choice and t in NOT_IN_R4B)) or ("BackboneElement",)
    if element.is_choice:
        allowed = [t for t in types if is_primitive(t) or scope.depth > 0] or list(types)
        type_code = draw(st.sampled_from(allowed))
    else:
        type_code = types[0]
    one = value(owner, element, type_code, scope)
    low = max(element.min, 1)
    high = low if not element.repeats else max(low, 2 if element.max == "*" else min(int(element.max), 2))
    member = element.member(type_code)
    if element.repeats:
        obj[member] = draw(st.lists(one, min_size=low, max_size=high))
    else:
        obj[member] = draw(one)
    if is_primitive(type_code) and not element.system_typed:
        _primitive_extension(draw, obj, member, scope, optional=element.min == 0)


def _primitive_extension(draw: st.DrawFn, obj: dict[str, Any], member: str, scope: Scope, optional: bool) -> None:
    """``_member``: the id and extensions of a primitive value (http://hl7.org/fhir/R4/json.html#primitive).

    Now and then a value goes and only its extensions stay: ``null`` in an array beside its ``_member`` entry,
    or, for an optional element, ``_member`` alone.
    """
    if draw(st.integers(0, _PRIMITIVE_EXTENSION_ODDS)) != 0:
        return
    simple = replace(scope, depth=0)
    element = st.one_of(
        st.lists(extensions(simple), min_size=1, max_size=1).map(lambda e: {"extension": e}),
        identifier_token().map(lambda i: {"id": i}),
    )
    values = obj[member]
    if isinstance(values, list):
        partner = [draw(st.one_of(st.none(), element)) for _ in values]
        if all(e is None for e in partner):
            partner[0] = draw(element)
        obj[f"_{member}"] = partner
        if draw(st.integers(0, 3)) == 0:
            index, kept = next((i, e) for i, e in enumerate(partner) if e is not None)
            values[index] = None
            if all(v is None for v in values) and "extension" not in kept:
                partner[index] = {
                    **kept,
                    "extension": draw(st.lists(extensions(simple), min_size=1, max_size=1)),
                }
    else:
        obj[f"_{member}"] = draw(element)
        if optional and draw(st.integers(0, 3)) == 0:
            del obj[member]
            if "extension" not in obj[f"_{member}"]:
                obj[f"_{member}"]["extension"] = draw(st.lists(extensions(simple), min_size=1, max_size=1))


# --- values of one element -----------------------------------------------------------------------------------


@cache
def value(owner: str, element: Element, type_code: str, scope: Scope) -> st.SearchStrategy[Any]:
    """One value of ``element`` holding ``type_code``."""
    binding = _binding(element)
    if is_primitive(type_code):
        return primitive(type_code) if binding is None else st.sampled_from(sorted(binding.codes))
    if element.content_reference is not None:
        referenced = element.content_reference.lstrip("#")
        return complex_value(owner, referenced, scope.deeper(), definition(owner).elements[referenced].constraints)
    if type_code in {"BackboneElement", "Element"}:
        return complex_value(owner, element.path, scope.deeper())
    if type_code == "Reference":
        return references(element.targets, scope)
    if type_code == "Extension":
        return extensions(scope)
    if type_code == "Narrative":
        return narratives()
    generic = complex_value(type_code, type_code, scope.deeper(), element.constraints)
    if binding is not None and type_code in {"Coding", "CodeableConcept"}:
        return st.builds(_bound_concept, generic, st.sampled_from(sorted(binding.concepts)), st.just(type_code))
    return generic


def _binding(element: Element) -> Binding | None:
    if element.binding_strength != "required":
        return None
    table = required_bindings()
    found = table.by_path.get(element.path)
    if found is None and element.path in table.skipped:
        codes = SKIPPED_BINDING_CODES[table.skipped[element.path]]
        return Binding(element.path, table.skipped[element.path], frozenset(("", code) for code in codes))
    return found


def _bound_concept(generic: dict[str, Any], concept: tuple[str, str], type_code: str) -> dict[str, Any]:
    """A Coding (or CodeableConcept) of a required binding: the generic value with a bound system and code."""
    system, code = concept
    coding = {"system": system, "code": code}
    if type_code == "Coding":
        kept = {k: v for k, v in generic.items() if k not in {"system", "code", "_system", "_code", "display"}}
        return {**kept, **coding}
    others = [c for c in generic.get("coding", []) if isinstance(c, dict)]
    kept = {k: v for k, v in generic.items() if k not in {"coding", "_coding"}}
    return {**kept, "coding": [coding, *others[:1]]}


@cache
def extensions(scope: Scope) -> st.SearchStrategy[dict[str, Any]]:
    return _extensions(scope)


@st.composite
def _extensions(draw: st.DrawFn, scope: Scope) -> dict[str, Any]:
    """An extension (ext-1: a value or nested extensions, not both): simple, or nested when depth allows."""
    url = f"{EXTENSION_BASE}{draw(identifier_token())}"
    if scope.depth > 0 and draw(st.integers(0, 2)) == 0:
        inner = replace(scope, depth=0)
        nested = draw(st.lists(_simple_extension(inner), min_size=1, max_size=2))
        return {"url": url, "extension": nested}
    return {"url": url, **draw(_extension_value(scope))}


@st.composite
def _simple_extension(draw: st.DrawFn, scope: Scope) -> dict[str, Any]:
    """A nested extension: its url is relative (a name within the outer extension)."""
    return {"url": draw(identifier_token()), **draw(_extension_value(scope))}


@cache
def _extension_value(scope: Scope) -> st.SearchStrategy[dict[str, Any]]:
    element = definition("Extension").elements["Extension.value[x]"]
    allowed = [t for t in element.types if (is_primitive(t) or scope.depth > 0) and t not in NOT_IN_R4B]
    return st.one_of([value("Extension", element, t, scope).map(_as_member(element.member(t))) for t in allowed])


def _as_member(member: str) -> Callable[[Any], dict[str, Any]]:
    return lambda value: {member: value}


@st.composite
def narratives(draw: st.DrawFn) -> dict[str, Any]:
    """Narrative: a bound status and a div in the XHTML subset R4 allows (txt-1, txt-2)."""
    status = definition("Narrative").elements["Narrative.status"]
    codes = sorted(required_bindings().by_path[status.path].codes)
    return {"status": draw(st.sampled_from(codes)), "div": _TEXT_DIV.format(html.escape(draw(text()), quote=False))}


@cache
def references(targets: tuple[str, ...], scope: Scope) -> st.SearchStrategy[dict[str, Any]]:
    return _references(targets, scope)


@st.composite
def _references(draw: st.DrawFn, targets: tuple[str, ...], scope: Scope) -> dict[str, Any]:
    """A Reference to one of ``targets`` (any type when empty or ``Resource``): a literal reference to the
    clinic's resource (sometimes versioned), to a contained resource, to a resource of another server (of a type
    the clinic holds none of; the reference checks leave those alone), or a logical reference (identifier) or a
    display only."""
    wanted = set(targets) - {"Resource"} or set(SERVED)
    options: list[st.SearchStrategy[dict[str, Any]]] = []
    served = sorted(t for t in wanted if t in SERVED and scope.clinic.ids(t))
    if served:
        options.append(st.sampled_from(served).flatmap(lambda t: _clinic_reference(t, scope.clinic)))
    contained = sorted(i for t, i in scope.contained if t in wanted or "Resource" in targets or not targets)
    if contained and not scope.inside_contained:
        options.append(st.sampled_from(contained).map(lambda i: {"reference": f"#{i}"}))
    elsewhere = sorted(t for t in wanted if not scope.clinic.ids(t))
    if elsewhere:
        options.append(st.builds(_elsewhere, st.sampled_from(elsewhere), identifier_token()))
    options.append(text().map(lambda d: {"display": d}))
    if scope.depth > 0:
        identifier = complex_value("Identifier", "Identifier", replace(scope, depth=0))
        options.append(identifier.map(lambda i: {"identifier": i}))
    reference = draw(st.one_of(options))
    if draw(st.integers(0, 3)) == 0 and "display" not in reference:
        reference["display"] = draw(text())
    return reference


def _clinic_reference(resource_type: str, clinic: Clinic) -> st.SearchStrategy[dict[str, Any]]:
    """``Type/id``, ``Type/id/_history/1`` or ``[base]/Type/id`` of one of the clinic's resources."""
    forms = ["{t}/{i}", "{t}/{i}/_history/1", *(["{base}/{t}/{i}"] if clinic.base_url else [])]
    return st.builds(
        lambda i, form: {"reference": form.format(t=resource_type, i=i, base=clinic.base_url)},
        st.sampled_from(clinic.ids(resource_type)),
        st.sampled_from(forms),
    )


def _elsewhere(resource_type: str, resource_id: str) -> dict[str, Any]:
    return {"reference": f"https://other.example.org/fhir/{resource_type}/{resource_id}", "type": resource_type}
