"""Batch and transaction processing (http://hl7.org/fhir/R4/http.html#transaction).

A transaction runs in one database transaction, in the order the specification sets (DELETE, POST, PUT/PATCH,
GET), after giving every created resource its id and rewriting the references to it (``urn:uuid:`` fullUrls,
conditional references ``Type?query``); creates go in dependency order so each reference meets an existing target.
A batch runs each entry on its own, in its own transaction (the router's job), through the same function.

Plain creates are staged (mapped onto rows, one after the other) and then recorded together, for every caller:
their versions in one step, their search index rows in the next, then each one's reach check with those rows in
place (:func:`_record_staged`; a create beyond the caller's reach fails the whole transaction, naming its entry).
The other entries run one by one through the repository, each recording its own version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.access.enforcement import confined_to_patient, forbidden
from fhir_server.db.mrn import expect_patients
from fhir_server.errors import FhirError, Issue, Kind, bad_request, fail_all, not_found
from fhir_server.fhir import conditional, patching, pipeline, repository
from fhir_server.fhir.bundle_entries import METHOD_ORDER, Entry
from fhir_server.fhir.outcomes import informational, operation_outcome
from fhir_server.fhir.search import params
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.search.service import search
from fhir_server.fhir.versioning import recorded_resource
from mappings.registry import MAPPINGS


@dataclass(frozen=True)
class BundleContext:
    base_url: str
    cursor_key: bytes
    search_limits: SearchLimits
    prefer_return: str = "representation"


def process(session: Session, access: AccessContext, entries: list[Entry], ctx: BundleContext) -> list[dict[str, Any]]:
    """The response entries (in Bundle order) of ``entries`` run as one unit; FhirError names the failing entry."""
    _assign_ids(session, access, entries, ctx)
    _check_distinct_targets(entries)
    assigned = {e.full_url: f"{e.resource_type}/{e.resource_id}" for e in entries if e.full_url and e.resource_id}
    for entry in entries:
        if entry.resource is not None:
            entry.resource = _rewrite(session, access, entry, entry.resource, assigned, ctx)
    responses: dict[int, dict[str, Any]] = {}
    staged: list[Entry] = []
    expect_patients(session, sum(1 for e in entries if e.resource_type == "Patient" and _stageable(e)))
    for entry in _in_order(entries, assigned):
        if staged and (not _stageable(entry) or _reads_staged(access, entry, staged)):
            _record_staged(session, access, staged, responses, ctx)  # what follows reads the versions staged so far
        try:
            if _stageable(entry):
                _stage(session, access, entry, ctx.base_url)
                staged.append(entry)
            else:
                responses[entry.index] = _execute(session, access, entry, ctx)
        except FhirError as exc:
            raise entry.located(exc) from None
    _record_staged(session, access, staged, responses, ctx)
    return [responses[i] for i in sorted(responses)]


def _stageable(entry: Entry) -> bool:
    """A plain create: staged, and recorded with the others."""
    return entry.method == "POST" and not entry.existing


def _reads_staged(access: AccessContext, entry: Entry, staged: list[Entry]) -> bool:
    """True when a create by a caller confined to their patient references a staged create: the check that the
    caller may read what it references (fhir_server.fhir.write_access) reads the target's recorded version."""
    if not confined_to_patient(access, entry.resource_type, "create"):
        return False
    names = {f"{e.resource_type}/{e.resource_id}" for e in staged}
    return any(reference in names for reference in _references(entry.resource))


def _record_staged(
    session: Session,
    access: AccessContext,
    staged: list[Entry],
    responses: dict[int, dict[str, Any]],
    ctx: BundleContext,
) -> None:
    """Record the staged creates together (version, then index), check their reach together (a create beyond it
    fails the transaction, naming its entry), and answer each."""
    if not staged:
        return
    versions = pipeline.version(session)
    pipeline.index(session, versions)
    beyond = repository.created_beyond_reach(session, access, [(e.resource_type, e.resource_id or "") for e in staged])
    for entry in staged:
        if beyond == (entry.resource_type, entry.resource_id):
            raise entry.located(forbidden(entry.resource_type, "create", entry.resource_id))
        assert entry.resource_id is not None
        responses[entry.index] = _written(_recorded(session, entry.resource_type, entry.resource_id), 201, ctx)
    staged.clear()


def _stage(session: Session, access: AccessContext, entry: Entry, base_url: str) -> None:
    """Stage a create. Lookups made while filling it first write the rows staged before (autoflush), so a clinic,
    a Questionnaire or a unique value created earlier in the Bundle is seen; the row being filled is not in the
    session yet."""
    assert entry.resource is not None
    autoflush, session.autoflush = session.autoflush, True
    try:
        repository.add(session, access, entry.resource, entry.resource_id, base_url=base_url)
    finally:
        session.autoflush = autoflush


def _recorded(session: Session, resource_type: str, resource_id: str) -> dict[str, Any]:
    resource = recorded_resource(session, resource_type, resource_id)
    if resource is None:
        raise RuntimeError(f"{resource_type}/{resource_id} was staged but not recorded")  # a bug of ours
    return resource


def _assign_ids(session: Session, access: AccessContext, entries: list[Entry], ctx: BundleContext) -> None:
    """Give each POST its new id (or its existing match's, ``ifNoneExist``) and each conditional PUT its target."""
    for entry in entries:
        try:
            if entry.method == "POST":
                found = _match(session, access, entry.resource_type, entry.if_none_exist, ctx, "create")
                entry.existing = found is not None
                entry.resource_id = found or str(uuid.uuid4())
            elif entry.method in {"PUT", "PATCH", "DELETE"} and entry.resource_id is None:
                if not entry.query:
                    raise bad_request(
                        f"{entry.method} needs a resource id or search criteria", f"{entry.where}.request.url"
                    )
                found = _match(session, access, entry.resource_type, entry.query, ctx, _INTERACTIONS[entry.method])
                entry.existing = found is not None
                entry.resource_id = found or (str(uuid.uuid4()) if entry.method == "PUT" else None)
        except FhirError as exc:
            raise entry.located(exc) from None


def _check_distinct_targets(entries: list[Entry]) -> None:
    """400 naming both entries when two writes (DELETE, POST, PUT, PATCH; conditional ones as resolved) target one
    resource: http://hl7.org/fhir/R4/http.html#trules, "If any resource identities (including resolved identities
    from conditional update/delete) overlap in steps 1-3, then the transaction SHALL fail"."""
    first: dict[str, Entry] = {}
    for entry in entries:
        if entry.method in {"GET", "HEAD"} or entry.resource_id is None:
            continue
        target = f"{entry.resource_type}/{entry.resource_id}"
        earlier = first.setdefault(target, entry)
        if earlier is not entry:
            message = (
                f"{earlier.where} and {entry.where} both write {target}: a transaction writes each resource once "
                "(http://hl7.org/fhir/R4/http.html#trules)"
            )
            raise fail_all(Kind.INVALID, [Issue("invalid", message, (_identity(earlier), _identity(entry)))])


def _identity(entry: Entry) -> str:
    """The element that gives an entry its target: a conditional create's ``ifNoneExist``, else its url."""
    return f"{entry.where}.request.{'ifNoneExist' if entry.method == 'POST' else 'url'}"


_INTERACTIONS = {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}
"""The interaction whose scope a conditional entry's match is confined by."""


def _match(
    session: Session,
    access: AccessContext,
    resource_type: str,
    criteria: str | None,
    ctx: BundleContext,
    interaction: str,
) -> str | None:
    """The match of an entry's conditional criteria (:func:`conditional.one_match`); None when it has none."""
    if not criteria:
        return None
    return conditional.one_match(session, access, resource_type, criteria, ctx.base_url, ctx.search_limits, interaction)


def _rewrite(
    session: Session, access: AccessContext, entry: Entry, node: Any, assigned: dict[str, str], ctx: BundleContext
) -> Any:
    """``node`` with every reference to a Bundle fullUrl or a conditional reference replaced by ``Type/id``, and every
    ``url`` naming a fullUrl (an Attachment's, such as a DocumentReference's Binary) by ``Type/id`` too
    (http://hl7.org/fhir/R4/http.html#trules: "elements of type uri, url")."""
    if isinstance(node, list):
        return [_rewrite(session, access, entry, item, assigned, ctx) for item in node]
    if not isinstance(node, dict):
        return node
    result = {k: _rewrite(session, access, entry, v, assigned, ctx) for k, v in node.items()}
    if isinstance(node.get("url"), str) and node["url"] in assigned:
        result["url"] = assigned[node["url"]]
    reference = node.get("reference")
    if isinstance(reference, str):
        if reference in assigned:
            result["reference"] = assigned[reference]
        elif "?" in reference and reference.split("?", 1)[0] in MAPPINGS:
            result["reference"] = conditional.resolve_reference(
                session, access, reference, ctx.base_url, ctx.search_limits
            )
    return result


def _in_order(entries: list[Entry], assigned: dict[str, str]) -> list[Entry]:
    """DELETE, then POST (each after the creates it references), PUT/PATCH, GET/HEAD."""
    ordered = sorted(entries, key=lambda e: METHOD_ORDER[e.method])
    creates = [e for e in ordered if e.method == "POST" and not e.existing]
    created = {e.index for e in creates}
    rest = [e for e in ordered if e.index not in created]
    deletes = [e for e in rest if e.method == "DELETE"]
    later = [e for e in rest if e.method != "DELETE"]
    return deletes + _dependency_order(creates) + later


def _dependency_order(creates: list[Entry]) -> list[Entry]:
    by_ref = {f"{e.resource_type}/{e.resource_id}": e for e in creates}
    done: list[Entry] = []
    placed: set[int] = set()
    visiting: set[int] = set()

    def visit(entry: Entry) -> None:
        if entry.index in placed or entry.index in visiting:
            return  # already placed, or a cycle: keep Bundle order from here
        visiting.add(entry.index)
        for target in _references(entry.resource):
            if target in by_ref and by_ref[target] is not entry:
                visit(by_ref[target])
        visiting.discard(entry.index)
        placed.add(entry.index)
        done.append(entry)

    for entry in creates:
        visit(entry)
    return done


def _references(node: Any) -> list[str]:
    if isinstance(node, list):
        return [r for item in node for r in _references(item)]
    if not isinstance(node, dict):
        return []
    found = [r for v in node.values() for r in _references(v)]
    return [node["reference"], *found] if isinstance(node.get("reference"), str) else found


def _execute(session: Session, access: AccessContext, entry: Entry, ctx: BundleContext) -> dict[str, Any]:
    if entry.method == "DELETE":
        if entry.resource_id is not None:
            repository.delete(session, access, entry.resource_type, entry.resource_id, entry.if_match)
        return {"response": {"status": _status(204)}}
    if entry.method == "POST":
        if entry.existing:
            found = repository.read(session, access, entry.resource_type, entry.resource_id or "")
            return _written(found, 200, ctx)
        assert entry.resource is not None
        written = repository.create(session, access, entry.resource, entry.resource_id, base_url=ctx.base_url)
        return _written(written.resource, 201, ctx)
    if entry.method == "PUT":
        assert entry.resource is not None and entry.resource_id is not None
        resource = {**entry.resource, "id": entry.resource_id}
        written = repository.update(session, access, resource, entry.resource_id, entry.if_match, base_url=ctx.base_url)
        return _written(written.resource, 201 if written.created else 200, ctx)
    if entry.method == "PATCH":
        if entry.resource_id is None:  # a conditional patch matching nothing (http.html#patch): as an unknown id
            raise not_found(f"{entry.resource_type}?{entry.query} matches no resource")
        assert entry.patch is not None
        written = patching.patch(
            session, access, entry.resource_type, entry.resource_id, entry.patch, entry.if_match, ctx.base_url
        )
        return _written(written.resource, 200, ctx)
    return _get(session, access, entry, ctx)


def _get(session: Session, access: AccessContext, entry: Entry, ctx: BundleContext) -> dict[str, Any]:
    if entry.resource_id is None:
        query = params.parse(entry.resource_type, parse_qsl(entry.query, keep_blank_values=True), ctx.search_limits)
        url = f"{ctx.base_url}/{entry.resource_type}"
        bundle = search(session, access, query, ctx.base_url, url, ctx.cursor_key)
        return {"resource": bundle, "response": {"status": _status(200)}}
    if entry.version_id is not None:
        found = repository.vread(session, access, entry.resource_type, entry.resource_id, entry.version_id)
    else:
        found = repository.read(session, access, entry.resource_type, entry.resource_id)
    return _written(found, 200, ctx, always_resource=True)


def _written(
    resource: dict[str, Any], status: int, ctx: BundleContext, always_resource: bool = False
) -> dict[str, Any]:
    meta = resource["meta"]
    response = {
        "status": _status(status),
        "location": f"{resource['resourceType']}/{resource['id']}/_history/{meta['versionId']}",
        "etag": f'W/"{meta["versionId"]}"',
        "lastModified": meta["lastUpdated"],
    }
    entry: dict[str, Any] = {"fullUrl": f"{ctx.base_url}/{resource['resourceType']}/{resource['id']}"}
    if always_resource or ctx.prefer_return == "representation":
        entry["resource"] = resource
    elif ctx.prefer_return == "OperationOutcome":
        response["outcome"] = informational(f"{resource['resourceType']}/{resource['id']} stored")
    entry["response"] = response
    return entry


def _status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def failed_entry(exc: FhirError) -> dict[str, Any]:
    """The response entry of a batch entry that failed (no fullUrl: it names no resource)."""
    return {"response": {"status": _status(exc.status), "outcome": operation_outcome(exc.issues)}}


def response_bundle(kind: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``batch-response`` or ``transaction-response`` Bundle of the response ``entries`` (in request order),
    keeping bdl-7 (http://hl7.org/fhir/R4/bundle.html#invs: a fullUrl appears once unless the versions differ): an
    entry whose fullUrl and version repeat an earlier entry's (a batch reading a resource twice, or updating it
    twice with ``Prefer: return=minimal``) keeps its location but not the fullUrl. No entries: no ``entry`` (FHIR
    JSON has no empty arrays)."""
    seen: set[tuple[str, str | None]] = set()
    for entry in entries:
        full_url = entry.get("fullUrl")
        if full_url is None:
            continue
        key = (full_url, entry.get("resource", {}).get("meta", {}).get("versionId"))
        if key in seen:
            del entry["fullUrl"]
        seen.add(key)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": f"{kind}-response"}
    return {**bundle, "entry": entries} if entries else bundle
