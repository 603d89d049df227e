"""The caller's access as SQL: the predicate every version a read, search or history touches must meet.

A rule ``rule(h, resource_type)`` gets an aliased ``resource_history`` and the type it holds; a version passes when
one scope permitting the interaction on the type admits it: ``system/``/``user/`` scopes within the clinic (a portal
user only in their own compartment), ``patient/`` scopes within the patient's compartment
(:mod:`fhir_server.access.compartment`), except that reading (``r``, ``s``) a type that holds no patient's data
(:mod:`fhir_server.access.patient_data`: Practitioner, Organization, Location, Medication, ...) is confined to the
clinic only, for a ``patient/`` scope and a portal user alike; granular ``?param=value`` restrictions of a scope
must match the version's token index. Built here from the caller's context and the database's tables alone, so the
FHIR layer asks once and applies the answer inside its own query (never filtering results afterwards).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, true
from sqlalchemy.orm import aliased

from fhir_server.access.compartment import in_compartment
from fhir_server.access.patient_data import holds_no_patient_data
from fhir_server.access.scopes import Scope, permission_for
from fhir_server.db import SearchToken
from fhir_server.db.fhir import same_version
from mappings.registry import MAPPINGS

if TYPE_CHECKING:
    from fhir_server.access.context import AccessContext

SearchRule = Callable[[Any, str], ColumnElement[bool] | None]
"""``rule(h, resource_type)``: the condition on version ``h`` of ``resource_type`` (None: no condition)."""

PATIENT_PARAM = "access_patient"
CLINIC_PARAM = "access_clinic"


def restriction(access: AccessContext, interaction: str, patient: Any, clinic: Any) -> SearchRule | None:
    """The rule of ``access`` for ``interaction`` (None: no rule), with ``patient`` and ``clinic`` standing for the
    patient in context and the token's clinic (their values, or bind parameters standing for them)."""
    if access.open:
        return None if access.organization_id is None else _clinic_only(clinic)
    return lambda h, resource_type: _rule(access, h, resource_type, interaction, patient, clinic)


def _rule(
    access: AccessContext, h: Any, resource_type: str, interaction: str, patient: Any, clinic: Any
) -> ColumnElement[bool]:
    scopes = access.scopes_allowing(resource_type, interaction)
    ordered = sorted(scopes, key=_scope_order)
    clauses = [_scope_rule(access, h, resource_type, s, patient, interaction) for s in ordered]
    usable = [c for c in clauses if c is not None]
    if not usable:
        return and_(false())
    in_clinic = _in_clinic(h, resource_type, clinic) if access.organization_id is not None else true()
    return and_(in_clinic, or_(*usable))


def _scope_rule(
    access: AccessContext, h: Any, resource_type: str, scope: Scope, patient: Any, interaction: str
) -> ColumnElement[bool] | None:
    """``patient`` is the patient in context (its value, or a bind parameter standing for it)."""
    confine_to_patient = scope.context == "patient" or (scope.context == "user" and access.role == "patient")
    if confine_to_patient and access.patient_id is None:
        return None
    if confine_to_patient and _reads_beyond_compartment(resource_type, interaction):
        if access.organization_id is None:
            return None  # only within the token's clinic: a token bound to none reads nothing beyond the compartment
        confine_to_patient = False
    rule: ColumnElement[bool] = (
        in_compartment(h, resource_type, patient) if confine_to_patient and access.patient_id else true()
    )
    restrictions = [_token_matches(h, name, value) for name, value in scope.restrictions]
    return and_(rule, *restrictions) if restrictions else rule


def _reads_beyond_compartment(resource_type: str, interaction: str) -> bool:
    """True when ``interaction`` reads (``r`` or ``s``) a type holding no patient's data: a caller confined to a
    patient reaches it within the clinic (writes stay confined to the compartment)."""
    return permission_for(interaction) in {"r", "s"} and holds_no_patient_data(resource_type)


def _scope_order(scope: Scope) -> tuple[str, str, tuple[tuple[str, str], ...], str]:
    """A fixed order of scopes, so equal scope sets make equal SQL."""
    return scope.context, scope.resource_type, scope.restrictions, scope.text


def _clinic_only(clinic: Any) -> SearchRule:
    return lambda h, resource_type: _in_clinic(h, resource_type, clinic)


def _in_clinic(h: Any, resource_type: str, clinic: Any) -> ColumnElement[bool]:
    """Version ``h`` belongs to ``clinic`` (its id, or a bind parameter standing for it): its row's clinic (a
    clinic's own Organization is its own clinic) or (a shared mapping's row, e.g. a Questionnaire, which serves every
    clinic) no clinic at all."""
    own: ColumnElement[bool] = h.organization_id == clinic
    if resource_type in MAPPINGS and MAPPINGS[resource_type].shared:
        return or_(own, h.organization_id.is_(None))
    return own


def _token_matches(h: Any, param: str, value: str) -> ColumnElement[bool]:
    """A granular scope restriction ``param=value`` (a token: ``system|code`` or ``code``) on version ``h``."""
    token = aliased(SearchToken)
    system, bar, code = value.rpartition("|")
    match = [token.code == code] + ([token.system == system] if bar and system else [])
    return exists().where(
        same_version(token, h),
        token.param == param,
        *match,
    )
