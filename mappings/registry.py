"""Every served resource type's mapping, by type name and by table model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mappings.appointment import AppointmentMapping
from mappings.base import ResourceMapping
from mappings.endpoint import EndpointMapping
from mappings.imaging_study import ImagingStudyMapping
from mappings.organization import OrganizationMapping
from mappings.patient import PatientMapping
from mappings.practitioner import PractitionerMapping
from mappings.questionnaire import QuestionnaireMapping
from mappings.questionnaire_response import QuestionnaireResponseMapping

MAPPINGS: dict[str, type[ResourceMapping]] = {
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
BY_MODEL: dict[type[Any], type[ResourceMapping]] = {m.model: m for m in MAPPINGS.values()}
DEPENDENTS: dict[type[Any], Callable[[Any], Any]] = {
    child: parent for m in MAPPINGS.values() for child, parent in m.dependents.items()
}
"""Tables a mapping reads besides its own: child model -> function giving the served parent row."""
