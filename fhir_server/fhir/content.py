"""Media types, ``_format``/``_pretty``, ``Prefer`` and the version headers of http://hl7.org/fhir/R4/http.html.

JSON is the only format served: a request for XML (``_format`` or ``Accept``) answers 406, an XML body 415.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.app_context import app_context
from fhir_server.errors import Kind, bad_request, fail

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
_JSON_TYPES = {FHIR_JSON, "application/json", "json", "text/json"}
_XML_TYPES = {"application/fhir+xml", "application/xml", "text/xml", "xml"}
_ACCEPTABLE = _JSON_TYPES | {"*/*", "application/*"}
_ETAG = re.compile(r'^\s*(?:W/)?"([^"]+)"\s*$')


class FhirResponse(Response):
    """``application/fhir+json`` rendered by orjson; ``pretty`` indents it (``_pretty=true``)."""

    media_type = f"{FHIR_JSON}; charset=utf-8"

    def __init__(
        self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None, pretty: bool = False
    ) -> None:
        self._pretty = pretty
        super().__init__(content, status_code, headers)

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        return orjson.dumps(content, option=orjson.OPT_INDENT_2 if self._pretty else 0)


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def check_accept(request: Request) -> None:
    """406 unless the client accepts JSON (``_format`` wins over ``Accept``)."""
    fmt = request.query_params.get("_format")
    if fmt is not None:
        if _media_type(fmt) not in _JSON_TYPES:
            raise fail(Kind.NOT_ACCEPTABLE, f"_format={fmt} is not served; this server speaks JSON only", "_format")
        return
    accept = request.headers.get("accept")
    if not accept:
        return
    types = {_media_type(part) for part in accept.split(",")}
    if types & _ACCEPTABLE or any(t.startswith("text/html") for t in types):
        return
    raise fail(Kind.NOT_ACCEPTABLE, f"cannot answer in {accept}; this server speaks application/fhir+json")


def check_content_type(request: Request, allowed: frozenset[str] = frozenset(_JSON_TYPES)) -> None:
    """415 unless the body is one of ``allowed`` media types."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise fail(Kind.UNSUPPORTED_MEDIA_TYPE, "a Content-Type header is required (application/fhir+json)")
    media_type = _media_type(content_type)
    if media_type not in allowed:
        hint = "XML is not supported; send application/fhir+json" if media_type in _XML_TYPES else ""
        raise fail(Kind.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Type {media_type}. {hint}".strip())


_SUMMARY_MODES = {"true", "text", "data", "false"}


def subset(request: Request, resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` as the request's ``_summary`` (true, text, data, false) or ``_elements`` shows it
    (http://hl7.org/fhir/R4/http.html#parameters, search.html#summary); a subset is tagged SUBSETTED.
    400 for another ``_summary`` value (``count`` means nothing for one resource)."""
    query = request.query_params
    summary = query.get("_summary")
    elements = query.get("_elements")
    if summary is None and elements is None:
        return resource
    from fhir_server.fhir.search.summary import select_elements, summarize

    if summary is not None and summary not in _SUMMARY_MODES:
        raise bad_request("_summary on a read takes true, text, data or false", "_summary")
    if summary is not None and summary != "false":
        return summarize(resource, summary)
    if elements is not None:
        return select_elements(resource, [e.strip() for e in elements.split(",") if e.strip()])
    return resource


def is_pretty(request: Request) -> bool:
    return request.query_params.get("_pretty", "false").lower() == "true"


@dataclass(frozen=True)
class Prefer:
    """The ``Prefer`` header's ``return`` and ``handling`` preferences, and ``respond-async`` (RFC 7240 section 4.1;
    the Bulk Data kick-off requires it)."""

    return_: str = "representation"
    handling: str = "strict"
    respond_async: bool = False

    @classmethod
    def parse(cls, request: Request) -> Prefer:
        values: dict[str, str] = {}
        for header in request.headers.getlist("prefer"):
            for part in header.split(","):
                key, _, value = part.strip().partition("=")
                values[key.strip().lower()] = value.strip().strip('"')
        return_ = values.get("return", "representation")
        if return_ not in {"minimal", "representation", "OperationOutcome"}:
            return_ = "representation"
        handling = values.get("handling", "strict")
        handling = handling if handling in {"strict", "lenient"} else "strict"
        return cls(return_, handling, "respond-async" in values)


def etag(version_id: int | str) -> str:
    return f'W/"{version_id}"'


def parse_etag(value: str, header: str) -> str:
    """The version id in an ETag-style header value (``W/"3"`` or ``"3"``); 400 when malformed."""
    match = _ETAG.match(value)
    if match is None:
        raise bad_request(f'{header} must look like W/"<versionId>"; got {value!r}', header)
    return match.group(1)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(value: datetime) -> str:
    """``value`` as an HTTP-date (RFC 9110 section 5.6.7, IMF-fixdate), whatever its zone; on every response, so
    formatted directly rather than through ``email.utils``."""
    t = value.astimezone(UTC)
    clock = f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{_DAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year:04d} {clock} GMT"


def parse_http_date(value: str) -> datetime | None:
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def version_headers(resource: dict[str, Any], base_url: str) -> dict[str, str]:
    """ETag, Last-Modified and Content-Location of one stored version."""
    meta = resource["meta"]
    last_updated = datetime.fromisoformat(meta["lastUpdated"])
    location = f"{base_url}/{resource['resourceType']}/{resource['id']}/_history/{meta['versionId']}"
    return {"ETag": etag(meta["versionId"]), "Last-Modified": http_date(last_updated), "Content-Location": location}


def resource_response(
    request: Request,
    resource: dict[str, Any],
    status: int = 200,
    prefer: Prefer | None = None,
    location: bool = False,
) -> FhirResponse:
    """A resource with its version headers, shaped by ``Prefer: return=...`` on writes."""
    base_url = app_context(request).base_url
    headers = version_headers(resource, base_url)
    if location:
        headers["Location"] = headers["Content-Location"]
    pretty = is_pretty(request)
    if prefer is None or prefer.return_ == "representation":
        return FhirResponse(resource, status, headers, pretty)
    if prefer.return_ == "minimal":
        return FhirResponse(None, status, headers)
    from fhir_server.fhir.outcomes import informational

    meta = resource["meta"]
    message = f"{resource['resourceType']}/{resource['id']} is at version {meta['versionId']}"
    return FhirResponse(informational(message), status, headers, pretty)
