"""JSON Merge Patch (RFC 7386, ``application/merge-patch+json``) applied to a resource's JSON: the patch is a JSON
object; each member replaces the resource's member of that name, ``null`` removes it, and an object value is merged
into the member recursively (arrays and other values are replaced whole). fhirpy's ``patch()`` and
``save(fields=...)`` send such a partial resource (as ``application/json``).

Bounded like JSON Patch (:mod:`patch_limits`): every member of the document, at any depth, counts as one operation
(413 past ``max_operations``), and the values it sets are charged to the result's size budget before they are set
(422 ``too-costly``). Errors name the member as a JSON Pointer into the patch document (``/name``).
"""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.errors import bad_request
from fhir_server.fhir.patch_limits import PatchLimits, SizeBudget, encode


def check_merge_patch(document: Any, limits: PatchLimits | None = None) -> None:
    """400 unless ``document`` is a JSON object (a merge patch of a resource); 413 when it holds more members, at
    any depth, than ``limits`` allow operations."""
    if not isinstance(document, dict):
        raise bad_request("a JSON Merge Patch body must be a JSON object (RFC 7386)", code="structure")
    limits = limits or PatchLimits()
    limits.check_count(_members(document, limits.max_operations), None)


def _members(document: dict[str, Any], stop: int) -> int:
    """How many members ``document`` holds at any depth (counting stops a little past ``stop``)."""
    count, pending = 0, [document]
    while pending and count <= stop:
        members = pending.pop()
        count += len(members)
        pending.extend(value for value in members.values() if isinstance(value, dict))
    return count


def apply_merge_patch(
    resource: dict[str, Any], document: dict[str, Any], limits: PatchLimits | None = None
) -> dict[str, Any]:
    """``resource`` with ``document`` merged in (RFC 7386 section 2); 422 naming the member whose value would make
    the result larger than ``limits`` allow (checked before it is set). ``resource`` is not changed."""
    budget = SizeBudget(limits or PatchLimits())
    patched: dict[str, Any] = orjson.loads(budget.add(resource, "the resource"))  # a copy to change, measured
    _merge(patched, document, "", budget)
    encode(patched, "the patched resource")  # 422 when nested deeper than JSON can be stored
    return patched


def _merge(target: dict[str, Any], patch: dict[str, Any], pointer: str, budget: SizeBudget) -> None:
    for name, value in patch.items():
        where = f"{pointer}/{name.replace('~', '~0').replace('/', '~1')}"
        if value is None:
            target.pop(name, None)
        elif isinstance(value, dict):
            current = target.get(name)
            if not isinstance(current, dict):
                current = target[name] = {}
            _merge(current, value, where, budget)
        else:
            budget.add(value, where, where)
            target[name] = value
