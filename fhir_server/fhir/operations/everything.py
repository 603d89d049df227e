"""$everything: ``GET [base]/Patient/[id]/$everything`` (http://hl7.org/fhir/R4/patient-operation-everything.html).

The record is the Patient and every resource of its compartment (fhir_server.access.compartment), of every served
type (the resource store's too), then the resources of non-compartment types they reference (Practitioner,
Organization, Medication, Location, Binary...: "any resource referenced from those", which never brings in another
patient's data) as included entries. The whole record is keyset-paged over the snapshot of the first page like any
search, in the order (part, type, id): each resource appears once on one page, however many members on however many
pages refer to it. Referenced resources the token may not search are left out, said in an OperationOutcome entry
(:mod:`fhir_server.fhir.search.withheld`). ``_type`` narrows the types, ``_since`` keeps versions changed since an
instant, ``_count`` sizes the page. ``start``/``end`` (care dates) are not supported: 400 names them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from sqlalchemy import Select, and_, or_, select, tuple_, union
from sqlalchemy.orm import Session, aliased
from starlette.responses import Response

from fhir_server.access.compartment import compartment_params, member_types
from fhir_server.access.context import AccessContext
from fhir_server.db import ResourceHistory, SearchReference
from fhir_server.db.fhir import same_version
from fhir_server.db.types import utcnow
from fhir_server.errors import Issue, bad_request
from fhir_server.fhir import cursors, repository, unit_of_work
from fhir_server.fhir.binary_content import expanded
from fhir_server.fhir.content import FhirResponse, check_accept, is_pretty
from fhir_server.fhir.operations.everything_referenced import first_versions, referenced_page
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.search.bundle import link, searchset
from fhir_server.fhir.search.dates import date_range
from fhir_server.fhir.search.limits import count_notes, page_size
from fhir_server.fhir.search.params import Include, SearchQuery
from fhir_server.fhir.search.sql import Scope, visible
from fhir_server.fhir.search.withheld import withheld
from fhir_server.fhir.types import valid_id
from fhir_server.request_context import Context

router = APIRouter()
Keys = Select[str, str, int]  # (resource_type, resource_id, version_id) of versions
_ALLOWED = {"_type", "_since", "_count", "_cursor", "_format", "_pretty"}


def _options(pairs: list[tuple[str, str]]) -> tuple[list[str], datetime | None, int, list[Issue]]:
    """The types, ``_since`` and page size the parameters ask for, and the notes to say about them (a capped
    ``_count``); 400 naming a parameter that is not supported or not valid."""
    types, since, count, notes = member_types(), None, page_size(None), []
    for name, value in pairs:
        if name not in _ALLOWED:
            raise bad_request(f"$everything does not support the parameter {name!r}", name, code="not-supported")
        if name == "_type":
            types = [t for t in value.split(",") if t]
            unknown = [t for t in types if t not in member_types()]
            if unknown:
                raise bad_request(f"_type: {', '.join(unknown)} not in the Patient compartment here", "_type")
        elif name == "_since":
            try:
                since = date_range(value)[0]
            except ValueError:
                raise bad_request(f"_since: {value!r} is not an instant", "_since") from None
        elif name == "_count":
            count = page_size(value)
            notes = count_notes(value)
            if count == 0:
                raise bad_request("_count must be at least 1 for $everything", "_count")
    return types, since, count, notes


def everything(
    session: Session, access: AccessContext, patient_id: str, pairs: list[tuple[str, str]], base_url: str, key: bytes
) -> dict[str, Any]:
    repository.read(session, access, "Patient", patient_id)  # 404/410 for an unknown or deleted patient
    types, since, count, notes = _options(pairs)
    canonical = [(n, v) for n, v in pairs if n in {"_type", "_since", "_count"}]
    digest = hashlib.sha256(orjson.dumps([patient_id, canonical])).hexdigest()[:16]
    token = dict(pairs).get("_cursor")
    state = cursors.decode(key, token, "_cursor") if token else None
    if state is not None and state.get("q") != digest:
        raise bad_request("_cursor belongs to another request; follow the Bundle's links unchanged", "_cursor")
    as_of = datetime.fromisoformat(state["as_of"]) if state else utcnow()
    scope = Scope(as_of=as_of, base_url=base_url, restrict=access.search_restriction())
    record = Record(session, scope, patient_id, types, since)
    page, extra, following = record.page(state, count)
    query = SearchQuery("Patient", count=count, canonical=canonical, includes=[Include("*", "*", None, False, False)])
    url = f"{base_url}/Patient/{patient_id}/$everything"
    links = {"self": link(url, canonical, token), "first": link(url, canonical)}
    if following is not None:
        state = {"as_of": as_of.isoformat(), **following, "q": digest}
        links["next"] = link(url, canonical, cursors.encode(key, state))
    left_out = withheld(session, access, query, base_url, page, extra, quote=False, count_missing=False)
    return searchset(base_url, query, page, extra, None, links, [*notes, *left_out])


@dataclass(frozen=True)
class Record:
    """A patient's record at a snapshot: its members (the compartment, :func:`_page`), then the resources of other
    types they reference (:mod:`.everything_referenced`), each once, in one keyset order: (part, type, id)."""

    session: Session
    scope: Scope
    patient_id: str
    types: list[str]
    since: datetime | None

    def page(
        self, state: dict[str, Any] | None, count: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any] | None]:
        """The members and referenced resources of the page after ``state`` (None: the first), and the cursor state
        of the next page (None: this is the last)."""
        part = state.get("part", "members") if state else "members"
        after = tuple(state["after"]) if state and state.get("after") else None
        members: list[dict[str, Any]] = []
        if part == "members":
            rows = _page(self.session, self.scope, self.patient_id, self.types, self.since, after, count + 1)
            members = rows[:count]
            if len(rows) > count:
                return members, [], {"part": "members", "after": _key(members[-1])}
            after = None
        room = count - len(members)
        parts = self._member_keys()
        found = []
        if parts:
            keys = union(*parts).subquery()
            found = referenced_page(self.session, self.scope, keys, set(member_types()), after, room + 1)
        referenced = found[:room]
        if len(found) <= room:
            return members, referenced, None
        last = _key(referenced[-1]) if referenced else after
        return members, referenced, {"part": "referenced", "after": last}

    def _member_keys(self) -> list[Keys]:
        parts = _member_parts(self.scope, self.patient_id, self.types)
        return [part if self.since is None else part.where(h.last_updated >= self.since) for h, part in parts]


def _key(resource: dict[str, Any]) -> list[str]:
    return [resource["resourceType"], resource["id"]]


def _page(
    session: Session,
    scope: Scope,
    patient_id: str,
    types: list[str],
    since: datetime | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The first ``limit`` members in (type, id) order after ``after``: the Patient itself (by id) and the versions
    whose compartment references name it (found through the reference index by their target), never a scan of a
    type's versions."""
    parts = [_first(h, part, since, after, limit) for h, part in _member_parts(scope, patient_id, types)]
    return first_versions(session, parts, limit)


def _member_parts(scope: Scope, patient_id: str, types: list[str]) -> list[tuple[Any, Keys]]:
    """(version alias, query of member version keys): membership as fhir_server.access.compartment defines it."""
    parts: list[tuple[Any, Keys]] = []
    if "Patient" in types:
        h = aliased(ResourceHistory)
        by_id = select(h.resource_type, h.resource_id, h.version_id).where(
            visible(h, "Patient", scope), h.resource_id == patient_id
        )
        parts.append((h, by_id))
    params = {t: [p for p in compartment_params().get(t, ()) if p != "{def}"] for t in types}
    referring = {t: p for t, p in params.items() if p}
    if referring:
        h, ref = aliased(ResourceHistory), aliased(SearchReference)
        on_version = same_version(ref, h)
        by_reference = (
            select(h.resource_type, h.resource_id, h.version_id)
            .join(ref, on_version)
            .where(
                ref.target_type == "Patient",
                ref.target_id == patient_id,
                or_(*(and_(ref.param.in_(p), visible(h, t, scope)) for t, p in referring.items())),
            )
        )
        parts.append((h, by_reference))
    return parts


def _first(h: Any, part: Keys, since: datetime | None, after: tuple[str, str] | None, limit: int) -> Keys:
    """The first ``limit`` distinct keys of ``part`` in (type, id) order after ``after``: a page of a patient with
    thousands of resources reads a page's worth of the reference index, not all of them."""
    if since is not None:
        part = part.where(h.last_updated >= since)
    if after is not None:
        part = part.where(tuple_(h.resource_type, h.resource_id) > tuple_(*after))
    first = part.distinct().order_by(h.resource_type, h.resource_id, h.version_id).limit(limit).subquery()
    return select(first.c.resource_type, first.c.resource_id, first.c.version_id)


@router.get("/Patient/{patient_id}/$everything", summary="$everything", openapi_extra=declares("$everything"))
async def patient_everything(patient_id: str, request: Request, ctx: Context) -> Response:
    check_accept(request)
    valid_id(patient_id)
    pairs = request.query_params.multi_items()
    bundle = await unit_of_work.read(request, everything, ctx.access, patient_id, pairs, ctx.base_url, ctx.cursor_key)
    bundle = await expanded(ctx.database, bundle)  # a Binary's content as data
    return FhirResponse(bundle, pretty=is_pretty(request))
