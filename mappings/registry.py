"""Every served resource type's mapping, by type name and by table model.

The clinic's tables back the mapped types (:data:`MAPPED`); every other R4 type is kept in the resource store
(mappings.stored). :data:`MAPPINGS` holds both: a client cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir_server.db.store import StoredResource
from mappings.appointment import AppointmentMapping
from mappings.base import ResourceMapping
from mappings.endpoint import EndpointMapping
from mappings.imaging_study import ImagingStudyMapping
from mappings.organization import OrganizationMapping
from mappings.patient import PatientMapping
from mappings.practitioner import PractitionerMapping
from mappings.questionnaire import QuestionnaireMapping
from mappings.questionnaire_response import QuestionnaireResponseMapping
from mappings.stored import stored_mapping, stored_types

MAPPED: dict[str, type[ResourceMapping]] = {
    m.resource_type: m
    for m in (
        OrganizationMapping,
        PatientMapping,
        PractitionerMapping,
        AppointmentMapping,
        EndpointMapping,
        QuestionnaireMapping,
        QuestionnaireResponseMapping,
        ImagingStudyMapping,
    )
}
"""The types backed by the clinic's own tables."""
MAPPINGS: dict[str, type[ResourceMapping]] = {
    **MAPPED,
    **{t: stored_mapping(t) for t in stored_types(frozenset(MAPPED))},
}
"""Every served type: the mapped ones and the resource store's."""
BY_MODEL: dict[type[Any], type[ResourceMapping]] = {m.model: m for m in MAPPED.values()}
DEPENDENTS: dict[type[Any], Callable[[Any], Any]] = {
    child: parent for m in MAPPED.values() for child, parent in m.dependents.items()
}
"""Tables a mapping reads besides its own: child model -> function giving the served parent row."""


def is_served_row(obj: object) -> bool:
    """True for a row served as a FHIR resource (a mapped table's or the store's)."""
    return type(obj) in BY_MODEL or isinstance(obj, StoredResource)


def mapping_of(row: Any) -> type[ResourceMapping]:
    """The mapping a served row is rendered with."""
    if isinstance(row, StoredResource):
        return MAPPINGS[row.resource_type]
    return BY_MODEL[type(row)]
