"""Lenses over FHIR JSON: read one value at a path, or write one back, leaving everything else as it was.

A path is a tuple of steps: ``Key("birthDate")`` enters an object member; ``Pick(match, template)`` enters the
first element of an array that ``match`` accepts (writing to a missing one appends ``template`` first). Writing
``None`` removes the value and prunes what it leaves empty (or equal to its template). The lens laws hold:
``put(doc, get(doc)) == doc`` and ``get(put(doc, v)) == v``, which is what makes the round trip lossless.
Writing ``None`` below the innermost ``Pick`` removes that whole array element: a cleared phone number takes its
ContactPoint (and its ``use``) with it, a cleared reference its ``display``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Pick:
    match: Callable[[Any], bool]
    template: Mapping[str, Any] = field(default_factory=dict)


Step = Key | Pick
Path = tuple[Step, ...]


def where(**expected: Any) -> Pick:
    """The first array element whose members equal ``expected`` (a new one starts as ``expected``)."""
    return Pick(lambda e: isinstance(e, dict) and all(e.get(k) == v for k, v in expected.items()), dict(expected))


FIRST = Pick(lambda e: isinstance(e, dict))
"""The first element of an array of objects."""


def path(*steps: str | Pick) -> Path:
    """``path("name", FIRST, "family")``: strings are keys."""
    return tuple(Key(s) if isinstance(s, str) else s for s in steps)


def get(doc: Any, steps: Path) -> Any:
    node = doc
    for step in steps:
        if isinstance(step, Key):
            node = node.get(step.name) if isinstance(node, dict) else None
        else:
            node = next((e for e in node if step.match(e)), None) if isinstance(node, list) else None
        if node is None:
            return None
    return node


def put(doc: dict[str, Any], steps: Path, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with ``value`` at ``steps`` (``None`` removes it)."""
    return put_into(copy.deepcopy(doc), steps, value)


def put_into(doc: dict[str, Any], steps: Path, value: Any) -> dict[str, Any]:
    """Like :func:`put`, but changing ``doc`` itself (for a document the caller already owns)."""
    result = _put(doc, steps, value)
    return result if isinstance(result, dict) else {}


def _empty(node: Any, template: Mapping[str, Any] | None = None) -> bool:
    return node is None or node == {} or node == [] or (template is not None and node == dict(template))


def _put(node: Any, steps: Path, value: Any) -> Any:
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if isinstance(step, Key):
        container = node if isinstance(node, dict) else {}
        child = _put(container.get(step.name), rest, value)
        if _empty(child):
            container.pop(step.name, None)
        else:
            container[step.name] = child
        return container
    items = node if isinstance(node, list) else []
    index = next((i for i, e in enumerate(items) if step.match(e)), None)
    if value is None and (index is None or not any(isinstance(s, Pick) for s in rest)):
        if index is not None and get(items[index], rest) is not None:
            del items[index]  # clearing a value drops the whole element it was picked by (its use, display...)
        return items
    current = items[index] if index is not None else copy.deepcopy(dict(step.template))
    child = _put(current, rest, value)
    if _empty(child, step.template):
        if index is not None:
            del items[index]
    elif index is None:
        items.append(child)
    else:
        items[index] = child
    return items
