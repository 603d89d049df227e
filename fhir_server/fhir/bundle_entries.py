"""The entries of a batch or transaction Bundle (http://hl7.org/fhir/R4/http.html#transaction), parsed and
checked: what each asks (method, type, id, version, query) and with which headers."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import orjson

from fhir_server.errors import FhirError, Issue, Kind, bad_request, fail, fail_all
from fhir_server.fhir.content import FHIR_JSON, JSON_PATCH, MERGE_PATCH, parse_etag
from fhir_server.fhir.patch_limits import PatchLimits
from fhir_server.fhir.patching import Patch
from fhir_server.fhir.types import served_type, valid_id
from fhir_server.fhir.validation import check_resource, structure_issues

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

    def fallback(self, status: int) -> str:
        """The element of this entry an error without an element of its own (``status``) is about."""
        if status == 412 and self.if_match is not None:
            return "request.ifMatch"
        if status == 412 and self.method == "POST" and self.if_none_exist:
            return "request.ifNoneExist"
        if status in {400, 422} and (self.resource is not None or self.patch is not None):
            return "resource"
        return "request.url"

    def located(self, exc: FhirError) -> FhirError:
        """``exc`` naming this entry (:func:`located`; elements of the type are its resource's when it has one)."""
        resource_type = self.resource_type if self.resource is not None else None
        return located(exc, self.index, resource_type, self.fallback(exc.status))


Parsed = Entry | FhirError
"""An entry of a request Bundle as parsed: what it asks, or why it cannot be carried out (naming the entry)."""


def parse_bundle(bundle: Any, max_entries: int, patch_limits: PatchLimits | None = None) -> tuple[str, list[Parsed]]:
    """(batch|transaction, entries) of a request Bundle; 400 when it is no Bundle of either type or its ``entry`` no
    array, 413 when it has more than ``max_entries``. An entry that cannot be parsed is its error, naming it
    (http://hl7.org/fhir/R4/http.html#brules: a batch answers it in that entry alone); for a transaction, 400 (or
    the first such error's status) listing every entry's issues (http.html#trules: it fails whole). The Bundle's
    own R4 structure is checked without its entries' resources (each is checked as its entry is parsed): an issue
    outside the entries refuses the Bundle (400), one inside an entry is that entry's."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise bad_request("POST to the base takes a Bundle of type batch or transaction", "Bundle")
    kind = bundle.get("type")
    if kind not in {"batch", "transaction"}:
        raise bad_request(f"Bundle.type must be batch or transaction (got {kind!r})", "Bundle.type")
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise bad_request("Bundle.entry must be an array of entries", "Bundle.entry", code="structure")
    if len(raw_entries) > max_entries:
        raise fail(Kind.TOO_LARGE, f"the Bundle has {len(raw_entries)} entries; at most {max_entries}")
    malformed = _entry_structure_issues(bundle, raw_entries)
    parsed = [
        FhirError(400, malformed[i]) if i in malformed else _parsed(i, raw, patch_limits)
        for i, raw in enumerate(raw_entries)
    ]
    errors = [p for p in parsed if isinstance(p, FhirError)]
    if kind == "transaction" and errors:
        raise FhirError(errors[0].status, [issue for e in errors for issue in e.issues], errors[0].headers)
    return kind, parsed


_ENTRY_AT = re.compile(r"Bundle\.entry\[(\d+)\]")


def _entry_structure_issues(bundle: dict[str, Any], raw_entries: list[Any]) -> dict[int, list[Issue]]:
    """The R4 structure issues of the entries (request, fullUrl, ...; not their resources), by entry index; 400
    listing those of the Bundle itself when it has any."""
    envelope = {**bundle, "entry": [_without_resource(raw) for raw in raw_entries]}
    if not raw_entries:
        del envelope["entry"]  # no entries: nothing to run (an empty array is taken as none)
    by_entry: dict[int, list[Issue]] = {}
    outside: list[Issue] = []
    for issue in structure_issues(envelope):
        at = _ENTRY_AT.match(issue.expression[0]) if issue.expression else None
        if at is None:
            outside.append(issue)
        elif issue.expression[0] != at[0] or not _only_resource(raw_entries[int(at[1])]):
            by_entry.setdefault(int(at[1]), []).append(issue)
    if outside:
        raise fail_all(Kind.INVALID, outside)
    return by_entry


def _only_resource(raw: Any) -> bool:
    """True for an entry holding nothing but a resource (empty without it; :func:`parse_entry` says what it lacks)."""
    return isinstance(raw, dict) and list(raw) == ["resource"]


def _without_resource(raw: Any) -> Any:
    if isinstance(raw, dict) and "resource" in raw:
        return {k: v for k, v in raw.items() if k != "resource"}
    return raw


def _parsed(index: int, raw: Any, patch_limits: PatchLimits | None) -> Parsed:
    try:
        return parse_entry(index, raw, patch_limits)
    except FhirError as exc:
        return exc


def parse_entry(index: int, raw: Any, patch_limits: PatchLimits | None = None) -> Entry:
    """The request of entry ``index``; its error, naming the entry's element at fault, when it cannot be parsed."""
    where = f"Bundle.entry[{index}]"
    request = raw.get("request") if isinstance(raw, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise bad_request(f"{where}.request with a method and url is required", f"{where}.request")
    method = str(request.get("method", "")).upper()
    if method not in METHOD_ORDER:
        raise bad_request(f"{where}.request.method {method!r} is not supported", f"{where}.request.method")
    try:
        entry = _target(index, method, request["url"])
    except FhirError as exc:
        raise located(exc, index) from None
    entry.full_url = raw.get("fullUrl")
    entry.if_none_exist = request.get("ifNoneExist")
    if request.get("ifMatch"):
        entry.if_match = parse_etag(request["ifMatch"], f"{where}.request.ifMatch")
    try:
        _attach_body(entry, raw.get("resource"), patch_limits)
    except FhirError as exc:
        raise entry.located(exc) from None
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
    entry = Entry(index, method, served_type(segments[0]), query=parts.query)
    if len(segments) >= 2:
        entry.resource_id = valid_id(segments[1], where)
    if len(segments) == 4 and segments[2] == "_history":
        entry.version_id = segments[3]
    elif len(segments) > 2:
        raise bad_request(f"{where} {url!r} is not a resource or type URL", where)
    return entry


def _attach_body(entry: Entry, resource: Any, patch_limits: PatchLimits | None) -> None:
    where = f"{entry.where}.resource"
    if entry.method in {"POST", "PUT"}:
        if resource is None:
            raise bad_request(f"{where} is required for {entry.method}", where)
        entry.resource = resource  # an error of it names the entry's resource (Entry.fallback)
        check_resource(resource, entry.resource_type, entry.resource_id if entry.method == "PUT" else None)
    elif entry.method == "PATCH":
        entry.patch = _patch_of(entry, resource, patch_limits)


def located(exc: FhirError, index: int, resource_type: str | None = None, fallback: str = "request.url") -> FhirError:
    """``exc`` with every issue naming entry ``index`` of the Bundle: an element of the entry's resource (of
    ``resource_type``) moves there (``Patient.gender`` becomes ``Bundle.entry[3].resource.gender``, ``resourceType``
    ``Bundle.entry[3].resource.resourceType``), an element of the Bundle stays, and any other (a search parameter,
    or none at all) becomes ``Bundle.entry[3].<fallback>``; the diagnostics start with the entry's element (and
    the replaced names they do not quote: ``Bundle.entry[3] (name:contains): ...``). Locating a located error
    changes nothing."""
    where = f"Bundle.entry[{index}]"

    def moved(text: str) -> str:
        if text == "resourceType" or text.startswith("resourceType:"):
            return f"{where}.resource.{text}"
        if resource_type and (text == resource_type or text.startswith((f"{resource_type}.", f"{resource_type}:"))):
            return f"{where}.resource{text[len(resource_type) :]}"
        return text

    def issue(found: Issue) -> Issue:
        expressions = [moved(e) for e in found.expression]
        in_bundle = [e for e in expressions if e.startswith("Bundle.")]
        others = [e for e in expressions if e not in in_bundle]  # a search parameter: named in the diagnostics
        if others or not in_bundle:
            in_bundle.append(f"{where}.{fallback}")
        diagnostics = moved(found.diagnostics)
        if not (diagnostics == where or diagnostics.startswith((f"{where}.", f"{where}:", f"{where} "))):
            unnamed = ", ".join(e for e in others if e not in diagnostics)
            diagnostics = f"{where} ({unnamed}): {diagnostics}" if unnamed else f"{where}: {diagnostics}"
        return replace(found, diagnostics=diagnostics, expression=tuple(dict.fromkeys(in_bundle)))

    return FhirError(exc.status, [issue(i) for i in exc.issues], exc.headers)


def _patch_of(entry: Entry, resource: Any, limits: PatchLimits | None) -> Patch:
    where = f"{entry.where}.resource"
    if isinstance(resource, dict) and resource.get("resourceType") == "Binary":
        try:
            document = orjson.loads(base64.b64decode(resource.get("data", "")))
        except (ValueError, orjson.JSONDecodeError):
            raise bad_request(f"{where}: Binary.data is not a base64 JSON Patch", where) from None
        return Patch.of(MERGE_PATCH if resource.get("contentType") == MERGE_PATCH else JSON_PATCH, document, limits)
    if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
        return Patch.of(FHIR_JSON, resource, limits)
    raise bad_request(
        f"{where}: a PATCH entry carries a Binary (JSON Patch, or JSON Merge Patch by its contentType) or Parameters "
        "(FHIRPath Patch)",
        where,
    )
