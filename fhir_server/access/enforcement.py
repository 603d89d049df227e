"""Enforcing a token's scopes and context on FHIR interactions (SMART App Launch 2.x,
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).

Two checks, used by the repository, search, history and operations so every path passes them:

* :func:`require` is the type-level check: the caller holds a scope granting the interaction's letter on the type,
  else 403 ``forbidden`` (RFC 6750 ``insufficient_scope``).
* :func:`admits` is the row-level check: a stored version meets :meth:`AccessContext.search_restriction` for the
  interaction (clinic, patient compartment, granular ``?param=value`` restrictions). Reads answer 404 for a version
  that fails it (as if unknown); so do writes of a resource the caller may not read (the repository), while a
  resource the caller may read but not change answers 403.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.orm import Session, aliased

from fhir_server.access.context import AccessContext
from fhir_server.db import ResourceHistory
from fhir_server.errors import FhirError, Issue, not_found


def forbidden(resource_type: str, interaction: str, resource_id: str | None = None) -> FhirError:
    """403 with an OperationOutcome (code ``forbidden``, expression the type) and the RFC 6750 ``insufficient_scope``
    challenge; with ``resource_id`` the instance lies beyond the token's patient compartment, clinic or restrictions."""
    if resource_id is None:
        text = f"the access token does not permit {interaction} on {resource_type}"
    else:
        text = f"{resource_type}/{resource_id} is beyond what the access token permits to {interaction}"
    issue = Issue("forbidden", text, (resource_type,))
    return FhirError(
        403, [issue], {"WWW-Authenticate": f'Bearer error="insufficient_scope", error_description="{text}"'}
    )


def require(access: AccessContext, resource_type: str, interaction: str) -> None:
    """403 unless a granted scope permits ``interaction`` on ``resource_type``."""
    if not access.may(resource_type, interaction):
        raise forbidden(resource_type, interaction)


def admits(session: Session, access: AccessContext, version: ResourceHistory, interaction: str) -> bool:
    """True when the stored ``version`` lies within what the caller may reach for ``interaction``.

    A deletion carries no index rows: the version before it stands for the resource.
    """
    rule = access.search_restriction(interaction)
    if rule is None:
        return True
    version_id = version.version_id
    if version.resource is None and version_id > 1:
        version_id -= 1
    h = aliased(ResourceHistory)
    statement = select(
        exists().where(
            h.resource_type == version.resource_type,
            h.resource_id == version.resource_id,
            h.version_id == version_id,
            _or_true(rule(h, version.resource_type)),
        )
    )
    return bool(session.scalar(statement))


def history_rule(access: AccessContext, resource_type: str | None, types: list[str], interaction: str) -> Any:
    """The condition on ``ResourceHistory`` a history listing must meet (None: no condition).

    For system history (``resource_type`` None) each of ``types`` brings its own rule.
    """
    rule = access.search_restriction(interaction)
    if rule is None:
        return None
    if resource_type is not None:
        return _or_true(rule(ResourceHistory, resource_type))
    clauses: list[ColumnElement[bool]] = [
        and_(ResourceHistory.resource_type == t, _or_true(rule(ResourceHistory, t)))
        for t in types
        if access.may(t, interaction)
    ]
    return or_(*clauses) if clauses else ResourceHistory.id.is_(None)


def confined_to_patient(access: AccessContext, resource_type: str, interaction: str) -> bool:
    """True when every scope permitting ``interaction`` on the type confines the caller to their patient."""
    allowing = access.scopes_allowing(resource_type, interaction)
    return not access.open and all(
        s.context == "patient" or (s.context == "user" and access.role == "patient") for s in allowing
    )


def check_search(access: AccessContext, resource_type: str, compartment: str | None = None) -> None:
    """403 without ``s`` on the type; 404 for a compartment search of another patient than the one in context
    (http://hl7.org/fhir/R4/compartmentdefinition.html: it would otherwise answer an empty Bundle)."""
    require(access, resource_type, "search-type")
    confined = compartment is not None and confined_to_patient(access, resource_type, "search-type")
    if confined and compartment != access.patient_id:
        raise not_found(f"Patient/{compartment} is not known")


def require_any(access: AccessContext, resource_types: list[str], interaction: str) -> None:
    """403 unless the token permits ``interaction`` on at least one of ``resource_types`` (system-level
    interactions: an empty answer must not stand for a refusal)."""
    if not any(access.may(t, interaction) for t in resource_types):
        raise forbidden("*", interaction)


def require_validate(access: AccessContext, resource_type: str, mode: str | None) -> None:
    """``$validate`` (http://hl7.org/fhir/R4/resource-operation-validate.html) needs the permission of the write it
    tries: ``d`` for mode delete, ``c`` for create, ``u`` for update, ``c`` or ``u`` when no mode is given."""
    wanted = {"delete": ["delete"], "create": ["create"], "update": ["update"]}.get(mode or "", ["create", "update"])
    if not any(access.may(resource_type, interaction) for interaction in wanted):
        raise forbidden(resource_type, " or ".join(wanted))


def _or_true(clause: ColumnElement[bool] | None) -> ColumnElement[bool]:
    return true() if clause is None else clause
