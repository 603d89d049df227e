"""FHIRPath evaluation of search parameter expressions, compiled once per expression.

Almost every official expression is a plain path (``Patient.name.family``), a path filtered by a member value
(``telecom.where(system='phone')``) or by a reference's target type, or a choice-type cast (``(x as dateTime)``),
joined by ``|``. Those run through a small path walker written for them, about a hundred times faster than a general
interpreter, which matters on every write. Anything else goes to fhirpathpy (R4 model). Both give the same values:
tests/fhir/search/test_fhirpath.py compares them over every expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import orjson
from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.models import models

from fhir_server.paths import project_dir

_R4 = models["r4"]
Evaluator = Callable[[dict[str, Any]], list[Any]]
Step = Callable[[Iterator[Any]], Iterator[Any]]

_NAME = r"[A-Za-z][A-Za-z0-9]*"
_WHERE_VALUE = re.compile(rf"^where\(({_NAME})\s*=\s*'([^']*)'\)$")
_WHERE_TARGET = re.compile(rf"^where\(reference\.startsWith\('({_NAME})/'\) or reference\.contains\('/\1/'\)\)$")
_CAST = re.compile(rf"^\((.+) as ({_NAME})\)$")
_AS_CALL = re.compile(rf"^(.+)\.as\(({_NAME})\)$")
_CAST_THEN = re.compile(rf"^\(([^()]+) as ({_NAME})\)((?:\.{_NAME})+)$")
_RESOURCE_VARIABLE = "%resource."


@cache
def _choices() -> tuple[frozenset[str], frozenset[str]]:
    """Element names that are choice types (``value[x]``) anywhere in R4, and the type suffixes a choice element's
    JSON name can carry: ``value`` matches ``valueQuantity``, and ``location`` never ``locationQualifier``."""
    names: set[str] = set()
    suffixes: set[str] = set()
    for file in ("structure-definitions.json", "structure-definitions-types.json"):
        bundle = orjson.loads((project_dir("conformance") / file).read_bytes())
        for entry in bundle["entry"]:
            for element in entry["resource"].get("snapshot", {}).get("element", []):
                if element["path"].endswith("[x]"):
                    names.add(element["path"].rsplit(".", 1)[-1][:-3])
                    suffixes.update(t["code"][0].upper() + t["code"][1:] for t in element.get("type", ()))
    return frozenset(names), frozenset(suffixes)


def _choice_value(node: dict[str, Any], name: str) -> Any:
    """The value of choice element ``name`` (``value`` -> ``valueQuantity``'s) in ``node``; None when absent."""
    names, suffixes = _choices()
    if name not in names:
        return None
    return next((v for k, v in node.items() if k.startswith(name) and k[len(name) :] in suffixes), None)


def _children(node: Any, name: str, cast: str | None = None) -> Iterator[Any]:
    if not isinstance(node, dict):
        return
    if cast is not None:
        value = node.get(name + cast[0].upper() + cast[1:])
    else:
        value = node.get(name)
        if value is None:
            value = _choice_value(node, name)
    if isinstance(value, list):
        yield from (v for v in value if v is not None)
    elif value is not None:
        yield value


class _Member:
    """The step to member ``name`` (of type ``cast`` when a choice element is cast) of each node."""

    def __init__(self, name: str, cast: str | None) -> None:
        self.name, self.cast = name, cast

    def __call__(self, nodes: Iterator[Any]) -> Iterator[Any]:
        return (child for node in nodes for child in _children(node, self.name, self.cast))


def _member(name: str, cast: str | None = None) -> Step:
    return _Member(name, cast)


def _filter(predicate: Callable[[Any], bool]) -> Step:
    return lambda nodes: (node for node in nodes if predicate(node))


def _has_value(key: str, expected: str) -> Callable[[Any], bool]:
    return lambda node: isinstance(node, dict) and node.get(key) == expected


def _targets(type_name: str) -> Callable[[Any], bool]:
    def test(node: Any) -> bool:
        reference = node.get("reference") if isinstance(node, dict) else None
        return isinstance(reference, str) and (reference.startswith(type_name + "/") or f"/{type_name}/" in reference)

    return test


def _top_level_parts(path: str) -> list[str]:
    """``path`` split at the dots outside parentheses (``a.where(b.c('x'))`` -> ``a``, ``where(b.c('x'))``)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(path):
        depth += (char == "(") - (char == ")")
        if char == "." and depth == 0:
            parts.append(path[start:index])
            start = index + 1
    return [*parts, path[start:]]


def _steps(path: str, cast: str | None) -> list[Step] | None:
    """The steps of ``Type.a.b.where(...)`` (the leading type name is the resource itself, so ``Type`` alone has
    none)."""
    parts = _top_level_parts(path)
    if not re.fullmatch(_NAME, parts[0]):
        return None  # a bare type name (``Observation``, a composite's element) is the resource itself
    steps: list[Step] = []
    for index, part in enumerate(parts[1:], start=1):
        last = index == len(parts) - 1
        if re.fullmatch(_NAME, part):
            steps.append(_member(part, cast if last else None))
        elif (match := _WHERE_VALUE.match(part)) is not None and cast is None:
            steps.append(_filter(_has_value(*match.groups())))
        elif (match := _WHERE_TARGET.match(part)) is not None and cast is None:
            steps.append(_filter(_targets(match.group(1))))
        else:
            return None
    return steps


def _fast(expression: str) -> Evaluator | None:
    branches: list[list[Step]] = []
    for part in (p.strip() for p in expression.split(" | ")):
        then: list[Step] = []
        if (cast_then := _CAST_THEN.match(part)) is not None:  # (x as T).a.b
            part = f"({cast_then.group(1)} as {cast_then.group(2)})"
            then = [_member(name) for name in cast_then.group(3).split(".")[1:]]
        cast_match = _CAST.match(part) or _AS_CALL.match(part)  # (x as T) and x.as(T) alike
        path, cast = (cast_match.group(1), cast_match.group(2)) if cast_match else (part, None)
        steps = _steps(path, cast)
        if steps is None:
            return None
        branches.append(steps + then)

    def run(resource: dict[str, Any]) -> list[Any]:
        found: list[Any] = []
        for steps in branches:
            nodes: Iterator[Any] = iter([resource])
            head = steps[0] if steps else None
            if isinstance(head, _Member):  # most expressions name an element the resource lacks: stop there
                first = list(_children(resource, head.name, head.cast))
                if not first:
                    continue
                nodes, steps = iter(first), steps[1:]
            for step in steps:
                nodes = step(nodes)
            found.extend(nodes)
        return found

    return run


@cache
def compiled(expression: str) -> Evaluator:
    fast = _fast(expression)
    if fast is not None:
        return fast
    general: Callable[..., list[Any]] = compile_fhirpath(expression, _R4)
    return lambda resource: general(resource)


@cache
def relative(expression: str) -> Callable[[dict[str, Any], Any], list[Any]] | None:
    """An evaluator of a composite component's expression (http://hl7.org/fhir/R4/search.html#composite) on
    ``(resource, node)``: its parts are paths from ``node``, one repetition of the composite's element (``code``,
    ``value.as(Quantity)``), or from the resource (``%resource.referenceSeq.chromosome``). None when the path
    walker cannot run it (fhirpathpy cannot resolve choice types on an element taken out of its resource)."""
    on_node, on_resource = [], []
    for part in (p.strip() for p in expression.split(" | ")):
        if part.startswith(_RESOURCE_VARIABLE):
            on_resource.append(f"Resource.{part[len(_RESOURCE_VARIABLE) :]}")
        else:
            on_node.append(f"Element.{part}")
    walkers = [_fast(" | ".join(parts)) if parts else None for parts in (on_node, on_resource)]
    if any(w is None for w, parts in zip(walkers, (on_node, on_resource), strict=True) if parts):
        return None
    from_node, from_resource = walkers

    def run(resource: dict[str, Any], node: Any) -> list[Any]:
        found = from_node(node) if from_node is not None else []
        found += from_resource(resource) if from_resource is not None else []
        return [value for value in found if value is not None]

    return run


@cache
def is_fast(expression: str) -> bool:
    return _fast(expression) is not None


def evaluate(resource: dict[str, Any], expression: str) -> list[Any]:
    """The values ``expression`` selects in ``resource`` (FHIRPath collections flattened to Python values)."""
    return [value for value in compiled(expression)(resource) if value is not None]
