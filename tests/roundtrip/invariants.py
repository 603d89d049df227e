"""The invariants of the R4 StructureDefinitions (``constraint`` of severity error), checked on generated JSON.

http://hl7.org/fhir/R4/conformance-rules.html#constraints: every invariant's FHIRPath expression must be true for
every element it is declared on. They are evaluated with fhirpathpy and its R4 model, except where fhirpathpy is
known to answer wrongly, which are checked here in Python with the same meaning:

- ``per-1`` (Period start <= end) and ``rng-2`` (Range low <= high): fhirpathpy compares dateTimes without their
  zones and fractions and cannot compare Quantities. Here a comparison between values of different precision
  or different units counts as unknown, hence as not holding (a generator must not rely on it).
- ``hasValue()`` is not implemented by fhirpathpy: supplied here (a single primitive value).
- ``htmlChecks()`` (txt-1, txt-2) is not implemented either: the generator writes every narrative div itself
  in the allowed XHTML subset, so it is taken as true.
- ``resolve()`` is not implemented either: ``ctm-1`` (a CareTeam participant ``onBehalfOf`` an organization is a
  Practitioner) reads the member's type from its reference's type prefix, as the server's search does.

A constraint is broken when its expression is false: an empty result means it does not apply (ref-1 on a
Reference that has only an identifier). An expression fhirpathpy cannot evaluate counts as broken, so a value is
never accepted for want of evidence.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fhirpathpy import apply_parsed_path
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser import parse

from tests.roundtrip.definitions import Constraint, Element, children, definition, is_primitive, is_resource

_R4 = models["r4"]


def _has_value(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)]


_OPTIONS = {
    "userInvocationTable": {
        "hasValue": {"fn": _has_value},
        "htmlChecks": {"fn": lambda inputs: [True]},
    },
    "traceFn": lambda *args: None,
}


# --- comparisons fhirpathpy gets wrong ---------------------------------------------------------------------


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


def _period_ordered(period: Mapping[str, Any]) -> bool:
    start, end = period.get("start"), period.get("end")
    if not isinstance(start, str) or not isinstance(end, str):
        return True
    try:
        low, high = _bounds(start), _bounds(end)
    except (ValueError, OverflowError):
        return False
    if low[2] == high[2]:
        return low[0] <= high[0]
    return low[1] <= high[0]


def _range_ordered(range_: Mapping[str, Any]) -> bool:
    low, high = range_.get("low"), range_.get("high")
    if low is None or high is None:
        return True
    if not isinstance(low, dict) or not isinstance(high, dict) or "value" not in low or "value" not in high:
        return False
    unit = ("system", "code", "unit")
    return all(low.get(k) == high.get(k) for k in unit) and low["value"] <= high["value"]


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


def _contained_referenced(resource: Mapping[str, Any]) -> bool:
    """dom-3: every contained resource is referred to from elsewhere in the resource (``#id``), or refers to the
    container (``#``). fhirpathpy fails on ``descendants().as(canonical)``."""
    contained = resource.get("contained") or []
    found = set(strings({k: v for k, v in resource.items() if k != "contained"}))
    for item in contained:
        found |= set(strings(item))
    return all(f"#{item.get('id')}" in found or "#" in set(strings(item)) for item in contained)


def _on_behalf_of_practitioner(participant: Mapping[str, Any]) -> bool:
    """ctm-1: ``onBehalfOf.exists() implies (member.resolve() is Practitioner)``."""
    member = participant.get("member")
    reference = member.get("reference") if isinstance(member, dict) else None
    return "onBehalfOf" not in participant or (isinstance(reference, str) and reference.startswith("Practitioner/"))


_IN_PYTHON: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "per-1": _period_ordered,
    "ctm-1": _on_behalf_of_practitioner,
    "rng-2": _range_ordered,
    "dom-3": _contained_referenced,
}


# --- evaluation ----------------------------------------------------------------------------------------------


@cache
def _parsed(expression: str) -> Any:
    return parse(expression)  # type: ignore[no-untyped-call]


def holds(constraint: Constraint, value: Any, base: str, resource: Mapping[str, Any]) -> bool:
    """True when ``constraint`` holds for ``value``, an instance of the element or type ``base``.

    ``base`` is a type name for a resource or a data type, the element's path for a backbone element.
    """
    check = _IN_PYTHON.get(constraint.key)
    if check is not None:
        return check(value)
    context = {"resource": resource, "rootResource": resource, "context": value}
    data = copy.deepcopy(value)
    node = data if "resourceType" in data else ResourceNode.create_node(data, base)  # type: ignore[no-untyped-call]
    try:
        result = apply_parsed_path(  # type: ignore[no-untyped-call]
            node, _parsed(constraint.expression), context, _R4, _OPTIONS
        )
    except Exception:
        return False
    return result in ([True], [])


def broken(value: Any, base: str, constraints: tuple[Constraint, ...], resource: Mapping[str, Any]) -> list[str]:
    """The keys of ``constraints`` that ``value`` breaks."""
    return [c.key for c in constraints if not holds(c, value, base, resource)]


# --- a whole resource ----------------------------------------------------------------------------------------


def violations(resource: Mapping[str, Any]) -> list[str]:
    """Every invariant a resource breaks, at every depth, as ``key at expression``."""
    return [f"{key} at {where}" for where, key in _walk_resource(resource, resource, resource["resourceType"])]


def _walk_resource(resource: Mapping[str, Any], root: Mapping[str, Any], where: str) -> Iterator[tuple[str, str]]:
    type_name = resource["resourceType"]
    for key in broken(resource, type_name, definition(type_name).elements[type_name].constraints, root):
        yield where, key
    yield from _walk_members(type_name, type_name, resource, root, where)


def _walk_members(
    owner: str, path: str, obj: Mapping[str, Any], root: Mapping[str, Any], where: str
) -> Iterator[tuple[str, str]]:
    for element in children(owner, path):
        for type_code in element.types or ("BackboneElement",):
            member = element.member(type_code)
            if is_primitive(type_code):
                for here, item in _items(f"{where}._{member}", obj.get(f"_{member}")):
                    yield from _walk_members("Element", "Element", item, root, here)
                continue
            for here, item in _items(f"{where}.{member}", obj.get(member)):
                yield from _walk_value(owner, element, type_code, item, root, here)


def _items(where: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        yield from ((f"{where}[{i}]", item) for i, item in enumerate(value) if isinstance(item, dict))
    elif isinstance(value, dict):
        yield where, value


def _walk_value(
    owner: str, element: Element, type_code: str, item: Mapping[str, Any], root: Mapping[str, Any], where: str
) -> Iterator[tuple[str, str]]:
    if type_code == "Resource" or is_resource(type_code):
        yield from _walk_resource(item, root, where)
        return
    if element.content_reference is not None:
        owner_path = element.content_reference.lstrip("#")
        yield from _report(item, owner_path, definition(owner).elements[owner_path].constraints, root, where)
        yield from _walk_members(owner, owner_path, item, root, where)
    elif type_code in {"BackboneElement", "Element"}:
        yield from _report(item, element.path, element.constraints, root, where)
        yield from _walk_members(owner, element.path, item, root, where)
    else:
        own = definition(type_code).elements[type_code].constraints
        yield from _report(item, type_code, tuple(dict.fromkeys(element.constraints + own)), root, where)
        yield from _walk_members(type_code, type_code, item, root, where)


def _report(
    item: Mapping[str, Any], base: str, constraints: tuple[Constraint, ...], root: Mapping[str, Any], where: str
) -> Iterator[tuple[str, str]]:
    for key in broken(item, base, constraints, root):
        yield where, key
