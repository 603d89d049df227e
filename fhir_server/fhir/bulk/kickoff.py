"""The Bulk Data kick-off request (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-kick-off-request):
its headers and parameters, checked and turned into the export job's ``params`` (the contract with
:mod:`fhir_server.fhir.bulk.runner`).

``Prefer: respond-async`` and ``Accept: application/fhir+json`` are required (export.html#headers); the parameters
are ``_outputFormat`` (NDJSON only), ``_since`` (an instant), ``_type`` (served types, comma-separated, repeatable),
``_typeFilter`` (``Type?query``: a search of that type; several of one type are ORed), ``patient`` (POST Parameters
only, Patient and Group level: a reference to a Patient the caller may read) and ``_elements``. Any other parameter is
a 400 naming it, unless the client sent ``Prefer: handling=lenient`` (then it is ignored and the kick-off answer
says so in an OperationOutcome). Every explicitly requested type must be one the caller may search (403 naming it);
without ``_type`` the runner exports every type the caller's scopes permit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request

from fhir_server.access.compartment import member_types
from fhir_server.access.context import AccessContext
from fhir_server.access.enforcement import forbidden, require_any
from fhir_server.errors import bad_request
from fhir_server.fhir.bulk.plan import check_type_filters
from fhir_server.fhir.content import FHIR_JSON, Prefer
from fhir_server.fhir.operation_parameters import Param, read_input, single
from fhir_server.fhir.search.dates import instant_range
from fhir_server.fhir.search.limits import SearchLimits
from fhir_server.fhir.types import valid_id
from mappings.registry import MAPPINGS

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
"""The ``_outputFormat`` values meaning NDJSON (export.html#query-parameters), the one format written."""
DECLARED = {
    "_outputFormat": Param("string"),
    "_since": Param("instant"),
    "_type": Param("string", repeats=True),
    "_typeFilter": Param("string", repeats=True),
    "patient": Param("Reference", repeats=True),
    "_elements": Param("string", repeats=True),
}
MAX_PATIENTS = 1000
"""The most ``patient`` parameters of one kick-off (a larger cohort is a Group)."""


@dataclass(frozen=True)
class Level:
    """Where the export was kicked off: ``system``, ``patient`` (``Patient/$export``) or ``group``
    (``Group/[id]/$export``, with the Group's id)."""

    kind: str
    group_id: str | None = None

    @property
    def patient_level(self) -> bool:
        """Patient and Group level export only the Patient compartment (export.html#endpoint---all-patients)."""
        return self.kind != "system"


def check_headers(request: Request) -> Prefer:
    """400 unless the kick-off carries ``Prefer: respond-async`` and ``Accept: application/fhir+json``
    (export.html#headers); the parsed ``Prefer`` (its ``handling`` says whether unknown parameters are ignored)."""
    prefer = Prefer.parse(request)
    if not prefer.respond_async:
        raise bad_request("a Bulk Data kick-off requires the header Prefer: respond-async", "Prefer")
    accepted = {part.split(";", 1)[0].strip().lower() for part in request.headers.get("accept", "").split(",")}
    if FHIR_JSON not in accepted:
        raise bad_request(f"a Bulk Data kick-off requires the header Accept: {FHIR_JSON}", "Accept")
    return prefer


async def read_parameters(request: Request, prefer: Prefer) -> tuple[dict[str, list[Any]], list[str]]:
    """The kick-off's parameters (URL, and the Parameters body of a POST) and the names of the parameters ignored
    under ``Prefer: handling=lenient`` (strict: an unknown parameter is a 400 naming it)."""
    ignored: list[str] | None = [] if prefer.handling == "lenient" else None
    values = await read_input(request, "export", DECLARED, ignored)
    return values, ignored or []


def export_params(
    values: dict[str, list[Any]], level: Level, access: AccessContext, limits: SearchLimits
) -> dict[str, Any]:
    """The job's ``params`` (shared contract) from the checked parameters, without the request-bound entries
    (``transaction_time``, ``request``, ``base_url``, ``grant``: :mod:`fhir_server.fhir.bulk.start` adds them)."""
    _check_format(single(values, "_outputFormat"))
    since = single(values, "_since")
    types = _types(values.get("_type", []), level, access)
    filters = type_filters(values.get("_typeFilter", []), types, limits)
    if types is None:
        require_any(access, sorted(MAPPINGS), "search-type")
    return {
        "level": level.kind,
        "group_id": level.group_id,
        "types": types,
        "since": instant_range(since, "_since")[0].isoformat() if since is not None else None,
        "type_filters": filters,
        "patients": _patients(values.get("patient", []), level),
        "elements": _elements(values.get("_elements", [])),
        "output_format": NDJSON,
    }


def _check_format(value: str | None) -> None:
    if value is None:
        return
    if value.replace(" ", "+").strip().lower() not in OUTPUT_FORMATS:  # an unencoded "+" arrives as a space
        known = ", ".join(sorted(OUTPUT_FORMATS))
        raise bad_request(f"_outputFormat {value!r} is not supported (only NDJSON: {known})", "_outputFormat")


def _types(values: list[str], level: Level, access: AccessContext) -> list[str] | None:
    """The requested types (None: every permitted one): 400 for a type not served, 403 for one the caller may not
    search. At Patient and Group level a type outside the Patient compartment has nothing to export: it is kept
    out (export.html: those levels export the compartment), and a request of such types only is a 400."""
    if not values:
        return None
    types = list(dict.fromkeys(t.strip() for value in values for t in value.split(",") if t.strip()))
    unknown = [t for t in types if t not in MAPPINGS]
    if unknown:
        raise bad_request(f"_type: {', '.join(unknown)} is not a resource type this server serves", "_type")
    for resource_type in types:
        if not access.may(resource_type, "search-type"):
            raise forbidden(resource_type, "search-type")
    if level.patient_level:
        members = set(member_types())
        types = [t for t in types if t in members]
        if not types:  # export.html: "asks for only resource types that are outside the Patient Compartment"
            raise bad_request(
                "_type: none of these types is in the Patient compartment a Patient or Group level export covers",
                "_type",
            )
    return types


def type_filters(values: list[str], types: list[str] | None, limits: SearchLimits) -> dict[str, list[str]]:
    """``_typeFilter`` values (``Type?query``; export.html#_typefilter-experimental-query-parameter) as type ->
    query strings: 400 for one that names no type, a type not served, or a type ``_type`` leaves out. The queries
    themselves are checked by the runner's search parser (:func:`fhir_server.fhir.bulk.plan.check_type_filters`)."""
    filters: dict[str, list[str]] = {}
    for value in values:
        resource_type, mark, query = unquote(value).partition("?")
        if not mark or not query:
            raise bad_request(f"_typeFilter {value!r} must be a search: Type?parameter=value", "_typeFilter")
        if resource_type not in MAPPINGS or (types is not None and resource_type not in types):
            raise bad_request(f"_typeFilter names {resource_type!r}, which is not a type exported", "_typeFilter")
        filters.setdefault(resource_type, []).append(query)
    check_type_filters(filters, limits)
    return filters


def _patients(references: list[dict[str, Any]], level: Level) -> list[str] | None:
    """The ids of the ``patient`` references (export.html: POST only, Patient and Group level); None when none."""
    if not references:
        return None
    if not level.patient_level:
        raise bad_request("patient is a parameter of Patient and Group level export only", "patient")
    if len(references) > MAX_PATIENTS:
        raise bad_request(f"at most {MAX_PATIENTS} patient parameters (export a Group for more)", "patient")
    ids = []
    for reference in references:
        text = reference.get("reference")
        resource_type, _, patient_id = str(text).rstrip("/").rpartition("/")
        if not isinstance(text, str) or resource_type.rsplit("/", 1)[-1] != "Patient":
            raise bad_request(f"patient must reference a Patient (got {str(text)[:60]!r})", "patient")
        valid_id(patient_id, "patient")
        ids.append(patient_id)
    return list(dict.fromkeys(ids))


def _elements(values: list[str]) -> list[str] | None:
    elements = [e.strip() for value in values for e in value.split(",") if e.strip()]
    return elements or None
