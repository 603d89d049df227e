"""FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource of ``operation``s applied to a
resource's JSON.

Operations: add, insert, delete, replace, move. Paths are the FHIRPath subset a patch needs to point at elements:
member names (``Patient.name``, a choice type by its plain name: ``Patient.deceased``), indexers (``name[0]``),
``where(criteria)`` (criteria checked and evaluated by :mod:`fhirpath_guard`: a safe subset of FHIRPath within a
bounded number of steps), ``first()``, ``last()``, ``single()`` and ``extension('url')``, located by
:mod:`fhirpath_patch_paths`. Anything else answers
422 ``not-supported`` naming the operation, never a guess. Element cardinalities and choice types come from the R4
structure (fhir.resources R4B models). A malformed Parameters (or a refused expression) answers 400, one with more
operations than allowed 413, an operation that cannot apply (no such element, several where one is needed), that
would grow the resource past its limit or whose criteria take too much work 422; all name the operation as
``Parameters.parameter[i]``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server.errors import Kind, bad_request, fail, fail_all
from fhir_server.fhir import fhirpath_guard
from fhir_server.fhir.elements import Element
from fhir_server.fhir.fhirpath_patch_paths import (
    MEMBER,
    Node,
    PatchError,
    check_path,
    child_element,
    path_segments,
    select,
)
from fhir_server.fhir.patch_limits import PatchLimits, SizeBudget
from fhir_server.fhir.validation import structure_issues

OPERATION_TYPES = frozenset({"add", "insert", "delete", "replace", "move"})

# --- operations --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One ``operation`` parameter, its parts read: ``value`` is the JSON of ``value[x]`` and ``value_type`` its
    type (``valueHumanName``: HumanName), or ``value_parts`` the parts of a backbone element."""

    type: str
    path: str
    name: str | None = None
    value: Any = None
    value_type: str | None = None
    value_parts: tuple[dict[str, Any], ...] | None = None
    index: int | None = None
    source: int | None = None
    destination: int | None = None


def apply(resource: dict[str, Any], parameters: Any, limits: PatchLimits | None = None) -> dict[str, Any]:
    """``resource`` with every operation of the FHIRPath Patch ``parameters`` applied, in order; the values the
    operations add count against ``limits`` before each runs, and all their criteria share one evaluation
    budget."""
    limits = limits or PatchLimits()
    operations = read_operations(parameters, limits)
    size = SizeBudget(limits)
    patched: dict[str, Any] = orjson.loads(size.add(resource, "the resource"))  # a copy to change, measured
    with fhirpath_guard.budget():
        for i, operation in enumerate(operations):
            where = f"Parameters.parameter[{i}]"
            if operation.value is not None or operation.value_parts is not None:
                size.add(operation.value if operation.value_parts is None else operation.value_parts, where, where)
            try:
                _APPLY[operation.type](patched, operation)
            except PatchError as exc:
                diagnostics = f"operation {i} ({operation.type} at {operation.path}): {exc}"
                raise fail(exc.kind, diagnostics, where, code=exc.code) from None
    return patched


def read_operations(parameters: Any, limits: PatchLimits | None = None) -> list[Operation]:
    """The operations of a Parameters resource; 400 naming what is malformed (or a refused expression), 413 when
    there are more than ``limits`` allow."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise bad_request("a FHIRPath Patch body must be a Parameters resource", "resourceType")
    listed = parameters.get("parameter")
    (limits or PatchLimits()).check_count(len(listed) if isinstance(listed, list) else 0, "Parameters.parameter")
    issues = structure_issues(parameters)
    if issues:
        raise fail_all(Kind.INVALID, issues)
    operations = []
    for i, parameter in enumerate(parameters.get("parameter", [])):
        try:
            operations.append(_operation(parameter))
        except PatchError as exc:
            code = exc.code if exc.kind is Kind.INVALID else "invalid"
            raise bad_request(f"operation {i}: {exc}", f"Parameters.parameter[{i}]", code) from None
    return operations


def _operation(parameter: dict[str, Any]) -> Operation:
    if parameter.get("name") != "operation":
        raise PatchError(f"every parameter must be named 'operation', not {parameter.get('name')!r}")
    parts: dict[str, dict[str, Any]] = {}
    for part in parameter.get("part", []):
        if part.get("name") in parts:
            raise PatchError(f"the part {part.get('name')!r} is given twice")
        parts[part.get("name", "")] = part
    kind = _part_value(parts, "type")
    if kind not in OPERATION_TYPES:
        raise PatchError(f"type must be one of {', '.join(sorted(OPERATION_TYPES))}, not {kind!r}")
    required = {"add": ("path", "name", "value"), "insert": ("path", "index", "value"), "delete": ("path",)}
    required |= {"replace": ("path", "value"), "move": ("path", "source", "destination")}
    missing = [name for name in required[kind] if name not in parts]
    if missing:
        raise PatchError(f"a {kind} operation needs the part(s) {', '.join(missing)}")
    check_path(str(_part_value(parts, "path")))
    value, value_type = _typed_value(parts["value"]) if "value" in parts else (None, None)
    value_parts = parts["value"].get("part") if "value" in parts and value_type is None else None
    if "value" in parts and value_type is None and not value_parts:
        raise PatchError("the value part has neither a value[x] nor parts")
    return Operation(
        type=kind,
        path=str(_part_value(parts, "path")),
        name=_part_value(parts, "name"),
        value=value,
        value_type=value_type,
        value_parts=tuple(value_parts) if value_parts else None,
        index=_integer(parts, "index"),
        source=_integer(parts, "source"),
        destination=_integer(parts, "destination"),
    )


def _part_value(parts: dict[str, dict[str, Any]], name: str) -> Any:
    part = parts.get(name)
    if part is None:
        return None
    return next((v for k, v in part.items() if k.startswith("value") and k != "value"), None)


def _integer(parts: dict[str, dict[str, Any]], name: str) -> int | None:
    value = _part_value(parts, name)
    if name in parts and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise PatchError(f"{name} must be a non-negative integer")
    return value if isinstance(value, int) else None


def _typed_value(part: dict[str, Any]) -> tuple[Any, str | None]:
    """The JSON of a part's ``value[x]`` and its type (``valueHumanName`` -> HumanName); (None, None) if none."""
    for key, value in part.items():
        if key.startswith("value") and len(key) > 5:
            return copy.deepcopy(value), key[5:]
    return None, None


def _value_for(operation: Operation, element: Element) -> Any:
    """The JSON the operation puts into ``element``: its value[x], or its parts built into an object."""
    if operation.value_parts is None:
        return operation.value
    return _object(operation.value_parts, element.model)


def _object(parts: tuple[dict[str, Any], ...], model: type[Any] | None) -> dict[str, Any]:
    """A backbone element given as parts, one per child element (a repeating child becomes a list)."""
    result: dict[str, Any] = {}
    for part in parts:
        child = child_element(model, str(part.get("name")))
        value, value_type = _typed_value(part)
        if value_type is None:
            if not part.get("part"):
                raise PatchError(f"the part {part.get('name')!r} has neither a value[x] nor parts")
            value = _object(tuple(part["part"]), child.model)
        key = _key_for(child, value_type)
        if child.repeats:
            result.setdefault(key, []).append(value)
        elif key in result:
            raise PatchError(f"{key} does not repeat but is given twice")
        else:
            result[key] = value
    return result


def _one(resource: dict[str, Any], path: str, purpose: str) -> Node:
    nodes = select(resource, path)
    if len(nodes) != 1:
        raise PatchError(f"the path must select exactly one element to {purpose}; it selects {len(nodes)}")
    return nodes[0]


def _key_for(element: Element, value_type: str | None) -> str:
    """The JSON key of ``element`` for a value of ``value_type`` (``deceased`` + Boolean: deceasedBoolean)."""
    if not element.choice:
        return element.name
    key = f"{element.name}{(value_type or '')[:1].upper()}{(value_type or '')[1:]}"
    if key not in element.keys:
        raise PatchError(f"{element.name} cannot hold a value of type {value_type}")
    return key


def _add(resource: dict[str, Any], operation: Operation) -> None:
    container = _one(resource, operation.path, "add to")
    if not isinstance(container.value, dict):
        raise PatchError("elements can only be added to a complex element")
    element = child_element(container.model, str(operation.name))
    key = _key_for(element, operation.value_type)
    value = _value_for(operation, element)
    if element.repeats:
        container.value.setdefault(key, []).append(value)
    elif any(k in container.value for k in element.keys):
        raise PatchError(f"{operation.name} already has a value (use replace)")
    else:
        container.value[key] = value


def _list_of(resource: dict[str, Any], path: str) -> tuple[list[Any], Element]:
    """The list a path names (``Patient.identifier``, created empty when absent) and its element."""
    segments = path_segments(path)
    member = MEMBER.match(segments[-1])
    if member is None or member.group(2):
        raise PatchError("insert and move need a path to a repeating element, such as Patient.identifier")
    container = _one(resource, ".".join(segments[:-1]) or resource["resourceType"], "insert into")
    element = child_element(container.model, member.group(1))
    if not element.repeats or element.choice or not isinstance(container.value, dict):
        raise PatchError(f"{member.group(1)} is not a repeating element")
    items: list[Any] = container.value.setdefault(element.name, [])
    return items, element


def _insert(resource: dict[str, Any], operation: Operation) -> None:
    items, element = _list_of(resource, operation.path)
    index = operation.index or 0
    if index > len(items):
        raise PatchError(f"index {index} is past the end of the list ({len(items)} elements)")
    items.insert(index, _value_for(operation, element))


def _move(resource: dict[str, Any], operation: Operation) -> None:
    items, _ = _list_of(resource, operation.path)
    source, destination = operation.source or 0, operation.destination or 0
    if source >= len(items) or destination >= len(items):
        raise PatchError(f"source and destination must be below the list's length ({len(items)})")
    items.insert(destination, items.pop(source))


def _delete(resource: dict[str, Any], operation: Operation) -> None:
    nodes = select(resource, operation.path)
    if len(nodes) > 1:
        raise PatchError(f"the path must select at most one element to delete; it selects {len(nodes)}")
    if nodes:
        _remove(nodes[0])


def _remove(node: Node) -> None:
    if node.holder is None or node.key is None:
        raise PatchError("the resource itself cannot be deleted by a patch")
    sibling = node.holder.get(f"_{node.key}")
    if node.index is None:
        node.holder.pop(node.key)
        node.holder.pop(f"_{node.key}", None)
        return
    del node.holder[node.key][node.index]
    if isinstance(sibling, list) and node.index < len(sibling):
        del sibling[node.index]
    if not node.holder[node.key]:
        node.holder.pop(node.key)
        node.holder.pop(f"_{node.key}", None)


def _replace(resource: dict[str, Any], operation: Operation) -> None:
    node = _one(resource, operation.path, "replace")
    if node.holder is None or node.key is None or node.element is None:
        raise PatchError("the resource itself cannot be replaced by a patch; use update")
    key = _key_for(node.element, operation.value_type) if node.element.choice else node.key
    value = _value_for(operation, node.element)
    if node.index is not None:
        node.holder[node.key][node.index] = value
    else:
        node.holder.pop(node.key)
        node.holder[key] = value


_APPLY = {"add": _add, "insert": _insert, "delete": _delete, "replace": _replace, "move": _move}
