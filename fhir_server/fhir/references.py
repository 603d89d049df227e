"""Reference integrity of a written resource: every literal reference to a served resource must resolve.

http://hl7.org/fhir/R4/references.html#literal. Every ``Reference.reference`` of the resource, at any depth
(contained resources included), is read as follows:

- ``#id``: a contained resource of the same resource (``#`` alone is the container itself);
- ``Type/id`` or ``Type/id/_history/vid``, or the same on this server's base URL (``[base]/Type/id``), where
  ``Type`` is a served type: an existing, not deleted resource of the written row's clinic, or a shared one (its
  ``organization_id`` is NULL, as a Questionnaire may be). Organizations are no exception: a clinic's own
  Organization is of that clinic, and so is every Organization the clinic wrote (a lab, a payer). A versioned
  reference must name a version that exists;
- ``urn:uuid:...`` and conditional references (``Patient?identifier=...``) only mean something inside a
  transaction Bundle (http://hl7.org/fhir/R4/http.html#trules), which resolves them before the write: here they
  are errors;
- anything else (another server's URL, a type this server does not serve, ``urn:oid:``) is left alone.

A reference that does not resolve answers 422 naming the Reference element (``Appointment.participant[0].actor``).
A resource of another clinic is reported exactly like a missing one, so a write cannot probe other clinics. The
write path runs :func:`resolve_references` before the mapping reads the resource (so every bad reference is listed
at once, with its element) and :func:`check_clinic` once the written row's clinic is known.

The base URL is the caller's to give (``base_url``: the public FHIR base of the request's application); without
one (None) absolute URLs are treated as another server's.

Rows a transaction wrote or looked up are kept for the rest of that transaction (:func:`remember`), so a
transaction Bundle of appointments naming the same practitioners, or a patient created a few entries earlier, looks
each of them up once; the memory is the transaction's (its WriteState) and ends with it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.db import ResourceHistory
from fhir_server.db.write_session import state_of, write_state
from fhir_server.errors import Issue, Kind, fail_all
from fhir_server.fhir.primitives import literal_reference, version_number
from fhir_server.fhir.structure import walk
from mappings.registry import MAPPINGS


@dataclass(frozen=True)
class Target:
    """A literal reference to a served resource: where it is written and what it names."""

    expression: str
    resource_type: str
    resource_id: str
    version: str | None

    @property
    def text(self) -> str:
        return f"{self.resource_type}/{self.resource_id}" + (f"/_history/{self.version}" if self.version else "")


@dataclass(frozen=True)
class Resolved:
    """A reference that names a live resource: its row, and the clinic that row belongs to (None: shared)."""

    target: Target
    row: Any

    @property
    def clinic(self) -> uuid.UUID | None:
        return clinic_of(self.row)


def resolve_references(session: Session, resource: Mapping[str, Any], base_url: str | None) -> list[Resolved]:
    """422 listing every reference of ``resource`` that names nothing; else what its references name (absolute
    references on ``base_url`` are this server's)."""
    issues, targets = _classified_once(session, resource, base_url)
    with session.no_autoflush:
        resolved = _lookup(session, targets)
    found = {r.target for r in resolved}
    issues.extend(missing(t) for t in targets if t not in found)
    if issues:
        raise fail_all(Kind.UNPROCESSABLE, issues)
    return resolved


def prefetch(session: Session, resources: Sequence[Mapping[str, Any]], base_url: str | None) -> None:
    """Look up together (one query per type) the live rows that the references of ``resources`` name, kept for the
    rest of the transaction as :func:`remember` keeps rows: a batch of writes (an NDJSON import's) then resolves
    its references without a query each. What names nothing is left for :func:`resolve_references` to report. Each
    resource's references, found here, are kept for its write (:func:`resolve_references` of the same object, which
    must not change in between), so it is walked once."""
    by_type: dict[str, set[str]] = defaultdict(set)
    state = write_state(session)
    for resource in resources:
        classified = _classified(resource, base_url)
        if state is not None:  # the resource's write takes it instead of walking the resource again
            state.classified[id(resource)] = (resource, base_url, classified)
        for target in classified[1]:
            by_type[target.resource_type].add(target.resource_id)
    with session.no_autoflush:
        for resource_type, ids in by_type.items():
            _live_rows(session, resource_type, ids)


def check_clinic(resolved: list[Resolved], row: Any) -> None:
    """422 listing every reference to another clinic's resource than ``row``'s (see the module's rules)."""
    clinic = clinic_of(row)
    issues = [missing(r.target) for r in resolved if r.clinic is not None and r.clinic != clinic]
    if issues:
        raise fail_all(Kind.UNPROCESSABLE, issues)


TENANT_KEY = "organization_id"
"""The column of every row that names its clinic (the tenant key; None: shared by every clinic)."""


def clinic_of(row: Any) -> uuid.UUID | None:
    """The clinic a row belongs to (a clinic's own Organization is its own clinic)."""
    value: uuid.UUID | None = getattr(row, TENANT_KEY, None)
    return value


def _classified(resource: Mapping[str, Any], base_url: str | None) -> tuple[list[Issue], list[Target]]:
    issues: list[Issue] = []
    targets: list[Target] = []
    contained = _contained_ids(resource)
    for expression, reference in literal_references(resource):
        found = classify(expression, reference, contained, base_url)
        if isinstance(found, Issue):
            issues.append(found)
        elif found is not None:
            targets.append(found)
    return issues, targets


def _classified_once(
    session: Session, resource: Mapping[str, Any], base_url: str | None
) -> tuple[list[Issue], list[Target]]:
    """:func:`_classified`, taken from what :func:`prefetch` kept for this very resource object (unchanged since:
    a batch's resources are written as they were prefetched) when it did, else computed."""
    state = write_state(session)
    kept = state.classified.pop(id(resource), None) if state is not None else None
    if kept is not None and kept[0] is resource and kept[1] == base_url:
        issues, targets = kept[2]
        return list(issues), list(targets)
    return _classified(resource, base_url)


def reference_elements(resource: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(expression, value) of every Reference element of ``resource``, literal or not."""
    for node in walk(resource):
        if node.type == "Reference" and isinstance(node.value, dict):
            yield node.expression, node.value


def literal_references(resource: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(expression of the Reference element, its ``reference``) for every Reference of ``resource``."""
    for expression, value in reference_elements(resource):
        reference = value.get("reference")
        if isinstance(reference, str):
            yield expression, reference


def classify(expression: str, reference: str, contained: frozenset[str], base_url: str | None) -> Target | Issue | None:
    """What a reference names: a served resource to look up, an Issue when it cannot resolve, None to leave alone
    (absolute references on ``base_url``, this server's public base when known, are this server's)."""
    if reference.startswith("#"):
        if reference == "#" or reference[1:] in contained:
            return None
        return Issue("not-found", f"{expression}: {reference} names no contained resource", (expression,))
    if reference.startswith("urn:uuid:"):
        message = f"{expression}: {reference} can only be resolved inside a transaction Bundle"
        return Issue("invalid", message, (expression,))
    relative = _relative(reference, base_url)
    if relative is None or relative.split("/", 1)[0].split("?", 1)[0] not in MAPPINGS:
        return None
    if "?" in relative:
        message = f"{expression}: the conditional reference {reference} can only be resolved inside a transaction"
        return Issue("invalid", message, (expression,))
    literal = literal_reference(relative)
    if literal is None or literal.base is not None:
        return Issue("invalid", f"{expression}: {reference} is not a valid reference", (expression,))
    return Target(expression, literal.resource_type, literal.resource_id, literal.version)


def is_foreign(reference: str, base_url: str | None) -> bool:
    """True when ``reference`` is an absolute URL of another server than the one at ``base_url``."""
    return _relative(reference, base_url) is None


def _relative(reference: str, base_url: str | None) -> str | None:
    """The reference relative to the server at ``base_url`` (None when it is another server's URL)."""
    if not reference.startswith(("http://", "https://")):
        return reference
    if base_url is not None and reference.startswith(base_url + "/"):
        return reference[len(base_url) + 1 :]
    return None


def _contained_ids(resource: Mapping[str, Any]) -> frozenset[str]:
    contained = resource.get("contained")
    if not isinstance(contained, list):
        return frozenset()
    return frozenset(r["id"] for r in contained if isinstance(r, dict) and isinstance(r.get("id"), str))


def _lookup(session: Session, targets: list[Target]) -> list[Resolved]:
    """The targets that name a live resource (and, when versioned, a stored version), with their rows."""
    by_type: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        by_type[target.resource_type].append(target)
    resolved: list[Resolved] = []
    for resource_type, typed in by_type.items():
        rows = _live_rows(session, resource_type, {t.resource_id for t in typed})
        resolved.extend(
            Resolved(t, rows[t.resource_id]) for t in typed if t.resource_id in rows and _version_exists(session, t)
        )
    return resolved


def remember(session: Session, resource_type: str, row: Any) -> None:
    """Keep ``row`` (written or read by this transaction) for the references of the transaction's later writes."""
    state_of(session).rows[(resource_type, row.fhir_id)] = row


def _live_rows(session: Session, resource_type: str, ids: set[str]) -> dict[str, Any]:
    """fhir id -> row of every live resource of ``resource_type`` among ``ids``: the rows this transaction already
    holds, the others in one query (a read session, as $validate's, keeps nothing)."""
    state = write_state(session)
    known: dict[tuple[str, str], Any] = state.rows if state is not None else {}
    found: dict[str, Any] = {}
    missing: list[str] = []
    for fhir_id in sorted(ids):
        row = known.get((resource_type, fhir_id))
        if row is None:
            missing.append(fhir_id)
        elif row.deleted_at is None and row not in session.deleted:
            found[fhir_id] = row
    if missing:
        mapping = MAPPINGS[resource_type]
        model: Any = mapping.model
        query = mapping.select_rows().where(model.fhir_id.in_(missing), model.deleted_at.is_(None))
        for row in session.scalars(query):
            known[(resource_type, row.fhir_id)] = found[row.fhir_id] = row
    return found


def missing(target: Target) -> Issue:
    """The issue of a reference naming nothing the write may point at (unknown, deleted, another clinic's, or beyond
    the caller's reach: all alike)."""
    message = f"{target.expression}: {target.text} does not exist in this clinic (unknown, deleted or not shared)"
    return Issue("not-found", message, (target.expression,))


def _version_exists(session: Session, target: Target) -> bool:
    """True for an unversioned reference, or when the named version was stored."""
    if target.version is None:
        return True
    number = version_number(target.version)
    if number is None:
        return False
    query = select(ResourceHistory.id).where(
        ResourceHistory.resource_type == target.resource_type,
        ResourceHistory.resource_id == target.resource_id,
        ResourceHistory.version_id == number,
    )
    return session.scalars(query.limit(1)).first() is not None
