"""The one way resources are read and written.

Reads serve the stored JSON of the current version (one query; the write pipeline keeps it equal to
``to_fhir(rows)``). Writes run the steps of the write pipeline (:mod:`fhir_server.fhir.pipeline`) in order, each
visible in :func:`create`, :func:`update` and :func:`delete`: the resource, validated when the request was read, is
mapped onto rows with its references resolved within the clinic (map), the new version recorded (version) and
indexed for search (index), then the caller's reach over what was written is checked (reach).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.access.enforcement import admits, forbidden, require
from fhir_server.db import Organization, ResourceHistory
from fhir_server.db.base import FhirResourceMixin
from fhir_server.db.types import utcnow
from fhir_server.errors import conflict, gone, not_found, precondition_failed, unprocessable
from fhir_server.fhir import binary_content, pipeline, terminology, write_access
from fhir_server.fhir.default_clinic import default_clinic
from fhir_server.fhir.primitives import version_number
from fhir_server.fhir.references import (
    TENANT_KEY,
    Resolved,
    check_clinic,
    clinic_of,
    is_foreign,
    remember,
    resolve_references,
)
from fhir_server.fhir.versioning import recorded_resource
from mappings import lens
from mappings.base import MappedValues, MappingError, ResourceMapping
from mappings.registry import MAPPINGS


@dataclass(frozen=True)
class Written:
    """The outcome of a write: the resource as now stored and whether it was created."""

    resource: dict[str, Any]
    created: bool


def current_version(session: Session, resource_type: str, resource_id: str) -> ResourceHistory | None:
    """The newest stored version of a resource, deleted or not."""
    query = select(ResourceHistory).where(
        ResourceHistory.resource_type == resource_type,
        ResourceHistory.resource_id == resource_id,
        ResourceHistory.superseded_at.is_(None),
    )
    return session.scalars(query).first()


def read(
    session: Session, access: AccessContext, resource_type: str, resource_id: str, interaction: str = "read"
) -> dict[str, Any]:
    """The current version; 404 when unknown (or beyond the caller's reach), 410 when deleted; 403 when the token
    does not permit ``interaction`` (``read``; ``patch`` reads the version it changes) on the type."""
    require(access, resource_type, interaction)
    version = current_version(session, resource_type, resource_id)
    if version is None or not admits(session, access, version, interaction):
        raise not_found(f"{resource_type}/{resource_id} is not known")
    if version.method == "delete" or version.resource is None:
        raise gone(f"{resource_type}/{resource_id} was deleted")
    return binary_content.expand(session, version.resource)


def vread(
    session: Session, access: AccessContext, resource_type: str, resource_id: str, version_id: str
) -> dict[str, Any]:
    """One version; 404 when unknown (or beyond the caller's reach), 410 when a deletion; 403 without ``r``."""
    require(access, resource_type, "vread")
    number = version_number(version_id)
    if number is None:
        raise not_found(f"{resource_type}/{resource_id} has no version {version_id!r}")
    version = session.scalars(
        select(ResourceHistory).where(
            ResourceHistory.resource_type == resource_type,
            ResourceHistory.resource_id == resource_id,
            ResourceHistory.version_id == number,
        )
    ).first()
    if version is None or not admits(session, access, version, "vread"):
        raise not_found(f"{resource_type}/{resource_id} has no version {version_id}")
    if version.resource is None:
        raise gone(f"version {version_id} of {resource_type}/{resource_id} is a deletion")
    return binary_content.expand(session, version.resource)


def load_row(session: Session, resource_type: str, resource_id: str, lock: bool = False) -> FhirResourceMixin | None:
    """The row behind a resource (deleted or not), locked for update when ``lock``."""
    mapping = MAPPINGS[resource_type]
    query = mapping.select_rows().where(mapping.model.fhir_id == resource_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def create(
    session: Session,
    access: AccessContext,
    resource: dict[str, Any],
    resource_id: str | None = None,
    *,
    base_url: str | None,
) -> Written:
    """Store a new resource under a server-assigned id (or ``resource_id`` for create-on-update); absolute
    references on ``base_url`` (the public base of the request's server; None: none known) are this server's.

    403 without ``c`` on the type, or when the new resource would lie beyond the caller's reach.
    """
    mapping = MAPPINGS[resource["resourceType"]]
    row = add(session, access, resource, resource_id, base_url=base_url)  # map
    versions = pipeline.version(session)  # version
    pipeline.index(session, versions)  # index
    written = Written(_recorded(session, row, mapping), created=True)
    check_reach(session, access, mapping.resource_type, row.fhir_id, "create")  # reach
    return written


def add(
    session: Session,
    access: AccessContext,
    resource: dict[str, Any],
    resource_id: str | None = None,
    *,
    base_url: str | None,
) -> Any:
    """Stage a new resource's row (the map step: references resolved, row filled, its change noted) without
    recording its version yet: the next :func:`pipeline.version` does, so a transaction's creates are written and
    rendered together (fhir_server.fhir.bundles). Its reach is then checked with :func:`check_reach`.
    ``base_url`` is the server's public base (absolute references to it are local; None: none is)."""
    mapping = MAPPINGS[resource["resourceType"]]
    require(access, mapping.resource_type, "create")
    row: Any = mapping.new_row()
    row.id = uuid.uuid4()
    row.fhir_id = resource_id or str(uuid.uuid4())
    _fill(session, access, mapping, row, resource, new=True, base_url=base_url)
    session.add(row)
    pipeline.note_changes(session)  # before any lookup of a later write flushes it
    remember(session, mapping.resource_type, row)
    return row


def update(
    session: Session,
    access: AccessContext,
    resource: dict[str, Any],
    resource_id: str,
    if_match: str | None = None,
    *,
    base_url: str | None,
) -> Written:
    """Replace a resource (create it under the client's id when unknown); ``base_url`` as for :func:`create`.

    403 without ``u`` on the type, when the caller may read the resource but not update it (or it is a shared row
    and the caller a clinic's), or when its new version would lie beyond the caller's reach. A resource the caller
    may not even read is treated as unknown: the create-on-update meets its taken id and answers the 409 of a
    concurrent create (ids are server-wide, so a taken id can only be refused; nothing more is said).
    """
    mapping = MAPPINGS[resource["resourceType"]]
    terminology.refuse_write(mapping.resource_type, resource_id)
    require(access, mapping.resource_type, "update")
    row = load_row(session, mapping.resource_type, resource_id, lock=True)
    if row is None or not _check_existing(session, access, row, mapping.resource_type, "update"):
        if if_match is not None:
            raise precondition_failed(f"{mapping.resource_type}/{resource_id} does not exist (If-Match given)")
        # Unknown, or out of sight: create it (a taken id then answers 409, as a race would).
        return create(session, access, resource, resource_id, base_url=base_url)
    check_version(row, if_match)
    row.deleted_at = None
    _fill(session, access, mapping, row, resource, new=False, base_url=base_url)  # map
    remember(session, mapping.resource_type, row)
    versions = pipeline.version(session)  # version (none when nothing changed: the stored version stands)
    pipeline.index(session, versions)  # index
    written = Written(_recorded(session, row, mapping), created=False)
    check_reach(session, access, mapping.resource_type, resource_id, "update")  # reach
    return written


def delete(
    session: Session, access: AccessContext, resource_type: str, resource_id: str, if_match: str | None = None
) -> bool:
    """Mark a resource deleted (later reads answer 410). False when it was already deleted.

    403 without ``d`` on the type, or when the caller may read the resource but not delete it (or it is a shared row
    and the caller a clinic's); 404, as for an unknown id, when it lies beyond what the caller may read; 409 for a
    clinic's own Organization (clinics are the operator's: ``fhir-server clinics``).
    """
    terminology.refuse_write(resource_type, resource_id)
    require(access, resource_type, "delete")
    row = load_row(session, resource_type, resource_id, lock=True)
    if row is None or not _check_existing(session, access, row, resource_type, "delete"):
        raise not_found(f"{resource_type}/{resource_id} is not known")
    check_version(row, if_match)
    if row.deleted_at is not None:
        return False
    if isinstance(row, Organization) and row.is_clinic:
        raise conflict(
            f"Organization/{resource_id} is a clinic's own Organization: a clinic is managed by the server's operator "
            "(fhir-server clinics), not deleted through FHIR"
        )
    row.deleted_at = utcnow()  # map
    versions = pipeline.version(session)  # version: a deletion
    pipeline.index(session, versions)  # index: the older versions' rows pruned
    return True


def check_version(row: FhirResourceMixin, if_match: str | None) -> None:
    """412 when ``If-Match`` names another version than the current one."""
    if if_match is not None and if_match != str(row.version_id):
        raise precondition_failed(
            f"version conflict: If-Match is {if_match} but the current version is {row.version_id}"
        )


def _reach_of(
    session: Session, access: AccessContext, row: FhirResourceMixin, resource_type: str, interaction: str
) -> str:
    """How far the caller reaches a stored ``row`` for ``interaction``: ``write`` (permitted), ``read`` (they may
    read it, so a refusal reveals nothing) or ``none`` (beyond their reach: a write then answers exactly as for an
    unknown id, so existence does not leak)."""
    if access.search_restriction(interaction) is None:
        return "write"
    version = current_version(session, resource_type, row.fhir_id)
    if version is None or admits(session, access, version, interaction):
        return "write"
    return "read" if admits(session, access, version, "read") else "none"


def _check_existing(
    session: Session, access: AccessContext, row: FhirResourceMixin, resource_type: str, interaction: str
) -> bool:
    """True when the stored ``row`` exists for the caller (``interaction`` may go on); False when it is out of their
    sight; 403 when they may read but not change it, or it is a shared row and the caller a clinic's."""
    reach = _reach_of(session, access, row, resource_type, interaction)
    if reach == "read":
        raise forbidden(resource_type, interaction, row.fhir_id)
    if reach == "write":
        write_access.check_shared_row(access, resource_type, row, interaction)
    return reach == "write"


def check_reach(
    session: Session, access: AccessContext, resource_type: str, resource_id: str, interaction: str
) -> None:
    """403 when the current version of a resource (recorded and indexed) lies beyond what the caller may
    ``interaction``."""
    if resource_id not in write_access.reachable(session, access, resource_type, {resource_id}, interaction):
        raise forbidden(resource_type, interaction, resource_id)


def created_beyond_reach(
    session: Session, access: AccessContext, created: list[tuple[str, str]]
) -> tuple[str, str] | None:
    """The first of the resources just ``created`` ((type, id), their versions recorded and indexed) that lies beyond
    what the caller may create; None when all lie within. :func:`check_reach` for many creates at once (one query per
    type): a transaction Bundle's staged creates."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for resource_type, resource_id in created:
        by_type[resource_type].add(resource_id)
    within = {(t, i) for t, ids in by_type.items() for i in write_access.reachable(session, access, t, ids, "create")}
    return next((c for c in created if c not in within), None)


def _recorded(session: Session, row: FhirResourceMixin, mapping: type[ResourceMapping]) -> dict[str, Any]:
    recorded = recorded_resource(session, mapping.resource_type, row.fhir_id)
    return recorded if recorded is not None else mapping.to_fhir(row)  # unchanged: the stored version stands


def _fill(
    session: Session,
    access: AccessContext,
    mapping: type[ResourceMapping],
    row: Any,
    resource: dict[str, Any],
    *,
    new: bool,
    base_url: str | None,
) -> None:
    current_clinic = getattr(row, "organization_id", None)
    interaction = "create" if new else "update"
    write_access.check_patient_references(access, resource, interaction, base_url)
    resolved = resolve_references(session, resource, base_url)
    write_access.check_readable_targets(session, access, mapping.resource_type, resolved, interaction)
    try:
        values = mapping.from_fhir(resource)
    except MappingError as exc:
        raise unprocessable(str(exc), exc.expression) from None
    targets = _resolve_references(row, values, resource, resolved, base_url)
    if mapping.stored:  # a stored resource belongs to the clinic of what it references (its patient, ...)
        targets += [r.row for r in resolved]
    if hasattr(row, "organization_id"):
        row.organization_id = _tenant(session, access, mapping, targets, values, current_clinic)
    check_clinic(resolved, row)
    try:
        mapping.apply(row, values, session)
    except MappingError as exc:
        raise unprocessable(str(exc), exc.expression) from None
    for hook in mapping.before_write:
        hook(session, row, new)


def _resolve_references(
    row: Any, values: MappedValues, resource: dict[str, Any], resolved: list[Resolved], base_url: str | None
) -> list[Any]:
    """Fill the row's foreign keys from its mapped references, which must name resources of this server (the
    ``resolved`` references of the resource: one lookup serves the integrity check and the foreign keys)."""
    rows = {(r.target.resource_type, r.target.resource_id): r.row for r in resolved}
    targets: list[Any] = []
    for foreign_key, (field, fhir_id) in values.references.items():
        if fhir_id is None:
            setattr(row, foreign_key, None)
            continue
        if is_foreign(str(lens.get(resource, field.path)), base_url):
            raise unprocessable(f"{field.expression} must reference a resource of this server", field.expression)
        target = rows.get((field.target, fhir_id))
        if target is None:
            raise unprocessable(f"{field.target}/{fhir_id} does not exist", field.expression)
        if foreign_key == TENANT_KEY:
            _check_names_clinic(field.expression, target)
        setattr(row, foreign_key, target.id)
        setattr(row, field.attr, target)  # the relationship too: rendering the row needs no lazy load
        targets.append(target)
    return targets


def _check_names_clinic(expression: str, target: Any) -> None:
    """422 when the reference held in the tenant key (``Patient.managingOrganization``) names an Organization that is
    not a clinic (a lab, a payer): the row's clinic is kept there, and a lab is no clinic."""
    if isinstance(target, Organization) and not target.is_clinic:
        message = f"{expression}: Organization/{target.fhir_id} is not a clinic; this server keeps the clinic here"
        raise unprocessable(f"{message} (reference the clinic's own Organization, or leave it out)", expression)


def _tenant(
    session: Session,
    access: AccessContext,
    mapping: type[ResourceMapping],
    targets: list[Any],
    values: MappedValues,
    current: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """The clinic a written row belongs to: the caller's, else its references' clinic, else the default clinic
    (:mod:`fhir_server.fhir.default_clinic`). An Organization written through FHIR is thus never a clinic: it
    belongs to one.

    An existing row keeps its ``current`` clinic when its references name none (a ``shared`` mapping's row keeps
    it even when None: shared by every clinic).
    """
    if access.organization_id is not None:
        return access.organization_id  # a reference to another clinic's resource then fails as unknown (check_clinic)
    clinics = {clinic_of(t) for t in targets}
    clinics.discard(None)
    if len(clinics) > 1:
        raise unprocessable(f"this {mapping.resource_type} references resources of different clinics")
    if clinics:
        return clinics.pop()
    if mapping.shared or current is not None:
        return current  # an existing row stays in its clinic unless its references say otherwise
    return default_clinic(session, mapping.resource_type)
