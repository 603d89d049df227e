"""Locating elements for FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html): the FHIRPath subset a patch's
``path`` may use, evaluated over a resource's JSON.

Member names (a choice type by its plain name), indexers, ``where(criteria)`` (checked and evaluated by
:mod:`fhirpath_guard` within a bounded number of steps), ``first()``, ``last()``, ``single()`` and
``extension('url')``; :func:`select` finds the nodes a path names, :func:`check_path` refuses a path before any work.
Cardinalities and choice types come from the R4 structure (fhir.resources R4B models, :mod:`elements`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fhir_server.errors import Kind
from fhir_server.fhir import elements, fhirpath_guard
from fhir_server.fhir.elements import Element

_FUNCTION = re.compile(r"^(where|first|last|single|extension)\((.*)\)$", re.DOTALL)
MEMBER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")
_INDEX = re.compile(r"\[(\d+)\]")


class PatchError(Exception):
    """An operation that cannot be applied: ``kind`` INVALID (malformed) or UNPROCESSABLE (does not fit the
    resource)."""

    def __init__(self, message: str, kind: Kind = Kind.UNPROCESSABLE, code: str = "processing") -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


def child_element(model: type[Any] | None, name: str) -> Element:
    found = elements.element(model, name)
    if found is None:
        raise PatchError(f"{name!r} is not an element here")
    return found


# --- locating elements -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A value in the resource and where it sits: ``holder[key]`` or ``holder[key][index]``."""

    value: Any
    holder: dict[str, Any] | None
    key: str | None
    index: int | None
    element: Element | None
    model: type[Any] | None


def path_segments(path: str) -> list[str]:
    """``path`` cut at its top-level dots (not inside parentheses, brackets or quotes)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(path):
        if quote:
            quote = "" if char == quote and path[i - 1] != "\\" else quote
        elif char in "'\"`":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "." and depth == 0:
            parts.append(path[start:i].strip())
            start = i + 1
    parts.append(path[start:].strip())
    if depth != 0 or quote or not all(parts):
        raise PatchError(f"the path {path!r} is not well-formed FHIRPath", Kind.INVALID, "invalid")
    return parts


def select(resource: dict[str, Any], path: str) -> list[Node]:
    """The elements of ``resource`` that ``path`` selects, in document order."""
    model = elements.resource_model(resource["resourceType"])
    segments = path_segments(path)
    if segments[0] == resource["resourceType"]:
        segments = segments[1:]
    nodes = [Node(resource, None, None, None, None, model)]
    for segment in segments:
        nodes = _step(nodes, segment)
    return nodes


def _step(nodes: list[Node], segment: str) -> list[Node]:
    function = _FUNCTION.match(segment)
    if function is not None:
        return _function(nodes, function.group(1), function.group(2).strip())
    member = MEMBER.match(segment)
    if member is None:
        raise PatchError(f"{segment!r} is not supported in a patch path", code="not-supported")
    found = [child for node in nodes for child in _children(node, member.group(1))]
    for index in _INDEX.findall(member.group(2)):
        found = found[int(index) : int(index) + 1]
    return found


def _children(node: Node, name: str) -> list[Node]:
    if not isinstance(node.value, dict):
        return []
    element = child_element(node.model, name)
    children: list[Node] = []
    for key in element.keys:
        value = node.value.get(key)
        if isinstance(value, list):
            children.extend(
                Node(v, node.value, key, i, element, _model(element, key, node)) for i, v in enumerate(value)
            )
        elif value is not None:
            children.append(Node(value, node.value, key, None, element, _model(element, key, node)))
    return children


def _model(element: Element, key: str, parent: Node) -> type[Any] | None:
    return child_element(parent.model, key).model if element.choice else element.model


def _function(nodes: list[Node], name: str, argument: str) -> list[Node]:
    if name == "where":
        return [node for node in nodes if _holds(node.value, argument)]
    if name == "extension":
        url = argument.strip("'")
        extensions = [child for node in nodes for child in _children(node, "extension")]
        return [e for e in extensions if isinstance(e.value, dict) and e.value.get("url") == url]
    if argument:
        raise PatchError(f"{name}() takes no argument", Kind.INVALID, "invalid")
    if name == "single" and len(nodes) > 1:
        raise PatchError("single() found several elements")
    return nodes[:1] if name in ("first", "single") else nodes[-1:]


def _holds(value: Any, criteria: str) -> bool:
    try:
        return _criteria(criteria).holds(value)
    except fhirpath_guard.TooCostlyError:
        raise PatchError(
            f"where({criteria}) took more than the allowed work to evaluate", Kind.UNPROCESSABLE, "too-costly"
        ) from None
    except ValueError as exc:
        raise PatchError(f"where({criteria}) cannot be evaluated: {exc}", Kind.INVALID, "invalid") from None


@lru_cache(maxsize=256)
def _criteria(text: str) -> fhirpath_guard.Criteria:
    """The checked and compiled criteria of a ``where()``; ValueError naming what is refused."""
    return fhirpath_guard.Criteria.of(text)


def check_path(path: str) -> None:
    """400 (as PatchError) unless ``path`` is short and shallow enough and each ``where()`` criteria in it is an
    allowed client expression."""
    if len(path) > fhirpath_guard.MAX_CHARS:
        raise PatchError(
            f"a path may be at most {fhirpath_guard.MAX_CHARS} characters long", Kind.INVALID, "too-costly"
        )
    if fhirpath_guard.nesting(path) > fhirpath_guard.MAX_NESTING:
        raise PatchError(f"a path may nest at most {fhirpath_guard.MAX_NESTING} deep", Kind.INVALID, "too-costly")
    for segment in path_segments(path):
        function = _FUNCTION.match(segment)
        if function is not None and function.group(1) == "where":
            try:
                _criteria(function.group(2).strip())
            except ValueError as exc:
                raise PatchError(f"where({function.group(2).strip()}): {exc}", Kind.INVALID, "not-supported") from None
