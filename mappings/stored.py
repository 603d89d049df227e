"""The types of the resource store (fhir_server.db.store): every R4 resource type the clinic's tables do not hold.

Each gets a mapping with no fields, so the mapping contract holds trivially: the stored JSON is the resource, and
the write pipeline versions and indexes it exactly as it does a mapped type's rows. The types are those the
official Patient CompartmentDefinition names (it lists every R4 resource type but ``Parameters``, which is never
stored), less the mapped ones and those the server publishes from elsewhere.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from sqlalchemy import Select

from fhir_server.db.store import StoredResource
from fhir_server.paths import project_dir
from mappings.base import ResourceMapping

NOT_STORED = frozenset({"AuditEvent", "ConceptMap", "StructureDefinition", "OperationDefinition"})
"""Types served from elsewhere: the audit log (fhir_server.audit) and the definitions the server publishes."""


class StoredMapping(ResourceMapping):
    """The mapping of one stored type: ``resource_type`` is set by :func:`stored_mapping`."""

    model = StoredResource
    fields = ()
    stored = True

    @classmethod
    def select_rows(cls) -> Select[Any]:
        return super().select_rows().where(StoredResource.resource_type == cls.resource_type)

    @classmethod
    def new_row(cls) -> Any:
        return StoredResource(resource_type=cls.resource_type)


def stored_mapping(resource_type: str) -> type[ResourceMapping]:
    """The mapping of ``resource_type`` in the resource store."""
    return type(f"{resource_type}StoredMapping", (StoredMapping,), {"resource_type": resource_type})


@cache
def r4_resource_types() -> tuple[str, ...]:
    """Every R4 resource type that can be stored (the CompartmentDefinition's list, sorted)."""
    definition = orjson.loads((project_dir("conformance") / "compartmentdefinition-patient.json").read_bytes())
    return tuple(sorted(entry["code"] for entry in definition["resource"]))


def stored_types(mapped: frozenset[str]) -> list[str]:
    """The R4 types the store holds: all but the ``mapped`` ones and :data:`NOT_STORED`."""
    return [t for t in r4_resource_types() if t not in mapped and t not in NOT_STORED]
