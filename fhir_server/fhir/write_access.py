"""What a write may say and touch, beyond the type-level scope check (SMART App Launch 2.x,
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html). Run by the repository for every write
(create, update, patch, conditional forms, batch and transaction entries alike).

* **Patient references in a patient context.** When every scope permitting the write confines the caller to their
  patient (``patient/`` scopes, or ``user/`` scopes of a patient-role user), every reference of the written resource
  to a Patient of this server, at any depth, must name one of the caller's patients (:func:`allowed_patients`), and
  a Reference typed ``Patient`` must be literal (an identifier or display alone could stand for anyone). Else 403
  ``forbidden`` naming the Reference element. The check reads only the resource, never the database, so the answer
  is the same whether the other patient exists or not.
* **Patient data referenced in a patient context.** A reference to a resource of a type that can sit in a Patient
  compartment (an Appointment, a QuestionnaireResponse, ...) must name one the caller may read: the same SQL rule
  as reads. One the caller may not read is reported exactly as an unknown one (422 ``not-found`` naming the
  element, :func:`fhir_server.fhir.references.missing`), so a write cannot probe for it. Types outside the
  compartment (Practitioner, Organization, Questionnaire, Endpoint) hold no patient's data; the clinic rule of
  :mod:`fhir_server.fhir.references` confines them.
* **Shared rows.** A row of a shared mapping that belongs to no clinic (a Questionnaire every clinic uses) is
  read-only to a clinic-bound token: update, patch and delete answer 403 (the caller can read the row, so the
  refusal reveals nothing).

Rows beyond the caller's reach are the repository's: an update, patch or delete of a resource the caller may not even
read answers exactly as for an unknown id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from fhir_server.access.compartment import member_types
from fhir_server.access.context import AccessContext
from fhir_server.access.enforcement import confined_to_patient, forbidden
from fhir_server.db import ResourceHistory
from fhir_server.errors import Issue, Kind, fail, fail_all
from fhir_server.fhir.references import Resolved, Target, classify, missing, reference_elements
from fhir_server.fhir.search.indexer import flush_index
from mappings.registry import MAPPINGS


def allowed_patients(access: AccessContext) -> frozenset[str]:
    """The patients a caller confined to a patient context may write about: the patient in context."""
    return frozenset({access.patient_id}) if access.patient_id else frozenset()


def check_patient_references(
    access: AccessContext, resource: Mapping[str, Any], interaction: str, base_url: str | None
) -> None:
    """403 naming every Reference of ``resource`` to another Patient than the caller's, when ``interaction`` on the
    resource's type confines the caller to their patient (see the module's rules; absolute references on
    ``base_url`` are this server's). Reads no row."""
    resource_type = str(resource["resourceType"])
    if not confined_to_patient(access, resource_type, interaction):
        return
    allowed = allowed_patients(access)
    issues = [
        _foreign_patient(expression, interaction)
        for expression, value in reference_elements(resource)
        if not _names_allowed_patient(value, allowed, base_url)
    ]
    if issues:
        refusal = forbidden(resource_type, interaction)
        raise fail_all(Kind.FORBIDDEN, issues, refusal.headers)


def _names_allowed_patient(value: dict[str, Any], allowed: frozenset[str], base_url: str | None) -> bool:
    """False when the Reference ``value`` names a Patient of this server outside ``allowed``, or is typed Patient
    without naming one (an identifier or display alone could stand for any patient)."""
    reference = value.get("reference")
    if not isinstance(reference, str):
        return value.get("type") != "Patient"
    target = classify("", reference, frozenset(), base_url)
    return not isinstance(target, Target) or target.resource_type != "Patient" or target.resource_id in allowed


def _foreign_patient(expression: str, interaction: str) -> Issue:
    text = f"{expression}: in a patient context a {interaction} may only reference the patient in context"
    return Issue("forbidden", text, (expression,))


def check_readable_targets(
    session: Session, access: AccessContext, resource_type: str, resolved: list[Resolved], interaction: str
) -> None:
    """422 ``not-found`` (as for an unknown target) naming each reference to patient data the caller may not read,
    when ``interaction`` on ``resource_type`` confines the caller to their patient."""
    if not resolved or not confined_to_patient(access, resource_type, interaction):
        return
    members = set(member_types()) - {"Patient"}  # Patient references: check_patient_references
    targets = [r.target for r in resolved if r.target.resource_type in members]
    readable = _readable(session, access, targets)
    issues = [missing(t) for t in targets if (t.resource_type, t.resource_id) not in readable]
    if issues:
        raise fail_all(Kind.UNPROCESSABLE, issues)


def _readable(session: Session, access: AccessContext, targets: list[Target]) -> set[tuple[str, str]]:
    """(type, id) of the ``targets`` whose current version the caller may read: one query per type."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for target in targets:
        by_type[target.resource_type].add(target.resource_id)
    return {(t, i) for t, ids in by_type.items() for i in reachable(session, access, t, ids, "read")}


def reachable(session: Session, access: AccessContext, resource_type: str, ids: set[str], interaction: str) -> set[str]:
    """The ``ids`` of ``resource_type`` whose current version lies within what the caller may ``interaction``
    (the SQL rule of reads, on the version's index rows, this transaction's included): one query."""
    rule = access.search_restriction(interaction)
    if rule is None:
        return set(ids)
    flush_index(session)  # the rule reads the index rows of versions this transaction wrote
    h = aliased(ResourceHistory)
    clause = rule(h, resource_type)
    query = select(h.resource_id).where(
        h.resource_type == resource_type,
        h.resource_id.in_(sorted(ids)),
        h.superseded_at.is_(None),
        *([clause] if clause is not None else []),
    )
    return set(session.scalars(query))


def check_shared_row(access: AccessContext, resource_type: str, row: Any, interaction: str) -> None:
    """403 when a clinic-bound caller would change a shared mapping's row that belongs to no clinic."""
    shared = MAPPINGS[resource_type].shared and getattr(row, "organization_id", None) is None
    if shared and access.organization_id is not None:
        text = f"{resource_type}/{row.fhir_id} is shared by every clinic: read-only to a clinic's access token"
        refusal = forbidden(resource_type, interaction, row.fhir_id)
        raise fail(Kind.FORBIDDEN, text, resource_type, headers=refusal.headers)
