"""The bounds on one patch's work: how many operations it may hold and how large its result may grow.

A patch is computed in memory from a client's document; without bounds a 1 KB JSON Patch of ``copy`` operations
doubles the resource with each operation. The result's size is tracked as an upper bound, never by serialising
the whole resource after each operation: the stored resource's size plus what each operation adds (the JSON of an
``add``/``replace``/``insert`` value, of the element a ``copy`` duplicates). Removals are not credited. Measuring
an added value costs no more than the bytes it adds, so the whole computation is bounded by the limit itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server.errors import FhirError

DEFAULT_MAX_OPERATIONS = 1000
DEFAULT_MAX_RESOURCE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class PatchLimits:
    """``max_operations`` per patch document; ``max_resource_bytes`` of the patched resource's JSON."""

    max_operations: int = DEFAULT_MAX_OPERATIONS
    max_resource_bytes: int = DEFAULT_MAX_RESOURCE_BYTES

    @classmethod
    def of(cls, settings: Any) -> PatchLimits:
        """The limits the server's settings set (``patch_max_operations``, ``patch_max_resource_bytes``)."""
        return cls(settings.patch_max_operations, settings.patch_max_resource_bytes)

    def check_count(self, count: int, expression: str | None) -> None:
        """413 ``too-costly`` when a patch document holds more than ``max_operations`` operations."""
        if count > self.max_operations:
            raise FhirError.of(
                413,
                "too-costly",
                f"the patch holds {count} operations; at most {self.max_operations} are allowed "
                "(FHIR_SERVER_PATCH_MAX_OPERATIONS)",
                expression,
            )


class SizeBudget:
    """An upper bound of a resource's JSON size while a patch is applied to it; 422 ``too-costly`` past the
    limit, before the operation that would cross it runs."""

    def __init__(self, limits: PatchLimits) -> None:
        self.limit = limits.max_resource_bytes
        self.size = 0

    def add(self, value: Any, where: str, expression: str | None = None) -> bytes:
        """Count the JSON of ``value`` (plus a key's worth of overhead) as added by the operation ``where``;
        that JSON."""
        encoded = encode(value, where, expression)
        self.size += len(encoded) + 8
        if self.size > self.limit:
            raise FhirError.of(
                422,
                "too-costly",
                f"{where}: the patched resource would exceed {self.limit} bytes (FHIR_SERVER_PATCH_MAX_RESOURCE_BYTES)",
                expression,
            )
        return encoded


def encode(value: Any, where: str, expression: str | None = None) -> bytes:
    """``value``'s JSON; 422 when it cannot be written as JSON (nested too deeply)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        raise FhirError.of(422, "too-costly", f"{where}: the result is nested too deeply", expression) from None
