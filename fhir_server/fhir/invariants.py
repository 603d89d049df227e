"""The invariants of the R4 StructureDefinitions (``constraint`` of severity error), evaluated on a resource.

http://hl7.org/fhir/R4/conformance-rules.html#constraints: every invariant's FHIRPath expression must be true for
every element it is declared on: the resource (``dom-2`` ... ``dom-6``), its backbone elements (``pat-1`` on
``Patient.contact``) and the data types it holds (``ref-1`` on a Reference, ``ext-1`` on an Extension, ...).
:func:`broken` walks the resource with :func:`fhir_server.fhir.structure.walk` and evaluates each invariant with
fhirpathpy and its R4 model. Each expression is parsed once per process (:func:`parsed`); ``ele-1`` is left to the
structure check (no null, no empty value).

Some invariants are checked here in Python with the same meaning (:data:`IN_PYTHON`): those fhirpathpy answers
wrongly or cannot run, and those met on nearly every write, where fhirpathpy would take most of a write's time:

- ``per-1`` (Period start <= end) and ``rng-2`` (Range low <= high): fhirpathpy compares dateTimes without their
  zones and fractions and cannot compare Quantities. Values of different precision that overlap, or of
  different units, cannot be told apart: unknown.
- ``dom-3`` (a contained resource is referenced from its container): fhirpathpy fails on
  ``descendants().as(canonical)``, and ``descendants()`` costs the square of the resource's size.
- ``que-7`` (``answer is Boolean`` when the operator is ``exists``): fhirpathpy answers false for a FHIR
  ``boolean``, which FHIRPath takes as a System ``Boolean``.
- ``que-13`` (``repeats=true or initial.count() <= 1``): without ``repeats`` fhirpathpy answers empty, which the
  write path does not hold against a resource, while the HL7 validators take empty as false: an item that does not
  say it repeats has at most one initial value.
- ``ctm-1`` (a participant on behalf of an organization is a Practitioner): fhirpathpy has no ``resolve()``; the
  target's type is read off the reference, as search does (``resolve() is X``).
- ``dom-2``, ``dom-4``, ``dom-5`` (every resource), ``ref-1`` (every Reference), ``ext-1`` (every Extension),
  ``qty-3`` (every Quantity): plain reads of the JSON.
- A primitive that has both a value and a ``_x`` sibling (an ``id`` or extensions) compares unequal to its own
  value in fhirpathpy (``use = 'home'`` is false for ``"use": "home", "_use": {...}``), so every invariant of the
  form ``x = 'code'`` would hold wrongly. The expressions are evaluated on a view of the resource without those
  siblings (:func:`_fhirpath_views`); no R4 invariant reads the extensions of a primitive that has a value, and
  the extensions themselves are still walked and checked (``ext-1``).
- ``hasValue()`` and ``htmlChecks()`` are not implemented by fhirpathpy: ``hasValue()`` is supplied (a single
  primitive value); ``htmlChecks()`` (txt-1, txt-2) is taken as true.

An expression fhirpathpy cannot parse (none in R4: :func:`unparsed`), or that raises when evaluated, or that
answers something other than a boolean, or a Python check that cannot tell, is not held against the resource
(``strict=False``, the write path); tests that must never rely on a value the server might refuse pass
``strict=True``.

Cost: an invariant's expression is the server's own (from the definitions), so what a client controls is the
size of the data. A resource with at most :data:`UNCOUNTED` objects carrying invariants costs at most a few
milliseconds; a larger one is evaluated within :data:`STEPS` Python calls (:func:`fhirpath_guard.counted
<fhir_server.fhir.fhirpath_guard.counted>`), and past the budget the write is refused with 422 ``too-costly``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fhirpathpy import apply_parsed_path
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser import parse

from fhir_server.fhir.fhirpath_guard import Budget, TooCostlyError, counted
from fhir_server.fhir.primitives import literal_reference
from fhir_server.fhir.structure import Constraint, Node, definitions, walk

UNCOUNTED = 300
"""Objects carrying invariants (the resource, its backbone elements, its data types) up to which a resource's
invariants are evaluated without counting: their cost is bounded by the resource's size, a few milliseconds.
Counting every Python call (:func:`fhir_server.fhir.fhirpath_guard.counted`) makes evaluation 3 to 10 times
slower, so only larger resources, where an invariant comparing elements with elements could cost the square of
the size, pay for it."""
STEPS = 2_000_000
"""Python calls the invariants of one larger resource may make while fhirpathpy evaluates them (about two seconds
of one core)."""
_R4 = models["r4"]
_OPTIONS = {
    "userInvocationTable": {
        "hasValue": {"fn": lambda inputs: [len(inputs) == 1 and not isinstance(_data(inputs[0]), dict | list)]},
        "htmlChecks": {"fn": lambda inputs: [True]},
    },
    "traceFn": lambda *args: None,
}


def _data(item: Any) -> Any:
    return item.data if isinstance(item, ResourceNode) else item


# --- invariants checked in Python --------------------------------------------------------------------------


def _bounds(value: str) -> tuple[datetime, datetime, int]:
    """The first and last instant a date/dateTime may mean, and its precision (number of components)."""
    if "T" in value:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return instant, instant, 7
    parts = [int(p) for p in value.split("-")]
    year, month, day = [*parts, 1, 1][:3]
    start = datetime(year, month, day, tzinfo=UTC)
    if len(parts) == 3:
        return start, start, 3
    end = (
        datetime(year + 1, 1, 1, tzinfo=UTC)
        if len(parts) == 1 or month == 12
        else datetime(year, month + 1, 1, tzinfo=UTC)
    )
    return start, end, len(parts)


def period_ordered(period: Mapping[str, Any]) -> bool | None:
    """per-1: a Period's start, if both are given, is not after its end; None when that cannot be told (values
    of different precision that overlap, or that do not parse)."""
    start, end = period.get("start"), period.get("end")
    if not isinstance(start, str) or not isinstance(end, str):
        return True
    try:
        low, high = _bounds(start), _bounds(end)
    except (ValueError, OverflowError):
        return None
    if low[2] == high[2]:
        return low[0] <= high[0]
    if low[1] <= high[0]:
        return True
    return False if low[0] > high[1] else None


def range_ordered(range_: Mapping[str, Any]) -> bool | None:
    """rng-2: a Range's low, if both are given, is not above its high; None when they are not comparable here
    (a bound without a value, or bounds of different units)."""
    low, high = range_.get("low"), range_.get("high")
    if low is None or high is None:
        return True
    if not isinstance(low, dict) or not isinstance(high, dict) or "value" not in low or "value" not in high:
        return None
    if any(low.get(k) != high.get(k) for k in ("system", "code", "unit")):
        return None
    return bool(low["value"] <= high["value"])


def strings(value: Any) -> Iterator[str]:
    """Every string value at any depth of a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def contained_referenced(resource: Mapping[str, Any], _root: Mapping[str, Any]) -> bool:
    """dom-3: every contained resource is referred to from elsewhere in the resource (``#id``), or refers to the
    container (``#``)."""
    contained = resource.get("contained") or []
    if not contained:
        return True
    found = set(strings({k: v for k, v in resource.items() if k != "contained"}))
    for item in contained:
        found |= set(strings(item))
    return all(
        isinstance(item, dict) and (f"#{item.get('id')}" in found or "#" in set(strings(item))) for item in contained
    )


def _contained(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    contained = resource.get("contained")
    return [c for c in contained if isinstance(c, dict)] if isinstance(contained, list) else []


def _contained_meta(resource: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
    """True when no contained resource has any of ``keys`` in its meta (dom-4: versionId, lastUpdated; dom-5:
    security)."""
    return not any(key in (c.get("meta") or {}) for c in _contained(resource) for key in keys)


def local_reference_resolves(reference: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    """ref-1: a local reference ``#id`` names a resource the root resource contains. ``#`` alone names the container
    itself (http://hl7.org/fhir/R4/references.html#contained: a contained resource refers back to its container
    so), which R4's expression forgets and R5's allows."""
    text = reference.get("reference")
    if not isinstance(text, str) or not text.startswith("#") or text == "#":
        return True
    return text[1:] in {c.get("id") for c in _contained(root)}


def on_behalf_of_a_practitioner(participant: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    """ctm-1: a CareTeam participant acting on behalf of an organization is a Practitioner. fhirpathpy has no
    ``resolve()``: the member's type is read off its reference (``Practitioner/1``, or ``#id`` of a contained
    resource), and a reference that names no type passes, as ``resolve()`` giving nothing does."""
    member = participant.get("member")
    text = member.get("reference") if isinstance(member, dict) else None
    if "onBehalfOf" not in participant or not isinstance(text, str):
        return True
    if text.startswith("#"):
        kind = next((c.get("resourceType") for c in _contained(root) if c.get("id") == text[1:]), None)
    else:
        target = literal_reference(text)
        kind = target.resource_type if target is not None else None
    return kind is None or kind == "Practitioner"


def _has_value_member(value: Mapping[str, Any]) -> bool:
    return any(key.startswith("value") and key[5:6].isupper() for key in value)


IN_PYTHON: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], bool | None]] = {
    "per-1": lambda period, _: period_ordered(period),
    "rng-2": lambda range_, _: range_ordered(range_),
    "dom-2": lambda resource, _: not any("contained" in c for c in _contained(resource)),
    "dom-3": contained_referenced,
    "dom-4": lambda resource, _: _contained_meta(resource, ("versionId", "lastUpdated")),
    "dom-5": lambda resource, _: _contained_meta(resource, ("security",)),
    "ref-1": local_reference_resolves,
    "ext-1": lambda extension, _: ("extension" in extension) != _has_value_member(extension),
    "qty-3": lambda quantity, _: "code" not in quantity or "system" in quantity,
    "que-7": lambda when, _: when.get("operator") != "exists" or "answerBoolean" in when,
    "que-13": lambda item, _: item.get("repeats") is True or len(item.get("initial") or ()) <= 1,
    "ctm-1": on_behalf_of_a_practitioner,
}
"""Invariants checked in Python (value, root resource) -> true, false, or None when the data cannot tell: those
fhirpathpy gets wrong or cannot run (per-1, rng-2, dom-3, que-7, ctm-1), and those met on nearly every write (the
``dom-*`` of every resource, ``ref-1`` of every Reference, ``ext-1`` of every Extension, ``qty-3`` of every
Quantity), where fhirpathpy would take most of a write's time. tests/fhir/test_invariants.py checks that the
latter answer as fhirpathpy does."""


# --- evaluation ----------------------------------------------------------------------------------------------


@cache
def parsed(expression: str) -> Any | None:
    """fhirpathpy's parse of ``expression`` (once per process); None when fhirpathpy cannot parse it."""
    try:
        return parse(expression)  # type: ignore[no-untyped-call]
    except Exception:  # fhirpathpy's parser raises assorted errors
        return None


def unparsed() -> list[str]:
    """The keys of the error invariants of the definitions that fhirpathpy cannot parse (and so are skipped)."""
    keys = {
        c.key: c.expression
        for elements in definitions().elements.values()
        for element in elements.values()
        for c in element.constraints
        if c.key not in IN_PYTHON
    }
    return sorted(key for key, expression in keys.items() if parsed(expression) is None)


@dataclass(frozen=True)
class Declared:
    """One object that declares invariants, with what its expressions see: ``base`` is the type (or backbone
    element path) it is an instance of, ``resource`` the resource holding it (``%resource``) and ``root`` the
    container of that resource when it is contained, else the resource itself (``%rootResource``)."""

    constraints: tuple[Constraint, ...]
    value: Mapping[str, Any]
    base: str
    expression: str
    resource: Mapping[str, Any]
    root: Mapping[str, Any]


def holds(constraint: Constraint, at: Declared, strict: bool = False) -> bool:
    """Whether ``constraint`` holds at ``at``. Not holding: the expression answers false (or, when ``strict``,
    anything but true or nothing, and an expression that cannot be evaluated)."""
    check = IN_PYTHON.get(constraint.key)
    if check is not None:
        verdict = check(at.value, at.root)
        return verdict if verdict is not None else not strict
    tree = parsed(constraint.expression)
    if tree is None:
        return not strict
    value = at.value
    node = value if "resourceType" in value else ResourceNode.create_node(value, at.base)  # type: ignore[no-untyped-call]
    context = {"resource": at.resource, "rootResource": at.root, "context": value}
    try:
        result = apply_parsed_path(node, tree, context, _R4, _OPTIONS)  # type: ignore[no-untyped-call]
    except TooCostlyError:
        raise
    except Exception:  # fhirpathpy raises many kinds of errors for data it cannot handle
        return not strict
    if strict:
        return bool(result in ([True], []))
    return bool(result != [False])


def broken(resource: Mapping[str, Any], strict: bool = False) -> list[tuple[Constraint, str]]:
    """Every (invariant, expression) that ``resource`` breaks at any depth. A resource with more than
    :data:`UNCOUNTED` objects that carry invariants is evaluated within :data:`STEPS` (TooCostlyError past it)."""
    declared = _as_fhirpath_sees(list(declarations(resource)), resource)
    if len(declared) <= UNCOUNTED:
        return _broken(declared, strict)
    found: list[tuple[Constraint, str]] = counted(Budget(STEPS), _broken, declared, strict)
    return found


def _broken(declared: list[Declared], strict: bool) -> list[tuple[Constraint, str]]:
    return [(c, at.expression) for at in declared for c in at.constraints if not holds(c, at, strict)]


def _as_fhirpath_sees(declared: list[Declared], resource: Mapping[str, Any]) -> list[Declared]:
    """``declared`` with each object replaced by its view without the ``_x`` siblings of valued primitives."""
    views: dict[int, Mapping[str, Any]] = {}
    _fhirpath_views(resource, views)
    if not views:
        return declared

    def view(value: Mapping[str, Any]) -> Mapping[str, Any]:
        return views.get(id(value), value)

    return [replace(d, value=view(d.value), resource=view(d.resource), root=view(d.root)) for d in declared]


def _fhirpath_views(value: Any, views: dict[int, Mapping[str, Any]]) -> Any:
    """``value`` without the ``_x`` sibling of any primitive ``x`` that has a value (every item of a list, for a
    repeating one); each object that changed is recorded in ``views`` by the ``id`` of the original."""
    if isinstance(value, list):
        items = [_fhirpath_views(item, views) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if not isinstance(value, dict):
        return value
    kept = {k: _fhirpath_views(v, views) for k, v in value.items() if not _valued_sibling(k, value)}
    if len(kept) == len(value) and all(kept[k] is value[k] for k in kept):
        return value
    views[id(value)] = kept
    return kept


def _valued_sibling(key: str, value: Mapping[str, Any]) -> bool:
    """Whether ``key`` is the ``_x`` sibling of a primitive ``x`` of ``value`` that has a value."""
    if not key.startswith("_"):
        return False
    primitive = value.get(key[1:])
    if isinstance(primitive, list):
        return bool(primitive) and None not in primitive
    return primitive is not None and not isinstance(primitive, dict)


def declarations(resource: Mapping[str, Any]) -> Iterator[Declared]:
    """The resource and every object in it that declares invariants, depth first."""
    resource_type = resource["resourceType"]
    yield Declared(_own(resource_type), resource, resource_type, resource_type, resource, resource)
    holders: list[tuple[str, Mapping[str, Any], Mapping[str, Any]]] = [(resource_type, resource, resource)]
    for node in walk(resource):
        if not isinstance(node.value, dict):
            continue
        while len(holders) > 1 and not node.expression.startswith(holders[-1][0] + "."):
            holders.pop()
        _, holder, root = holders[-1]
        found = _of(node)
        if found is None or not found[0]:
            continue
        if found[1] == node.value.get("resourceType"):
            contained = node.element.path.endswith(".contained")
            holder, root = node.value, (root if contained else node.value)
            holders.append((node.expression, holder, root))
        yield Declared(found[0], node.value, found[1], node.expression, holder, root)


def _of(node: Node) -> tuple[tuple[Constraint, ...], str] | None:
    """The invariants that apply to a complex value, and the base fhirpathpy evaluates them on."""
    element, type_code = node.element, node.type
    defs = definitions()
    if type_code == "Resource" or defs.is_resource(type_code):
        kind = node.value.get("resourceType")
        return (_own(kind), kind) if isinstance(kind, str) and defs.is_resource(kind) else None
    if element.content_reference:
        path = element.content_reference.lstrip("#")
        target = defs.elements.get(path.split(".", 1)[0], {}).get(path)
        return (target.constraints, path) if target is not None else None
    if type_code in {"BackboneElement", "Element"}:
        return element.constraints, element.path
    return tuple(dict.fromkeys(element.constraints + _own(type_code))), type_code


@cache
def _own(type_name: str) -> tuple[Constraint, ...]:
    """The invariants a type declares on its root element (a resource's ``dom-*``, a Reference's ``ref-1``)."""
    root = definitions().elements.get(type_name, {}).get(type_name)
    return root.constraints if root is not None else ()
