"""Parsing a search query (http://hl7.org/fhir/R4/search.html) into criteria and result controls.

Criteria are ANDed (repeated parameters) and each holds ORed values (commas). A name is
``code[:modifier][.chained-code...]`` or ``_has:Type:reference:code``. Unknown parameters, modifiers and
prefixes are errors unless the client asked for ``Prefer: handling=lenient``, in which case they are dropped
and reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fhir_server.errors import FhirError, Issue, bad_request
from fhir_server.fhir.search import client_params
from fhir_server.fhir.search.dates import date_range
from fhir_server.fhir.search.limits import DEFAULT_COUNT, SearchLimits, check, count_notes, page_size
from fhir_server.fhir.search.registry import SearchParameter, parameters_for
from fhir_server.fhir.types import storable
from mappings.registry import MAPPINGS

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
MODIFIERS = {
    "string": {"exact", "contains", "missing"},
    "token": {"not", "text", "of-type", "missing"},
    "date": {"missing"},
    "number": {"missing"},
    "quantity": {"missing"},
    "reference": {"identifier", "missing"},
    "uri": {"below", "above", "missing"},
    "composite": {"missing"},
}
CONTROLS = frozenset(
    {
        "_count",
        "_sort",
        "_include",
        "_revinclude",
        "_summary",
        "_elements",
        "_total",
        "_format",
        "_pretty",
        "_cursor",
        "_include:iterate",
        "_revinclude:iterate",
    }
)
_SPLIT = re.compile(r"(?<!\\),")
_COMPOSITE_SPLIT = re.compile(r"(?<!\\)\$")
_PREFIXED = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[\d-])")


@dataclass(frozen=True)
class Criterion:
    """One search parameter test: ``values`` are ORed; ``chain`` tests a referenced resource instead."""

    param: SearchParameter
    modifier: str | None
    values: tuple[str, ...]
    chain: tuple[str, Criterion] | None = None  # (target type, criterion on that type)
    has: tuple[str, str, Criterion] | None = None  # (source type, reference code, criterion on source)

    @property
    def name(self) -> str:
        return self.param.code


@dataclass(frozen=True)
class Include:
    source_type: str
    param: str  # reference code, or "*"
    target_type: str | None
    iterate: bool
    reverse: bool


@dataclass
class SearchQuery:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (code, descending)
    includes: list[Include] = field(default_factory=list)
    summary: str | None = None
    elements: list[str] | None = None
    total: str | None = None  # _total as asked (none | estimate | accurate); None: not asked
    cursor: str | None = None
    canonical: list[tuple[str, str]] = field(default_factory=list)  # the parameters as understood (self link)
    ignored: list[Issue] = field(default_factory=list)
    compartment: str | None = None  # search within Patient/<id>'s compartment


def split_values(raw: str) -> tuple[str, ...]:
    """Comma-separated alternatives (``\\,`` is a literal comma)."""
    return tuple(v.replace("\\,", ",") for v in _SPLIT.split(raw))


def composite_parts(value: str) -> tuple[str, ...]:
    """The component values of a composite parameter's value: ``$`` separates them, ``\\$`` is a literal ``$``
    (http://hl7.org/fhir/R4/search.html#composite)."""
    return tuple(v.replace("\\$", "$") for v in _COMPOSITE_SPLIT.split(value))


def split_prefix(value: str, param_type: str) -> tuple[str, str]:
    """(prefix, value) of an ordered parameter's value (``ge2020`` -> ``ge``, ``2020``); ``eq`` by default."""
    if param_type not in {"date", "number", "quantity"}:
        return "eq", value
    match = _PREFIXED.match(value)
    return (match.group(1), value[2:]) if match else ("eq", value)


def parse(resource_type: str, pairs: list[tuple[str, str]], limits: SearchLimits, lenient: bool = False) -> SearchQuery:
    """The query ``pairs`` mean for ``resource_type``; 400 for anything not understood (unless lenient) and, even
    when lenient, for a search beyond ``limits`` (fhir_server.fhir.search.limits) and for a name or value holding
    U+0000 (:func:`check_storable`)."""
    check_storable(pairs)
    _check_limits(pairs, limits)
    query = SearchQuery(resource_type)
    for name, raw in pairs:
        try:
            _parse_pair(query, name, raw)
        except FhirError as exc:
            if not lenient:
                raise
            query.ignored.extend(Issue(i.code, i.diagnostics, i.expression, "warning") for i in exc.issues)
    return query


def check_storable(pairs: list[tuple[str, str]]) -> None:
    """400 naming the first parameter whose name or value holds U+0000 (:func:`~fhir_server.fhir.types.storable`).
    Every search reaches :func:`parse` (GET and POST ``_search``, compartments, conditional criteria,
    ``If-None-Exist``, a Bundle entry's url or ``ifNoneExist``), so this is the one check for all of them."""
    for name, raw in pairs:
        storable(name, name)
        storable(raw, name)


def _check_limits(pairs: list[tuple[str, str]], limits: SearchLimits) -> None:
    criteria = [(name, list(split_values(raw))) for name, raw in pairs if not _is_control(name)]
    includes = [value for name, raw in pairs if _is_include(name) for value in raw.split(",")]
    check(criteria, includes, limits)


def _is_include(name: str) -> bool:
    return name.split(":")[0] in {"_include", "_revinclude"}


def _is_control(name: str) -> bool:
    """``name`` is a result parameter (paging, includes, format...), not a criterion."""
    return name in CONTROLS or name in client_params.NAMES or _is_include(name)


def _parse_pair(query: SearchQuery, name: str, raw: str) -> None:
    name, raw = client_params.standard(name, raw)
    if _is_control(name):
        _control(query, name, raw)
        if name not in {"_format", "_pretty", "_cursor"}:
            query.canonical.append((name, str(query.count) if name == "_count" else raw))
        return
    if name.startswith("_has:"):
        query.criteria.append(_has(query.resource_type, name, raw))
    else:
        query.criteria.append(criterion(query.resource_type, name, raw))
    query.canonical.append((name, raw))


def _known(resource_type: str, code: str) -> SearchParameter:
    params = parameters_for(resource_type)
    if code not in params:
        raise bad_request(f"unknown search parameter {code!r} for {resource_type}", code, code="not-supported")
    return params[code]


def criterion(resource_type: str, name: str, raw: str) -> Criterion:
    """One ``name=raw`` criterion, chains included."""
    head, dot, rest = name.partition(".")
    code, _, modifier = head.partition(":")
    param = _known(resource_type, code)
    if dot:
        return _chain(resource_type, param, modifier or None, rest, raw, name)
    given = modifier or None
    type_modifier = param.type == "reference" and given in param.targets  # :Type, served or not (only chains resolve)
    if given is not None and given not in MODIFIERS[param.type] and not type_modifier:
        raise bad_request(
            f"modifier :{given} is not supported on {param.type} parameter {code!r}", name, code="not-supported"
        )
    values = split_values(raw)
    if given == "missing" and raw not in {"true", "false"}:
        raise bad_request(f"{name} takes true or false", name)
    for value in values:
        _check_value(param, given, value, name)
    return Criterion(param, given, values)


def _check_value(param: SearchParameter, modifier: str | None, value: str, name: str) -> None:
    if modifier == "missing":
        return
    if param.components:
        parts = composite_parts(value)
        if len(parts) != len(param.components):
            wanted = len(param.components)
            raise bad_request(f"{name}: {value!r} is not {wanted} values separated by $", name)
        for component, part in zip(param.components, parts, strict=True):
            _check_value(component, None, part, name)
        return
    rest = split_prefix(value, param.type)[1]
    if param.type == "date":
        try:
            date_range(rest)
        except ValueError:
            raise bad_request(f"{name}: {value!r} is not a date (prefixes: {', '.join(PREFIXES)})", name) from None
    elif param.type in {"number", "quantity"}:
        number = rest.split("|", 1)[0]
        try:
            float(number)
        except ValueError:
            raise bad_request(f"{name}: {value!r} is not a number", name) from None


def _chain(
    resource_type: str, param: SearchParameter, type_modifier: str | None, rest: str, raw: str, name: str
) -> Criterion:
    if param.type != "reference":
        raise bad_request(f"{name}: only reference parameters can be chained", name)
    targets = [type_modifier] if type_modifier else [t for t in param.targets if t in MAPPINGS]
    chained_code = rest.partition(".")[0].partition(":")[0]
    candidates = [t for t in targets if t in MAPPINGS and chained_code in parameters_for(t)]
    if len(candidates) != 1:
        hint = "name the target type, e.g. subject:Patient.name" if len(candidates) > 1 else "no served target has it"
        raise bad_request(f"cannot chain {name}: {hint}", name, code="not-supported")
    target = candidates[0]
    return Criterion(param, None, (), chain=(target, criterion(target, rest, raw)))


def _has(resource_type: str, name: str, raw: str) -> Criterion:
    parts = name.split(":", 3)
    if len(parts) != 4 or parts[1] not in MAPPINGS:
        raise bad_request(f"{name}: _has takes _has:Type:reference:parameter", name)
    _, source_type, reference_code, rest = parts
    reference = _known(source_type, reference_code)
    if reference.type != "reference":
        raise bad_request(f"{name}: {reference_code} is not a reference parameter of {source_type}", name)
    inner = _has(source_type, rest, raw) if rest.startswith("_has:") else criterion(source_type, rest, raw)
    return Criterion(reference, None, (), has=(source_type, reference_code, inner))


def _control(query: SearchQuery, name: str, raw: str) -> None:
    if name == "_count":
        query.count = page_size(raw)
        query.ignored.extend(count_notes(raw))
    elif name == "_sort":
        query.sort = [_sort_key(query.resource_type, key) for key in raw.split(",") if key]
    elif name.startswith(("_include", "_revinclude")):
        query.includes.extend(_include(query.resource_type, name, value) for value in raw.split(","))
    elif name == "_summary":
        if raw not in {"true", "text", "data", "count", "false"}:
            raise bad_request("_summary takes true, text, data, count or false", "_summary")
        query.summary = None if raw == "false" else raw
    elif name == "_elements":
        query.elements = [e.strip() for e in raw.split(",") if e.strip()]
    elif name == "_total":
        if raw not in {"none", "estimate", "accurate"}:
            raise bad_request("_total takes none, estimate or accurate", "_total")
        query.total = raw
    elif name == "_cursor":
        query.cursor = raw


def _sort_key(resource_type: str, key: str) -> tuple[str, bool]:
    code = key.lstrip("-")
    if code not in {"_id", "_lastUpdated"} and _known(resource_type, code).type == "composite":
        raise bad_request(f"_sort: composite parameter {code!r} has no order", "_sort", code="not-supported")
    return code, key.startswith("-")


def _include(resource_type: str, name: str, value: str) -> Include:
    reverse = name.startswith("_revinclude")
    iterate = name.endswith(":iterate")
    parts = value.split(":")
    if value == "*":  # every reference of the matches (_include), every resource referring to them (_revinclude)
        return Include("*", "*", None, iterate, reverse)
    if len(parts) not in (2, 3) or parts[0] not in MAPPINGS:
        raise bad_request(f"{name}={value}: expected SourceType:parameter[:TargetType]", name)
    source, code = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    if code != "*" and _known(source, code).type != "reference":
        raise bad_request(f"{name}={value}: {code} is not a reference parameter of {source}", name)
    if not reverse and not iterate and source != resource_type:
        raise bad_request(f"{name}={value}: the source type must be {resource_type} (or use :iterate)", name)
    return Include(source, code, target, iterate, reverse)
