"""Read-only FHIR AuditEvent: ``GET /fhir/AuditEvent/{id}`` and ``GET /fhir/AuditEvent?...`` over ``audit_events``
(http://hl7.org/fhir/R4/auditevent.html#search), for users whose role allows reading the audit trail
(:mod:`fhir_server.access.roles`: admin, owner, compliance officer) with a scope granting AuditEvent ``r``/``s``,
within their clinic; never to backend services. Search parameters: ``date`` (with ge/gt/le/lt/eq
prefixes), ``agent`` (Practitioner/Patient reference, user id or client id), ``entity`` (``Type/id``), ``patient``,
``type`` (``rest`` or ``110114``), ``subtype`` (interaction), ``_count`` (newest first; default 20, at most 1000
as for every search: :func:`fhir_server.fhir.search.limits.page_size`; no further pages).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session, aliased
from starlette.responses import Response

from fhir_server.access.context import Access, AccessContext
from fhir_server.access.enforcement import forbidden
from fhir_server.app_context import app_context
from fhir_server.audit.fhir_view import LOGIN_ACTIONS, to_fhir
from fhir_server.db import AuditEvent, Patient, Practitioner, User
from fhir_server.db.types import utcnow
from fhir_server.errors import bad_request, not_found
from fhir_server.fhir import unit_of_work
from fhir_server.fhir.content import FhirResponse, check_accept, is_pretty
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.search.dates import instant_range
from fhir_server.fhir.search.limits import SearchLimits, check, page_size
from fhir_server.fhir.search.params import check_storable
from fhir_server.fhir.types import valid_id
from mappings.base import fhir_instant

router = APIRouter(prefix="/fhir", tags=["AuditEvent"])
SEARCH_PARAMETERS = ("date", "agent", "entity", "patient", "type", "subtype")
_PARAMS = frozenset({*SEARCH_PARAMETERS, "_count", "_format", "_pretty"})


def _require(access: AccessContext, interaction: str) -> None:
    """403 unless the caller is a user whose role and scopes allow ``interaction`` on AuditEvent."""
    if access.open:
        return
    if access.role is None or not access.may("AuditEvent", interaction):
        raise forbidden("AuditEvent", interaction)


def _base(access: AccessContext) -> Any:
    user_practitioner = aliased(Practitioner)
    statement: Any = (
        select(AuditEvent, Patient.fhir_id, user_practitioner.fhir_id)
        .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .outerjoin(user_practitioner, user_practitioner.id == User.practitioner_id)
    )
    if access.organization_id is not None:
        statement = statement.where(AuditEvent.organization_id == access.organization_id)
    return statement


def _render(row: Any, base_url: str) -> dict[str, Any]:
    event, patient, practitioner = row
    return to_fhir(event, patient, f"Practitioner/{practitioner}" if practitioner else None, base_url)


def read_event(session: Session, access: AccessContext, event_id: str, base_url: str) -> dict[str, Any]:
    """One AuditEvent; 404 when unknown or of another clinic."""
    try:
        key = uuid.UUID(event_id)
    except ValueError:
        raise not_found(f"AuditEvent/{event_id} is not known") from None
    row = session.execute(_base(access).where(AuditEvent.id == key)).first()
    if row is None:
        raise not_found(f"AuditEvent/{event_id} is not known")
    return _render(row, base_url)


def search_events(
    session: Session, access: AccessContext, pairs: list[tuple[str, str]], base_url: str, limits: SearchLimits
) -> dict[str, Any]:
    """A searchset Bundle of the matching AuditEvents, newest first; 400 naming a parameter that is not supported,
    holds U+0000, or asks for more than ``limits`` allow (parameters, repeats, ORed values)."""
    check_storable(pairs)
    check([(name, value.split(",")) for name, value in pairs if name in SEARCH_PARAMETERS], [], limits)
    statement, count = _base(access), page_size(None)
    for name, value in pairs:
        if name not in _PARAMS:
            raise bad_request(f"AuditEvent search does not support {name!r}", name, code="not-supported")
        if name == "_count":
            count = page_size(value)
        elif name not in {"_format", "_pretty"}:
            statement = statement.where(_criterion(name, value))
    ordered = statement.order_by(AuditEvent.recorded_at.desc(), AuditEvent.id.desc()).limit(count)
    events = [_render(row, base_url) for row in session.execute(ordered)]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": fhir_instant(utcnow())},
        "type": "searchset",
        "link": [{"relation": "self", "url": f"{base_url}/AuditEvent"}],
        "entry": [
            {"fullUrl": f"{base_url}/AuditEvent/{e['id']}", "resource": e, "search": {"mode": "match"}} for e in events
        ],
    }


def _criterion(name: str, value: str) -> ColumnElement[bool]:
    """The SQL condition of one search parameter (values ORed by commas)."""
    parts = [v for v in value.split(",") if v] if name != "date" else [value]
    if not parts:
        raise bad_request(f"{name} needs a value", name)
    return or_(*(_one(name, part) for part in parts))


def _one(name: str, value: str) -> ColumnElement[bool]:
    if name == "date":
        return _date(value)
    if name == "type":
        code = value.rsplit("|", 1)[-1]
        if code == "rest":
            return AuditEvent.action.not_in(LOGIN_ACTIONS)
        return AuditEvent.action.in_(LOGIN_ACTIONS) if code == "110114" else false()
    if name == "subtype":
        return AuditEvent.action == value.rsplit("|", 1)[-1]
    if name == "patient":
        return AuditEvent.patient_id.in_(select(Patient.id).where(Patient.fhir_id == value.removeprefix("Patient/")))
    if name == "entity":
        resource_type, _, resource_id = value.rpartition("/")
        if not resource_type:
            return AuditEvent.resource_id == resource_id
        return (AuditEvent.resource_type == resource_type) & (AuditEvent.resource_id == resource_id)
    return _agent(value)


def _agent(value: str) -> ColumnElement[bool]:
    if value.startswith("Practitioner/"):
        users = select(User.id).join(Practitioner, Practitioner.id == User.practitioner_id)
        return AuditEvent.user_id.in_(users.where(Practitioner.fhir_id == value.removeprefix("Practitioner/")))
    if value.startswith("Patient/"):
        users = select(User.id).join(Patient, Patient.id == User.patient_id)
        return AuditEvent.user_id.in_(users.where(Patient.fhir_id == value.removeprefix("Patient/")))
    try:
        return or_(AuditEvent.user_id == uuid.UUID(value), AuditEvent.client_id == value)
    except ValueError:
        return AuditEvent.client_id == value


def _date(value: str) -> ColumnElement[bool]:
    prefix = value[:2] if value[:2] in {"eq", "ge", "gt", "le", "lt"} else "eq"
    low, high = instant_range(value[2:] if value[:2] == prefix else value, "date")
    column = AuditEvent.recorded_at
    conditions = {
        "eq": (column >= low) & (column <= high),
        "ge": column >= low,
        "gt": column > high,
        "le": column <= high,
        "lt": column < low,
    }
    return conditions[prefix]


@router.get("/AuditEvent/{resource_id}", summary="read AuditEvent", openapi_extra=declares("read", "AuditEvent"))
async def read_audit_event(resource_id: str, request: Request, access: Access) -> Response:
    check_accept(request)
    valid_id(resource_id)
    _require(access, "read")
    base_url = app_context(request).base_url
    event = await unit_of_work.read(request, read_event, access, resource_id, base_url)
    return FhirResponse(event, pretty=is_pretty(request))


_SEARCHES = declares("search-type", "AuditEvent", SEARCH_PARAMETERS)


@router.get("/AuditEvent", summary="search AuditEvent", openapi_extra=_SEARCHES)
async def search_audit_events(request: Request, access: Access) -> Response:
    check_accept(request)
    _require(access, "search-type")
    ctx = app_context(request)
    pairs = request.query_params.multi_items()
    limits = SearchLimits.of(ctx.settings)
    bundle = await unit_of_work.read(request, search_events, access, pairs, ctx.base_url, limits)
    return FhirResponse(bundle, pretty=is_pretty(request))
