"""The entries of a batch or transaction Bundle (http://hl7.org/fhir/R4/http.html#transaction), parsed and
checked: what each asks (method, type, id, version, query) and with which headers."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import orjson

from fhir_server.errors import FhirError, Kind, bad_request, fail
from fhir_server.fhir.content import FHIR_JSON, JSON_PATCH, parse_etag
from fhir_server.fhir.patch_limits import PatchLimits
from fhir_server.fhir.patching import Patch
from fhir_server.fhir.types import served_type, valid_id
from fhir_server.fhir.validation import check_resource

METHOD_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass
class Entry:
    """One request of a Bundle; ``index`` is its position in the Bundle (responses keep that order)."""

    index: int
    method: str
    resource_type: str
    resource_id: str | None = None
    version_id: str | None = None
    query: str = ""
    resource: dict[str, Any] | None = None
    full_url: str | None = None
    if_none_exist: str | None = None
    if_match: str | None = None
    patch: Patch | None = None
    existing: bool = False  # a conditional entry matched a stored resource

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"


def parse_bundle(bundle: Any, max_entries: int, patch_limits: PatchLimits | None = None) -> tuple[str, list[Entry]]:
    """(batch|transaction, entries) of a request Bundle; 400 naming the entry at fault, 413 when too long (or a
    PATCH entry holds more operations than ``patch_limits`` allow)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise bad_request("POST to the base takes a Bundle of type batch or transaction", "Bundle")
    kind = bundle.get("type")
    if kind not in {"batch", "transaction"}:
        raise bad_request(f"Bundle.type must be batch or transaction (got {kind!r})", "Bundle.type")
    raw_entries = bundle.get("entry") or []
    if len(raw_entries) > max_entries:
        raise fail(Kind.TOO_LARGE, f"the Bundle has {len(raw_entries)} entries; at most {max_entries}")
    return kind, [parse_entry(i, raw, patch_limits) for i, raw in enumerate(raw_entries)]


def parse_entry(index: int, raw: Any, patch_limits: PatchLimits | None = None) -> Entry:
    where = f"Bundle.entry[{index}]"
    request = raw.get("request") if isinstance(raw, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise bad_request(f"{where}.request with a method and url is required", f"{where}.request")
    method = str(request.get("method", "")).upper()
    if method not in METHOD_ORDER:
        raise bad_request(f"{where}.request.method {method!r} is not supported", f"{where}.request.method")
    entry = _target(index, method, request["url"])
    entry.full_url = raw.get("fullUrl")
    entry.if_none_exist = request.get("ifNoneExist")
    if request.get("ifMatch"):
        entry.if_match = parse_etag(request["ifMatch"], f"{where}.request.ifMatch")
    _attach_body(entry, raw.get("resource"), patch_limits)
    return entry


def _target(index: int, method: str, url: str) -> Entry:
    where = f"Bundle.entry[{index}].request.url"
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if "://" in url:
        type_at = next((i for i, s in enumerate(segments) if s[:1].isupper()), None)
        segments = segments[type_at:] if type_at is not None else []
    if not segments:
        raise bad_request(f"{where} {url!r} names no resource type", where)
    try:
        resource_type = served_type(segments[0])
        entry = Entry(index, method, resource_type, query=parts.query)
        if len(segments) >= 2:
            entry.resource_id = valid_id(segments[1], where)
        if len(segments) == 4 and segments[2] == "_history":
            entry.version_id = segments[3]
        elif len(segments) > 2:
            raise bad_request(f"{where} {url!r} is not a resource or type URL", where)
    except FhirError as exc:
        raise FhirError(exc.status, [*exc.issues]) from None
    return entry


def _attach_body(entry: Entry, resource: Any, patch_limits: PatchLimits | None) -> None:
    where = f"{entry.where}.resource"
    if entry.method in {"POST", "PUT"}:
        if resource is None:
            raise bad_request(f"{where} is required for {entry.method}", where)
        try:
            check_resource(resource, entry.resource_type, entry.resource_id if entry.method == "PUT" else None)
        except FhirError as exc:
            raise placed(exc, entry.resource_type, where) from None
        entry.resource = resource
    elif entry.method == "PATCH":
        entry.patch = _patch_of(entry, resource, patch_limits)


def placed(exc: FhirError, resource_type: str, where: str) -> FhirError:
    """``exc`` with each issue's element named where it sits in the Bundle: ``Patient.gender`` of the resource of
    entry 3 becomes ``Bundle.entry[3].resource.gender`` (``resourceType`` becomes ``...resource.resourceType``)."""

    def moved(text: str) -> str:
        if text == "resourceType" or text.startswith("resourceType:"):
            return f"{where}.{text}"
        if text == resource_type or text.startswith((f"{resource_type}.", f"{resource_type}:")):
            return where + text[len(resource_type) :]
        return text

    issues = [
        replace(i, diagnostics=moved(i.diagnostics), expression=tuple(map(moved, i.expression))) for i in exc.issues
    ]
    return FhirError(exc.status, issues, exc.headers)


def _patch_of(entry: Entry, resource: Any, limits: PatchLimits | None) -> Patch:
    where = f"{entry.where}.resource"
    if isinstance(resource, dict) and resource.get("resourceType") == "Binary":
        try:
            document = orjson.loads(base64.b64decode(resource.get("data", "")))
        except (ValueError, orjson.JSONDecodeError):
            raise bad_request(f"{where}: Binary.data is not a base64 JSON Patch", where) from None
        return Patch.of(JSON_PATCH, document, limits)
    if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
        return Patch.of(FHIR_JSON, resource, limits)
    raise bad_request(f"{where}: a PATCH entry carries a Binary (JSON Patch) or Parameters (FHIRPath Patch)", where)
