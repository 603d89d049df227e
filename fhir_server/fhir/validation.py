"""Validation of every resource written: JSON shape, type and id, FHIR R4 structure (fhir.resources R4B), then
the required terminology bindings (:mod:`fhir_server.fhir.bindings`).

http://hl7.org/fhir/R4/validation.html. Every error names the element (``issue.expression``): a body that is not
a well-formed resource of the expected type answers 400, a well-formed one whose codes break a required binding
422 (``code-invalid``). Reference integrity needs the database and is checked in the write path
(:mod:`fhir_server.fhir.references`).
"""

from __future__ import annotations

from typing import Any

import orjson
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from fhir_server.errors import FhirError, Issue, Kind, bad_request, fail_all
from fhir_server.fhir.bindings import binding_issues, check_bindings, required_bindings

MAX_JSON_DEPTH = 64
"""The deepest nesting of objects and arrays a request body may have (a resource is 1; FHIR content needs far
fewer: an extension in an extension in a Bundle entry is about 10). Deeper bodies answer 400 before anything
recursive (structure validation, FHIRPath, indexing) walks them."""
_TOO_DEEP = f"objects and arrays nest deeper than the limit of {MAX_JSON_DEPTH} levels"


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body; 400 when it is not JSON or nests deeper than :data:`MAX_JSON_DEPTH`."""
    if not body.strip():
        raise bad_request("the request body is empty; a FHIR resource was expected", code="required")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if exc.msg == "depth limit exceeded":  # orjson's own bound (1024 levels), far past ours
            raise too_deep() from None
        raise bad_request(f"the body is not valid JSON: {exc}", code="structure") from None
    if too_deeply_nested(value):
        raise too_deep()
    return value


def too_deeply_nested(value: Any) -> bool:
    """True when ``value`` nests objects and arrays deeper than :data:`MAX_JSON_DEPTH` (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def too_deep() -> FhirError:
    """400 naming the nesting limit."""
    return bad_request(f"the body's {_TOO_DEEP}", code="too-costly")


def parse_resource(body: bytes, expected_type: str | None = None, url_id: str | None = None) -> dict[str, Any]:
    """The resource in a request body, checked for type, id and structure."""
    resource = parse_json(body)
    check_resource(resource, expected_type, url_id)
    return resource  # type: ignore[no-any-return]


def check_resource(resource: Any, expected_type: str | None = None, url_id: str | None = None) -> None:
    """400 unless ``resource`` is a JSON object of ``expected_type`` whose id matches the URL's, valid in R4; 422
    when it breaks a required binding."""
    check_shape(resource, expected_type)
    if url_id is not None and resource.get("id") != url_id:
        raise bad_request(
            f"the resource id {resource.get('id')!r} differs from the URL's id {url_id!r}",
            f"{resource['resourceType']}.id",
        )
    issues = structure_issues(resource)
    if issues:
        raise fail_all(Kind.INVALID, issues)
    check_bindings(resource)


def check_shape(resource: Any, expected_type: str | None = None) -> None:
    """400 unless ``resource`` is a JSON object with a resourceType (``expected_type`` when given)."""
    if not isinstance(resource, dict):
        raise bad_request("the body must be a JSON object holding one FHIR resource", code="structure")
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise bad_request("resourceType is missing", "resourceType", code="required")
    if expected_type is not None and resource_type != expected_type:
        raise bad_request(f"resourceType is {resource_type!r} but the URL is for {expected_type}", "resourceType")


def content_issues(resource: dict[str, Any]) -> list[Issue]:
    """Every structure issue of ``resource`` and, when its structure is sound, every required-binding issue."""
    return structure_issues(resource) or binding_issues(resource)


def structure_issues(resource: dict[str, Any]) -> list[Issue]:
    """Every way ``resource`` breaks the R4 structure (unknown elements, wrong types, cardinality), and every
    string holding U+0000 (:func:`nul_issues`); a resource nested too deeply (:data:`MAX_JSON_DEPTH`) is refused
    unwalked."""
    resource_type = resource["resourceType"]
    if too_deeply_nested(resource):  # before the validator's recursion can overflow the stack
        return [Issue("too-costly", f"{resource_type}: {_TOO_DEEP}", (resource_type,))]
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return [Issue("not-supported", f"unknown resource type {resource_type!r}", ("resourceType",))]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [_issue(resource_type, error) for error in exc.errors()]
    except (ValueError, TypeError) as exc:
        return [Issue("structure", f"{resource_type}: {exc}", (resource_type,))]
    return nul_issues(resource, resource_type)


def nul_issues(value: Any, expression: str) -> list[Issue]:
    """One issue per string holding the character U+0000.

    R4 says strings SHOULD NOT hold characters below U+0020 other than tab, CR and LF
    (http://hl7.org/fhir/R4/datatypes.html#string); this server refuses U+0000 alone, which PostgreSQL cannot
    store in text or jsonb, so that a resource is taken or refused alike on every database.
    """
    if isinstance(value, str):
        return (
            [Issue("value", f"{expression}: the character U+0000 is not accepted", (expression,))]
            if "\x00" in value
            else []
        )
    if isinstance(value, dict):
        return [issue for key, item in value.items() for issue in nul_issues(item, f"{expression}.{key}")]
    if isinstance(value, list):
        return [issue for i, item in enumerate(value) for issue in nul_issues(item, f"{expression}[{i}]")]
    return []


def _issue(resource_type: str, error: Any) -> Issue:
    expression = resource_type
    for part in error["loc"]:
        if isinstance(part, int):
            expression += f"[{part}]"
        elif part != "__root__":
            expression += f".{part}"
    message = error["msg"]
    code = "structure" if error["type"] in {"extra_forbidden", "missing"} else "value"
    if error["type"] == "extra_forbidden":
        message = "unknown element"
    elif error["type"] == "missing":
        message = "required element is missing"
        code = "required"
    return Issue(code, f"{expression}: {message}", (expression,))


def warm_up() -> None:
    """Load the R4 definitions and build the binding table now (at start, ~0.1 s) rather than on the first write."""
    required_bindings()
