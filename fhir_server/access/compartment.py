"""Patient-compartment membership (http://hl7.org/fhir/R4/compartmentdefinition-patient.html), from the official
CompartmentDefinition: a resource is in Patient/x's compartment when one of its listed search parameters
references Patient/x (the Patient itself is in its own compartment). Used by patient-scoped access
(:mod:`fhir_server.access.predicates`), compartment search and ``$everything``; as SQL over the reference index, it
reads only the database's tables and the served types."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, exists, false, or_, true
from sqlalchemy.orm import aliased

from fhir_server.access.security_context import security_context_in_compartment
from fhir_server.db import SearchReference
from fhir_server.db.fhir import same_version
from fhir_server.paths import project_dir
from mappings.registry import MAPPINGS


@cache
def compartment_params() -> dict[str, tuple[str, ...]]:
    """resource type -> the search parameters that tie it to a patient ({def} for Patient itself)."""
    definition = orjson.loads((project_dir("conformance") / "compartmentdefinition-patient.json").read_bytes())
    return {r["code"]: tuple(r.get("param", ())) for r in definition["resource"]}


def member_types() -> list[str]:
    """The served types that can be in a Patient compartment (the definition lists every type, most with no
    parameter: those never are)."""

    return sorted(t for t, params in compartment_params().items() if t in MAPPINGS and (params or t == "Patient"))


def in_compartment(h: Any, resource_type: str, patient_id: str, base_url: str | None = None) -> ColumnElement[bool]:
    """``h`` (a version of ``resource_type``) belongs to Patient/``patient_id``'s compartment. With ``base_url``
    (the server's public base), an absolute reference of another server ending in ``Patient/<id>`` does not count."""
    clauses = compartment_clauses(h, resource_type, patient_id, base_url)
    return or_(*clauses) if clauses else and_(false())


def compartment_clauses(
    h: Any, resource_type: str, patient_id: str, base_url: str | None = None
) -> list[ColumnElement[bool]]:
    """The ways ``h`` can belong to the compartment, each enough alone (:func:`in_compartment` is their OR): a
    query per clause lets the database find each by its index instead of testing every version of the type."""
    clauses = member_clauses(h, resource_type, lambda column: column == patient_id, base_url)
    if resource_type == "Binary":  # in no compartment itself: reached through its securityContext
        members = {t: tuple(p for p in ps if p != "{def}") for t, ps in compartment_params().items()}
        clauses.insert(0, security_context_in_compartment(h, patient_id, members))
    return clauses


PatientTest = Callable[[Any], ColumnElement[bool]]
"""``test(column)``: the patient id held by ``column`` is one of the patients meant."""


def member_clauses(
    h: Any, resource_type: str, names: PatientTest | None, base_url: str | None = None
) -> list[ColumnElement[bool]]:
    """The ways ``h`` (a version of ``resource_type``) can belong to the compartment of a patient ``names`` accepts
    (None: of any patient), by the CompartmentDefinition's parameters alone (a Binary's securityContext is not one):
    the Patient itself, or a reference of a listed parameter to the patient. With ``base_url``, an absolute
    reference of another server ending in ``Patient/<id>`` does not count."""
    params = [p for p in compartment_params().get(resource_type, ()) if p != "{def}"]
    clauses: list[ColumnElement[bool]] = []
    if resource_type == "Patient":
        clauses.append(true() if names is None else names(h.resource_id))
    if params:
        ref = aliased(SearchReference)
        clauses.append(
            exists().where(
                same_version(ref, h),
                ref.param.in_(params),
                ref.target_type == "Patient",
                true() if names is None else names(ref.target_id),
                true() if base_url is None else or_(ref.url.is_(None), ref.url.startswith(base_url + "/")),
            )
        )
    return clauses
