"""The patch interaction's service (http://hl7.org/fhir/R4/http.html#patch): apply a JSON Patch (RFC 6902), a
JSON Merge Patch (RFC 7386, :mod:`merge_patch`) or a FHIRPath Patch to the current version, validate the result
and write it through :func:`repository.update`.

The patch is computed outside the write transaction (:func:`prepare`, on a read session: no row or database lock
is held while a client's document runs) and then stored by :func:`store`, which locks the row and writes only if
the version the patch was computed on is still current (``If-Match``, when given, must name that version). In a
transaction Bundle the entry is computed inside the Bundle's transaction (:func:`patch`), bounded by the same
limits. A malformed patch document answers 400, one with too many operations 413 (:mod:`patch_limits`), a patch
that cannot apply (a failed ``test``, a missing path), whose result would be too large or is not a valid resource
422, each naming the operation (``operation[i]`` for JSON Patch, ``Parameters.parameter[i]`` for FHIRPath Patch).
A patch may not change ``resourceType`` or ``id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonpatch
import jsonpointer
import orjson
from sqlalchemy.orm import Session

from fhir_server.access.context import AccessContext
from fhir_server.errors import FhirError, Kind, bad_request, fail_all, precondition_failed, unprocessable
from fhir_server.fhir import fhirpath_patch, merge_patch, repository, terminology
from fhir_server.fhir.content import FHIR_JSON, JSON_PATCH, MERGE_PATCH
from fhir_server.fhir.patch_limits import PatchLimits, SizeBudget, encode
from fhir_server.fhir.validation import check_resource

_JSON_PATCH_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


@dataclass(frozen=True)
class Patch:
    """A parsed patch document: ``kind`` is ``json-patch``, ``merge-patch`` or ``fhirpath-patch``; ``limits`` bound
    its work."""

    kind: str
    document: Any
    limits: PatchLimits = field(default_factory=PatchLimits)

    @classmethod
    def of(cls, media_type: str, document: Any, limits: PatchLimits | None = None) -> Patch:
        """The patch a body of ``media_type`` holds (``application/json``: the kind its shape shows, see
        :func:`kind_of`); 400 when its shape is wrong for that kind (or a FHIRPath is not allowed), 413 when it holds
        more operations than ``limits`` allow."""
        limits = limits or PatchLimits()
        kind = kind_of(media_type, document)
        if kind == "json-patch":
            check_json_patch(document, limits)
        elif kind == "merge-patch":
            merge_patch.check_merge_patch(document, limits)
        else:
            fhirpath_patch.read_operations(document, limits)
        return cls(kind, document, limits)

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "json-patch":
            return apply_json_patch(resource, self.document, self.limits)
        if self.kind == "merge-patch":
            return merge_patch.apply_merge_patch(resource, self.document, self.limits)
        return fhirpath_patch.apply(resource, self.document, self.limits)


_KINDS = {JSON_PATCH: "json-patch", MERGE_PATCH: "merge-patch", FHIR_JSON: "fhirpath-patch"}


def kind_of(media_type: str, document: Any) -> str:
    """The kind of patch a body of ``media_type`` is. Plain ``application/json`` says nothing of the kind, so the
    body's shape does: an array is a JSON Patch, an object naming a ``resourceType`` a FHIRPath Patch (Parameters),
    any other object a merge patch (what fhirpy sends: a partial resource)."""
    if media_type in _KINDS:
        return _KINDS[media_type]
    if isinstance(document, list):
        return "json-patch"
    if isinstance(document, dict) and "resourceType" not in document:
        return "merge-patch"
    return "fhirpath-patch"


def check_json_patch(document: Any, limits: PatchLimits | None = None) -> None:
    """400 unless ``document`` is an RFC 6902 array of well-formed operations; 413 when it holds too many."""
    if not isinstance(document, list):
        raise bad_request("a JSON Patch body must be an array of operations", code="structure")
    (limits or PatchLimits()).check_count(len(document), None)
    for i, operation in enumerate(document):
        where = f"operation[{i}]"
        if not isinstance(operation, dict) or operation.get("op") not in _JSON_PATCH_OPS:
            raise bad_request(f"{where}: op must be one of {', '.join(sorted(_JSON_PATCH_OPS))}", where)
        needed = ["path"] + (["from"] if operation["op"] in ("move", "copy") else [])
        needed += ["value"] if operation["op"] in ("add", "replace", "test") else []
        missing = [name for name in needed if name not in operation]
        if missing or not all(isinstance(operation[p], str) for p in ("path", "from") if p in operation):
            raise bad_request(f"{where}: a {operation['op']} operation needs {', '.join(needed)} (strings)", where)


def apply_json_patch(
    resource: dict[str, Any], document: list[dict[str, Any]], limits: PatchLimits | None = None
) -> dict[str, Any]:
    """``resource`` with the operations applied in order; 422 naming the first that cannot apply or that would
    make the result larger than ``limits`` allow (checked before it runs)."""
    budget = SizeBudget(limits or PatchLimits())
    patched = orjson.loads(budget.add(resource, "the resource"))  # a copy to change in place, measured
    for i, operation in enumerate(document):
        _charge(budget, patched, operation, i)
        try:
            # in place: not a copy of the whole resource per operation (jsonpatch copies the values it inserts)
            patched = jsonpatch.JsonPatch([operation]).apply(patched, in_place=True)
        except jsonpatch.JsonPatchTestFailed:
            message = f"operation[{i}]: test failed: the value at {operation['path']} is not the value tested"
            raise unprocessable(message, f"operation[{i}]") from None
        except jsonpointer.JsonPointerException:
            # its message quotes the whole document it was resolved in: name the path only
            message = f"operation[{i}] ({operation['op']} {operation['path']}): the path names no element here"
            raise unprocessable(message, f"operation[{i}]") from None
        except jsonpatch.JsonPatchException as exc:
            raise unprocessable(
                f"operation[{i}] ({operation['op']} {operation['path']}): {exc}", f"operation[{i}]"
            ) from None
    if not isinstance(patched, dict):
        raise unprocessable("the patch replaces the resource with something that is not a JSON object")
    encode(patched, "the patched resource")  # 422 when nested deeper than JSON can be stored
    return patched


def _charge(budget: SizeBudget, patched: Any, operation: dict[str, Any], i: int) -> None:
    """Charge ``budget`` with what ``operation`` adds, before it runs: its value, or the element a ``copy``
    duplicates (a ``from`` that does not resolve adds nothing: the operation then fails, naming itself)."""
    where = f"operation[{i}]"
    if operation["op"] in ("add", "replace"):
        budget.add(operation["value"], where, where)
    elif operation["op"] == "copy":
        try:
            source = jsonpointer.resolve_pointer(patched, operation["from"])
        except jsonpointer.JsonPointerException:
            return
        budget.add(source, where, where)


@dataclass(frozen=True)
class Prepared:
    """A patch's result, computed from version ``base_version`` of the resource."""

    resource: dict[str, Any]
    base_version: str


class VersionMovedError(Exception):
    """The resource changed between :func:`prepare` and :func:`store` (no ``If-Match`` was given)."""


def prepare(
    session: Session,
    access: AccessContext,
    resource_type: str,
    resource_id: str,
    change: Patch,
    if_match: str | None,
) -> Prepared:
    """``change`` applied to the current version and validated, on any session (no lock taken); 412 at once when
    ``if_match`` names another version; 404/410/403 as a read for ``patch``."""
    terminology.refuse_write(resource_type, resource_id)
    current = repository.read(session, access, resource_type, resource_id, "patch")  # 403 without u
    base_version = str(current["meta"]["versionId"])
    if if_match is not None and if_match != base_version:
        raise precondition_failed(f"version conflict: If-Match is {if_match} but the current version is {base_version}")
    return Prepared(_patched(change, current, resource_type, resource_id), base_version)


def store(
    session: Session,
    access: AccessContext,
    resource_type: str,
    resource_id: str,
    prepared: Prepared,
    if_match: str | None,
    base_url: str | None,
) -> repository.Written:
    """Write ``prepared`` as the next version, under the row lock, if it was computed from the current version
    (references on ``base_url`` are this server's, as for :func:`repository.update`).

    With ``if_match`` a changed version answers 412 (the client's precondition); without, :class:`VersionMovedError`
    lets the caller compute the patch again."""
    row = repository.load_row(session, resource_type, resource_id, lock=True)
    moved = row is None or row.deleted_at is not None or str(row.version_id) != prepared.base_version
    if moved and if_match is None:
        raise VersionMovedError(f"{resource_type}/{resource_id}")
    version = if_match or prepared.base_version
    return repository.update(session, access, prepared.resource, resource_id, version, base_url=base_url)


def patch(
    session: Session,
    access: AccessContext,
    resource_type: str,
    resource_id: str,
    change: Patch,
    if_match: str | None,
    base_url: str | None,
) -> repository.Written:
    """Apply ``change`` to the current version and store the result as the next version, in one transaction (a
    Bundle's entry): the row is locked first, so nothing can change under the patch. ``base_url`` as for
    :func:`store`."""
    repository.load_row(session, resource_type, resource_id, lock=True)
    prepared = prepare(session, access, resource_type, resource_id, change, None)  # If-Match: checked by update
    version = if_match or prepared.base_version
    return repository.update(session, access, prepared.resource, resource_id, version, base_url=base_url)


def _patched(change: Patch, current: dict[str, Any], resource_type: str, resource_id: str) -> dict[str, Any]:
    """``change`` applied to ``current``, checked to be a valid resource of the same type and id (else 422)."""
    patched = change.apply(current)
    _check_identity(current, patched)
    try:
        check_resource(patched, resource_type, resource_id)
    except FhirError as exc:
        raise fail_all(
            Kind.UNPROCESSABLE, exc.issues
        ) from None  # the request was well-formed; its result is not a valid resource
    return patched


def _check_identity(current: dict[str, Any], patched: dict[str, Any]) -> None:
    resource_type = current["resourceType"]
    if patched.get("resourceType") != resource_type:
        raise unprocessable("a patch may not change resourceType", "resourceType", code="not-supported")
    if patched.get("id") != current["id"]:
        raise unprocessable("a patch may not change the id", f"{resource_type}.id", code="not-supported")
