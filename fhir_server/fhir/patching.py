"""The patch interaction's service (http://hl7.org/fhir/R4/http.html#patch): apply a JSON Patch (RFC 6902) or a
FHIRPath Patch to the current version, validate the result and write it through :func:`repository.update`.

The row is locked before the current version is read, so a concurrent writer cannot slip in between; ``If-Match``
(or, without it, the version just read) guards the write. A malformed patch document answers 400, a patch that
cannot apply (a failed ``test``, a missing path) or whose result is not a valid resource 422, each naming the
operation (``operation[i]`` for JSON Patch, ``Parameters.parameter[i]`` for FHIRPath Patch). A patch may not change
``resourceType`` or ``id``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer
from sqlalchemy.orm import Session

from fhir_server.auth.context import AccessContext
from fhir_server.fhir import fhirpath_patch, repository
from fhir_server.fhir.content import JSON_PATCH
from fhir_server.fhir.outcomes import FhirError, bad_request, unprocessable
from fhir_server.fhir.validation import check_resource

_JSON_PATCH_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


@dataclass(frozen=True)
class Patch:
    """A parsed patch document: ``kind`` is ``json-patch`` or ``fhirpath-patch``."""

    kind: str
    document: Any

    @classmethod
    def of(cls, media_type: str, document: Any) -> Patch:
        """The patch a body of ``media_type`` holds; 400 when its shape is wrong for that kind."""
        if media_type == JSON_PATCH:
            check_json_patch(document)
            return cls("json-patch", document)
        fhirpath_patch.read_operations(document)
        return cls("fhirpath-patch", document)

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "json-patch":
            return apply_json_patch(resource, self.document)
        return fhirpath_patch.apply(resource, self.document)


def check_json_patch(document: Any) -> None:
    """400 unless ``document`` is an RFC 6902 array of well-formed operations."""
    if not isinstance(document, list):
        raise bad_request("a JSON Patch body must be an array of operations", code="structure")
    for i, operation in enumerate(document):
        where = f"operation[{i}]"
        if not isinstance(operation, dict) or operation.get("op") not in _JSON_PATCH_OPS:
            raise bad_request(f"{where}: op must be one of {', '.join(sorted(_JSON_PATCH_OPS))}", where)
        needed = ["path"] + (["from"] if operation["op"] in ("move", "copy") else [])
        needed += ["value"] if operation["op"] in ("add", "replace", "test") else []
        missing = [name for name in needed if name not in operation]
        if missing or not all(isinstance(operation[p], str) for p in ("path", "from") if p in operation):
            raise bad_request(f"{where}: a {operation['op']} operation needs {', '.join(needed)} (strings)", where)


def apply_json_patch(resource: dict[str, Any], document: list[dict[str, Any]]) -> dict[str, Any]:
    """``resource`` with the operations applied in order; 422 naming the first that cannot apply."""
    patched = copy.deepcopy(resource)
    for i, operation in enumerate(document):
        try:
            patched = jsonpatch.JsonPatch([operation]).apply(patched)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise unprocessable(f"operation[{i}]: test failed: {exc}", f"operation[{i}]") from None
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise unprocessable(
                f"operation[{i}] ({operation['op']} {operation['path']}): {exc}", f"operation[{i}]"
            ) from None
    if not isinstance(patched, dict):
        raise unprocessable("the patch replaces the resource with something that is not a JSON object")
    return patched


def patch(
    session: Session,
    access: AccessContext,
    resource_type: str,
    resource_id: str,
    change: Patch,
    if_match: str | None,
) -> repository.Written:
    """Apply ``change`` to the current version and store the result as the next version."""
    repository.load_row(session, resource_type, resource_id, lock=True)
    current = repository.read(session, access, resource_type, resource_id, "patch")  # 403 without u
    patched = change.apply(current)
    _check_identity(current, patched)
    try:
        check_resource(patched, resource_type, resource_id)
    except FhirError as exc:
        raise FhirError(422, exc.issues) from None  # the request was well-formed; its result is not a valid resource
    return repository.update(session, access, patched, resource_id, if_match or current["meta"]["versionId"])


def _check_identity(current: dict[str, Any], patched: dict[str, Any]) -> None:
    resource_type = current["resourceType"]
    if patched.get("resourceType") != resource_type:
        raise unprocessable("a patch may not change resourceType", "resourceType", code="not-supported")
    if patched.get("id") != current["id"]:
        raise unprocessable("a patch may not change the id", f"{resource_type}.id", code="not-supported")
