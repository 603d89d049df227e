"""Patient access to a Binary (http://hl7.org/fhir/R4/binary.html#security): a Binary is in no compartment of its
own, so a patient (a ``patient/`` scope, or a portal user's own record) reaches one through its ``securityContext``
only: when it names the patient, or a resource in the patient's compartment (typically the DocumentReference whose
attachment the Binary is). As SQL over the reference index, on the server's own ``security-context`` search
parameter (conformance/SearchParameter-Binary-security-context.json): a Binary without a securityContext is beyond
every patient's reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.orm import aliased

from fhir_server.db import ResourceHistory, SearchReference
from fhir_server.db.fhir import same_version

SECURITY_CONTEXT = "security-context"
"""The search parameter indexing ``Binary.securityContext``."""


def security_context_in_compartment(
    h: Any, patient_id: Any, members: Mapping[str, tuple[str, ...]]
) -> ColumnElement[bool]:
    """Version ``h`` of a Binary has a securityContext naming Patient/``patient_id`` (a value or a bind parameter),
    or the current version of a resource in that patient's compartment (``members``: resource type -> the search
    parameters that tie it to a patient, as the Patient CompartmentDefinition lists them)."""
    context, target, member = aliased(SearchReference), aliased(ResourceHistory), aliased(SearchReference)
    member_params = or_(*(and_(member.resource_type == t, member.param.in_(ps)) for t, ps in members.items() if ps))
    in_compartment = exists().where(
        target.resource_type == context.target_type,
        target.resource_id == context.target_id,
        target.superseded_at.is_(None),
        same_version(member, target),
        member.target_type == "Patient",
        member.target_id == patient_id,
        member_params,
    )
    names_patient = and_(context.target_type == "Patient", context.target_id == patient_id)
    return exists().where(
        same_version(context, h), context.param == SECURITY_CONTEXT, or_(names_patient, in_compartment)
    )
