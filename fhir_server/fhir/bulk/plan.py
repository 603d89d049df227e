"""What one export job exports: its params (as kick-off stored them, see the issue 17 contract) read into a typed
plan, the caller's access rebuilt from the grant as it stands now, and the ``_typeFilter`` queries parsed.

The IG's parameters (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#query-parameters): ``_type`` limits the
types; without it every type the caller may search is exported (at Patient and Group level, the types of the
Patient compartment only: the IG lets a server add referenced resources, this one keeps to the compartment).
``_typeFilter`` holds search queries, each parsed by the normal search parser; several for one type are ORed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.access.bearer import BearerGrant
from fhir_server.access.compartment import member_types
from fhir_server.access.context import OPEN, AccessContext, context_from
from fhir_server.access.patient_context import PORTAL_ROLE
from fhir_server.db import OAuthClient, Patient, User
from fhir_server.errors import Kind, bad_request, fail
from fhir_server.fhir.search.limits import DEFAULT_COUNT, SearchLimits
from fhir_server.fhir.search.params import SearchQuery, parse
from mappings.registry import MAPPINGS

LEVELS = ("system", "patient", "group")


@dataclass(frozen=True)
class ExportPlan:
    """One export: the level, the snapshot instant, ``since`` (None: everything), the types with their filters
    (type -> parsed queries, ORed; absent: no filter), the patients (None: every patient at Patient level, all members
    at Group level), ``elements`` and the caller."""

    level: str
    transaction_time: datetime
    since: datetime | None
    types: list[str]
    filters: dict[str, list[SearchQuery]]
    base_url: str
    access: AccessContext
    group_id: str | None = None
    patients: list[str] | None = None
    elements: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    """Why asked-for types are not exported (written to the error file as informational OperationOutcomes)."""

    @property
    def reads_index(self) -> bool:
        """True when the export tests search index rows (filters, compartments, a patient's or granular scopes),
        which a superseded version keeps only for SNAPSHOT_LIFETIME (fhir_server.fhir.search.indexer); without them
        it reads the version history's own columns alone, which are kept for ever."""
        access = self.access
        confined = access.patient_id is not None or access.role == PORTAL_ROLE
        granular = any(scope.restrictions for scope in access.scopes)
        return bool(self.filters) or self.level != "system" or confined or granular

    def elements_of(self, resource_type: str) -> list[str] | None:
        """The ``_elements`` that apply to ``resource_type``: unprefixed ones and ``Type.element`` of this type (IG:
        "If the resource type is omitted, the element should be returned for all resources"); None (the whole
        resource) when none applies."""
        if not self.elements:
            return None
        mine = [e for e in self.elements if "." not in e or e.split(".", 1)[0] == resource_type]
        return mine or None


def check_type_filters(type_filters: dict[str, list[str]], limits: SearchLimits | None = None) -> None:
    """400 (the usual search errors, naming the parameter) when a ``_typeFilter`` query cannot be parsed as a search
    of its type, or its type is not served; kick-off calls it before queuing the export."""
    _parsed_filters(type_filters, limits or SearchLimits.defaults())


def _parsed_filters(type_filters: dict[str, list[str]], limits: SearchLimits) -> dict[str, list[SearchQuery]]:
    parsed: dict[str, list[SearchQuery]] = {}
    for resource_type, queries in type_filters.items():
        if resource_type not in MAPPINGS:
            raise bad_request(f"_typeFilter: {resource_type!r} is not a resource type of this server", "_typeFilter")
        parsed[resource_type] = [_filter_query(resource_type, q, limits) for q in queries]
    return parsed


def _filter_query(resource_type: str, text: str, limits: SearchLimits) -> SearchQuery:
    query = parse(resource_type, parse_qsl(text, keep_blank_values=True), limits)
    controls = query.includes or query.sort or query.summary or query.elements or query.total or query.cursor
    if controls or query.count != DEFAULT_COUNT or not query.criteria:
        message = f"_typeFilter {resource_type}?{text}: a filter holds search criteria only (no result parameters)"
        raise bad_request(message, "_typeFilter")
    return query


def plan_of(session: Session, params: dict[str, Any], limits: SearchLimits) -> ExportPlan:
    """The plan ``params`` describe, with the caller as the grant stands now (:func:`caller`)."""
    level = params.get("level", "system")
    if level not in LEVELS:
        raise bad_request(f"unknown export level {level!r}")
    access = caller(session, params.get("grant"))
    filters = _parsed_filters(params.get("type_filters") or {}, limits)
    types, notes = _types(access, level, params.get("types"))
    since = params.get("since")
    return ExportPlan(
        level=level,
        transaction_time=datetime.fromisoformat(params["transaction_time"]),
        since=datetime.fromisoformat(since) if since else None,
        types=types,
        filters=filters,
        base_url=params["base_url"],
        access=access,
        group_id=params.get("group_id"),
        patients=params.get("patients"),
        elements=params.get("elements"),
        notes=notes,
    )


def _types(access: AccessContext, level: str, asked: list[str] | None) -> tuple[list[str], list[str]]:
    """The types to export (sorted) and a note for each asked-for type left out."""
    candidates = sorted(MAPPINGS) if level == "system" else member_types()
    if asked is None:
        return [t for t in candidates if access.may(t, "search-type")], []
    notes: list[str] = []
    kept: list[str] = []
    for resource_type in dict.fromkeys(asked):
        if resource_type not in MAPPINGS:
            notes.append(f"{resource_type} is not a resource type this server serves")
        elif resource_type not in candidates:
            notes.append(f"{resource_type} is not in the Patient compartment: a {level}-level export holds none")
        elif not access.may(resource_type, "search-type"):
            notes.append(f"the access token does not permit search-type on {resource_type}")
        else:
            kept.append(resource_type)
    return sorted(kept), notes


def caller(session: Session, grant: dict[str, Any] | None) -> AccessContext:
    """The access context of the grant that started the export, with its user's role, clinic and own patient as they
    are now (a user deactivated or deleted since, or a client revoked, stops the export: 403); None: the open
    context of a server without authorization."""
    if grant is None:
        return OPEN
    user_id = uuid.UUID(grant["user_id"]) if grant.get("user_id") else None
    role, patient = grant.get("role"), grant.get("patient_id")
    client = session.get(OAuthClient, grant["client_id"])
    if client is None or client.revoked_at is not None:
        raise fail(Kind.FORBIDDEN, f"the client {grant['client_id']!r} that started this export is revoked")
    organization = client.organization_id  # a backend service's clinic; a user's is the user's own
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active or user.deleted_at is not None:
            raise fail(Kind.FORBIDDEN, "the user who started this export is no longer active")
        role, organization = user.role, user.organization_id
        if role == PORTAL_ROLE:
            patient = session.scalar(select(Patient.fhir_id).where(Patient.id == user.patient_id))
    fresh = BearerGrant(grant["scope"], grant["client_id"], user_id, role, organization, patient)
    return context_from(fresh)
