"""Search parameters as OpenAPI query parameters (http://hl7.org/fhir/R4/search.html).

A type's parameters are the ``searchParam`` of its CapabilityStatement entry, each described by the official
SearchParameter's description (the line about that type when one definition serves several) and by what its type
takes (a token's ``system|code``, a date's prefixes). The parameters every search takes (``_count``, ``_sort``,
``_summary``, ...) are shared components; ``_include`` and ``_revinclude`` list the values the entry allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from fhir_server.fhir.search.registry import definition

PARAMETERS = "#/components/parameters/"
ID_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9\\-\\.]{1,64}$"}
VERSION_SCHEMA = {"type": "string", "pattern": "^[0-9]+$"}


def _header(description: str) -> dict[str, Any]:
    return {"in": "header", "required": False, "schema": {"type": "string"}, "description": description}


_SYNTAX = {
    "string": "string: matches values that start with it (:exact, :contains, :missing)",
    "token": "token: [system]|code, or code (:not, :text, :in, :missing)",
    "date": "date: [prefix]YYYY[-MM[-DD[Thh:mm:ss+zz:zz]]], prefix eq ne gt lt ge le sa eb ap",
    "reference": "reference: [Type/]id or an absolute URL (:Type, :identifier, chained .param)",
    "quantity": "quantity: [prefix]number[|system|code]",
    "number": "number: [prefix]number",
    "uri": "uri: the exact URI (:below, :above)",
    "composite": "composite: value$value",
    "special": "special",
}
_RESULT_PARAMETERS: dict[str, dict[str, Any]] = {
    "_count": {"schema": {"type": "integer", "minimum": 0}, "description": "Entries per page"},
    "_sort": {"schema": {"type": "string"}, "description": "Comma-separated parameters to sort by; -name: descending"},
    "_summary": {
        "schema": {"enum": ["true", "text", "data", "count", "false"]},
        "description": "Return a summary of each resource, or only the count",
    },
    "_elements": {"schema": {"type": "string"}, "description": "Comma-separated top-level elements to return"},
    "_total": {"schema": {"enum": ["none", "estimate", "accurate"]}, "description": "Whether to count the matches"},
}
_FORMAT_PARAMETERS: dict[str, dict[str, Any]] = {
    "_format": {"schema": {"enum": ["json", "application/fhir+json"]}, "description": "Response format (JSON)"},
    "_pretty": {"schema": {"type": "boolean"}, "description": "Indent the JSON answer"},
}
_OTHER_PARAMETERS: dict[str, dict[str, Any]] = {
    "id": {"in": "path", "required": True, "description": "The resource's logical id", "schema": ID_SCHEMA},
    "vid": {"in": "path", "required": True, "description": "The version id", "schema": VERSION_SCHEMA},
    "If-None-Exist": _header("Conditional create: a search query; nothing is created when it matches"),
    "If-Match": _header('Only when the current version is this ETag (W/"<vid>")'),
    "Prefer": _header("return=minimal, return=representation or return=OperationOutcome"),
}
_INCLUDES = {"_include": "searchInclude", "_revinclude": "searchRevInclude"}
_EVERY_TYPE = ("http://hl7.org/fhir/SearchParameter/Resource-", "http://hl7.org/fhir/SearchParameter/DomainResource-")
RESULT = tuple(_RESULT_PARAMETERS)
FORMAT = tuple(_FORMAT_PARAMETERS)


def components(entries: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every parameter component: the shared ones (``_count``, ``id``, ``If-Match``, the search parameters of every
    type such as ``_id``) and each type's own search parameters (``Patient.name``), of the CapabilityStatement's
    resource ``entries``."""
    query = {**_RESULT_PARAMETERS, **_FORMAT_PARAMETERS}
    found = {name: {"name": name, "in": "query", "required": False, **spec} for name, spec in query.items()}
    found.update({name: {"name": name, **spec} for name, spec in _OTHER_PARAMETERS.items()})
    for entry in entries:
        for name, parameter in zip(_component_names(entry), _search_parameters(entry["type"], entry), strict=True):
            found[name] = parameter
    return found


def shared(names: tuple[str, ...]) -> list[dict[str, Any]]:
    """References to the shared parameters ``names``."""
    return [{"$ref": PARAMETERS + name} for name in names]


def search_references(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """References to the search parameters of one type's CapabilityStatement ``entry``."""
    return [{"$ref": PARAMETERS + name} for name in _component_names(entry)]


def form_schema(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The ``application/x-www-form-urlencoded`` body of ``POST [type]/_search``: the same parameters as GET."""
    names = [p["name"] for p in entry.get("searchParam", [])] + [n for n, key in _INCLUDES.items() if entry.get(key)]
    return {"type": "object", "properties": {name: {"type": "string"} for name in names}}


def _component_names(entry: Mapping[str, Any]) -> list[str]:
    """Component names of an entry's search parameters: a parameter of every type is shared (``_id``)."""
    names = [p["name"] if _every_type(p) else f"{entry['type']}.{p['name']}" for p in entry.get("searchParam", [])]
    return names + [f"{entry['type']}.{n}" for n, key in _INCLUDES.items() if entry.get(key)]


def _every_type(search_param: Mapping[str, Any]) -> bool:
    return str(search_param.get("definition", "")).startswith(_EVERY_TYPE)


def _search_parameters(resource_type: str, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = [_parameter(resource_type, p) for p in entry.get("searchParam", [])]
    return found + [_includes(name, entry[key]) for name, key in _INCLUDES.items() if entry.get(key)]


def _parameter(resource_type: str, search_param: dict[str, Any]) -> dict[str, Any]:
    syntax = _SYNTAX.get(search_param["type"], search_param["type"])
    about = _description(resource_type, search_param.get("definition", ""))
    return {
        "name": search_param["name"],
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": f"{about} ({syntax})" if about else syntax,
    }


def _includes(name: str, values: list[str]) -> dict[str, Any]:
    what = "referenced" if name == "_include" else "referring"
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": True,
        "schema": {"type": "array", "items": {"enum": values}},
        "description": f"Also return the {what} resources (Type:parameter, or *)",
    }


def _description(resource_type: str, url: str) -> str:
    """The official description of the parameter ``url`` as it applies to ``resource_type`` (its own line of a
    definition shared by several types), on one line."""
    found = definition(url) or {}
    text = str(found.get("description", ""))
    line = re.search(rf"\[{re.escape(resource_type)}\]\([^)]*\):\s*([^\r\n]*)", text)
    if line:
        text = line.group(1)
    elif text.startswith("Multiple Resources"):
        return ""
    return " ".join(text.split())
