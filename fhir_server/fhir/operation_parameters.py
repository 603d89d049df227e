"""The input and output parameters of an operation (http://hl7.org/fhir/R4/operations.html#request).

An operation is invoked by GET with its parameters in the URL (primitive types only) or by POST with a Parameters
resource. :func:`read_input` turns either into the values the operation declares (:data:`Declared`: each parameter's
FHIR type and whether it repeats), refusing with a 400 OperationOutcome naming the parameter anything else: an unknown
parameter, a repeated one, a value of the wrong type, a complex type in the URL. :func:`parameters` builds the
answer's Parameters resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request

from fhir_server.errors import bad_request
from fhir_server.fhir.content import check_content_type
from fhir_server.fhir.request_body import parsed
from fhir_server.fhir.validation import parse_json

COMPLEX = frozenset({"Coding", "CodeableConcept", "Reference"})
CONTROL = frozenset({"_format", "_pretty"})
"""URL parameters of the HTTP layer, not of the operation."""
MAX_TEXT = 1000
"""The longest value of a primitive parameter accepted (a code, a URL, a filter)."""
_INTEGER = re.compile(r"-?[0-9]{1,9}")


@dataclass(frozen=True)
class Param:
    """A declared input parameter: its FHIR type and whether it may repeat (``max = *``)."""

    type: str
    repeats: bool = False


Declared = Mapping[str, Param]


def add_routes(router: APIRouter, path: str, endpoint: Callable[..., Any], extra: dict[str, Any]) -> None:
    """Route ``GET`` and ``POST`` of ``path`` to ``endpoint`` (an operation is invoked either way), each with an
    OpenAPI operation id of its own."""
    for method in ("GET", "POST"):
        name = f"{endpoint.__name__}_{method.lower()}"
        summary = f"{path.rsplit('/', 1)[-1]} ({method})"
        router.add_api_route(
            path, endpoint, methods=[method], summary=summary, name=name, operation_id=name, openapi_extra=extra
        )


async def read_input(
    request: Request, operation: str, declared: Declared, ignored: list[str] | None = None
) -> dict[str, list[Any]]:
    """The input of ``$operation``: name -> values (str, int or bool for primitives; a dict for Coding,
    CodeableConcept and Reference), from the URL and, for POST, a Parameters body. With an ``ignored`` list (the
    request asked for ``Prefer: handling=lenient``) an undeclared parameter is named there instead of refused."""
    values: dict[str, list[Any]] = {}
    for name, raw in request.query_params.multi_items():
        if name in CONTROL:
            continue
        if ignored is not None and name not in declared:
            ignored.append(name)
            continue
        _add(values, operation, declared, name, _from_text(operation, declared, name, raw), name)
    if request.method == "POST":
        body = await request.body()
        if body.strip():
            check_content_type(request)
            _from_parameters(values, operation, declared, await parsed(body, parse_json), ignored)
    return values


def single(values: Mapping[str, list[Any]], name: str) -> Any:
    """The one value of ``name`` (None when absent)."""
    found = values.get(name)
    return found[0] if found else None


def _add(values: dict[str, list[Any]], operation: str, declared: Declared, name: str, value: Any, where: str) -> None:
    found = values.setdefault(name, [])
    if found and not declared[name].repeats:
        raise bad_request(f"${operation} takes one {name} parameter (given more than once)", where)
    found.append(value)


def _declared(operation: str, declared: Declared, name: Any, where: str) -> Param:
    if not isinstance(name, str) or name not in declared:
        known = ", ".join(declared)
        raise bad_request(f"${operation} has no parameter {name!r} (it takes {known})", where, code="not-supported")
    return declared[name]


def _from_text(operation: str, declared: Declared, name: str, raw: str) -> Any:
    """A URL parameter's value, parsed for its declared type."""
    param = _declared(operation, declared, name, name)
    if param.type in COMPLEX:
        raise bad_request(f"{name} is a {param.type}: send it in a Parameters resource (POST)", name)
    return _primitive(param.type, raw, name)


def _primitive(type_: str, raw: Any, where: str) -> Any:
    if type_ == "integer":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _INTEGER.fullmatch(raw):
            return int(raw)
        raise bad_request(f"{where} must be an integer (got {str(raw)[:40]!r})", where, code="value")
    if type_ == "boolean":
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "false"):
            return raw == "true"
        raise bad_request(f"{where} must be true or false (got {str(raw)[:40]!r})", where, code="value")
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_TEXT:
        raise bad_request(f"{where} must be a non-empty {type_} of at most {MAX_TEXT} characters", where, code="value")
    return raw


def _from_parameters(
    values: dict[str, list[Any]], operation: str, declared: Declared, body: Any, ignored: list[str] | None = None
) -> None:
    """The parameters of a Parameters body, added to ``values`` (undeclared ones named in ``ignored`` when given)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise bad_request(f"the body of ${operation} must be a Parameters resource", "Parameters", code="structure")
    entries = body.get("parameter", [])
    if not isinstance(entries, list):
        raise bad_request("Parameters.parameter must be an array", "Parameters.parameter", code="structure")
    for i, entry in enumerate(entries):
        where = f"Parameters.parameter[{i}]"
        if not isinstance(entry, dict):
            raise bad_request(f"{where} must be an object", where, code="structure")
        name = entry.get("name")
        if ignored is not None and isinstance(name, str) and name not in declared:
            ignored.append(name)
            continue
        param = _declared(operation, declared, name, f"{where}.name")
        assert isinstance(name, str)  # _declared refuses any other
        key = f"value{param.type[0].upper()}{param.type[1:]}"
        if key not in entry:
            raise bad_request(f"{where} ({name}) must have a {key}", where, code="required")
        value = entry[key]
        if param.type in COMPLEX:
            if not isinstance(value, dict):
                raise bad_request(f"{where}.{key} must be a {param.type} object", f"{where}.{key}", code="structure")
        else:
            value = _primitive(param.type, value, f"{where}.{key}")
        _add(values, operation, declared, name, value, where)


def parameters(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A Parameters resource of ``(name, {"valueX": ...} or {"part": [...]})`` pairs, in order."""
    return {"resourceType": "Parameters", "parameter": [{"name": name, **value} for name, value in pairs]}


def part(name: str, value: dict[str, Any]) -> dict[str, Any]:
    """One part of a parameter."""
    return {"name": name, **value}
