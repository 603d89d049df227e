"""$validate: ``POST [base]/[type]/$validate`` and ``POST [base]/[type]/[id]/$validate``.

http://hl7.org/fhir/R4/resource-operation-validate.html. The body is the resource itself or a Parameters resource
with ``resource``, ``mode`` (create | update | delete) and ``profile``; ``mode`` and ``profile`` may also be given
in the URL. The answer is always 200 with an OperationOutcome listing every issue found, or one information issue
"All OK": R4 structure, required bindings, reference target types and invariants, then everything the write itself
would check (the mapping's own rules, such as an Appointment needing a Patient and a Practitioner, the clinic,
reference integrity). The write is really
run, in a transaction that is always rolled back, so the answer is exactly what a create or update would meet and
nothing is ever stored. ``mode=delete`` (instance level only) checks that the resource can be deleted (it exists).

Errors in the request itself are not validation results: an unknown type answers 404, a body that is not JSON or
not a resource of the URL's type 400, an unknown mode or parameter 400, and a ``profile`` other than the base R4
StructureDefinition of the type 400 ``not-supported`` (this server validates against the base definitions only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import Response

from fhir_server.access.context import AccessContext
from fhir_server.access.enforcement import require_validate
from fhir_server.db.engine import Database
from fhir_server.errors import FhirError, Issue, bad_request
from fhir_server.fhir import repository
from fhir_server.fhir.content import FhirResponse, check_accept, check_content_type, is_pretty
from fhir_server.fhir.content_rules import rule_issues
from fhir_server.fhir.outcomes import operation_outcome
from fhir_server.fhir.request_body import parsed
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.route_paths import INSTANCE, TYPE
from fhir_server.fhir.types import served_type, valid_id
from fhir_server.fhir.validation import check_shape, parse_json, structure_issues
from fhir_server.request_context import Context, RequestContext

router = APIRouter()

MODES = ("create", "update", "delete")
BASE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
ALL_OK = Issue("informational", "All OK", severity="information")


@dataclass(frozen=True)
class ValidateRequest:
    """What to validate: a resource of ``resource_type`` for ``mode`` (None: no particular action)."""

    resource_type: str
    resource_id: str | None
    mode: str | None
    resource: dict[str, Any] | None


@router.post(f"/{TYPE}/$validate", summary="$validate", openapi_extra=declares("$validate"))
async def validate_type(resource_type: str, request: Request, ctx: Context) -> Response:
    return await _validate(request, ctx, resource_type, None)


@router.post(f"/{TYPE}/{INSTANCE}/$validate", summary="$validate an instance", openapi_extra=declares("$validate"))
async def validate_instance(resource_type: str, resource_id: str, request: Request, ctx: Context) -> Response:
    return await _validate(request, ctx, resource_type, resource_id)


async def _validate(request: Request, ctx: RequestContext, resource_type: str, resource_id: str | None) -> Response:
    check_accept(request)
    served_type(resource_type)
    if resource_id is not None:
        valid_id(resource_id)
    body = await request.body()
    if body.strip():
        check_content_type(request)
    payload = await parsed(body, parse_json) if body.strip() or request.query_params.get("mode") != "delete" else None
    wanted = parse_request(payload, resource_type, resource_id, request.query_params)
    require_validate(ctx.access, resource_type, wanted.mode)
    issues = await run_in_threadpool(dry_run, ctx.database, validate, ctx.access, wanted, ctx.base_url)
    return FhirResponse(operation_outcome(issues or [ALL_OK]), 200, pretty=is_pretty(request))


# --- the request --------------------------------------------------------------------------------------------


def parse_request(
    payload: Any, resource_type: str, resource_id: str | None, query: Mapping[str, str] | None = None
) -> ValidateRequest:
    """The validation asked for by a body (a resource, a Parameters resource or None) and the URL's parameters."""
    values: dict[str, Any] = {name: query[name] for name in ("mode", "profile") if query and name in query}
    if isinstance(payload, dict) and payload.get("resourceType") == "Parameters" and resource_type != "Parameters":
        values.update(_parameters(payload))
    elif payload is not None:
        values["resource"] = payload
    mode = values.get("mode")
    if mode is not None and mode not in MODES:
        raise bad_request(f"mode must be one of {', '.join(MODES)} (got {mode!r})", "mode", code="value")
    if mode == "delete" and resource_id is None:
        raise bad_request("mode=delete validates the deletion of an instance: POST [type]/[id]/$validate", "mode")
    _check_profile(values.get("profile"), resource_type)
    resource = values.get("resource")
    if resource is None and mode != "delete":
        raise bad_request("a resource to validate is required", "resource", code="required")
    if resource is not None:
        check_shape(resource, resource_type)
    return ValidateRequest(resource_type, resource_id, mode, resource)


def _parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The named values of a Parameters resource (400 for a parameter $validate does not define)."""
    entries = parameters.get("parameter", [])
    if not isinstance(entries, list):
        raise bad_request("Parameters.parameter must be an array", "Parameters.parameter", code="structure")
    values: dict[str, Any] = {}
    for i, entry in enumerate(entries):
        expression = f"Parameters.parameter[{i}]"
        if not isinstance(entry, dict):
            raise bad_request(f"{expression} must be an object", expression, code="structure")
        name = entry.get("name")
        if name == "resource":
            values["resource"] = entry.get("resource")
        elif name in {"mode", "profile"}:
            values[name] = next((v for k, v in entry.items() if k.startswith("value")), None)
        else:
            raise bad_request(f"$validate has no parameter {name!r}", expression, code="not-supported")
        if values[name] is None:
            raise bad_request(f"the {name} parameter has no value", expression, code="required")
    return values


def _check_profile(profile: Any, resource_type: str) -> None:
    if profile is None:
        return
    if not isinstance(profile, str) or profile.split("|", 1)[0] != BASE_PROFILE + resource_type:
        raise bad_request(
            f"profile {profile!r} is not supported: resources are validated against the base R4 definition "
            f"{BASE_PROFILE}{resource_type}",
            "profile",
            code="not-supported",
        )


# --- the validation -----------------------------------------------------------------------------------------


def validate(session: Session, access: AccessContext, wanted: ValidateRequest, base_url: str | None) -> list[Issue]:
    """Every issue of the validation asked for (to run in a transaction that is rolled back afterwards); absolute
    references on ``base_url`` are this server's."""
    if wanted.mode == "delete":
        return _attempt(lambda: repository.delete(session, access, wanted.resource_type, str(wanted.resource_id)))
    resource = dict(wanted.resource or {})
    structure = structure_issues(resource)
    if structure:
        return structure  # the mapping cannot read a resource of broken structure
    issues = rule_issues(resource)
    codes_valid = not issues
    if not _as_update(wanted):
        resource.pop("id", None)  # a create ignores the client's id
        issues += _attempt(lambda: repository.create(session, access, resource, base_url=base_url), codes_valid)
    elif (update_id := _update_id(wanted, resource, issues)) is not None:
        issues += _attempt(
            lambda: repository.update(session, access, resource, update_id, base_url=base_url), codes_valid
        )
    return _distinct(issues)


def _as_update(wanted: ValidateRequest) -> bool:
    """mode=update, or no mode at instance level; otherwise the resource is validated as a create."""
    return wanted.mode == "update" or (wanted.mode is None and wanted.resource_id is not None)


def _update_id(wanted: ValidateRequest, resource: dict[str, Any], issues: list[Issue]) -> str | None:
    """The id an update would write; None (and an issue) when it has none or differs from the URL's."""
    own_id, expression = resource.get("id"), f"{wanted.resource_type}.id"
    if own_id is None:
        issues.append(Issue("required", f"{expression}: an update needs the resource's id", (expression,)))
        return None
    if wanted.resource_id is not None and own_id != wanted.resource_id:
        message = f"{expression}: the resource id {own_id!r} differs from the URL's id {wanted.resource_id!r}"
        issues.append(Issue("invalid", message, (expression,)))
        return None
    return str(own_id)


def _attempt(write: Callable[[], Any], codes_valid: bool = True) -> list[Issue]:
    """The issues a write meets (none when it would succeed).

    A constraint the database refuses is a collision with stored data, unless the resource's codes are already
    known to be invalid: then it is their consequence (a CHECK on a code column), not a further issue.
    """
    try:
        write()
    except FhirError as exc:
        return list(exc.issues)
    except IntegrityError as exc:
        if not codes_valid:
            return []
        return [Issue("conflict", f"the write would collide with a stored resource ({type(exc.orig).__name__})")]
    return []


def _distinct(issues: list[Issue]) -> list[Issue]:
    return list(dict.fromkeys(issues))


class _RollbackRequestedError(Exception):
    def __init__(self, result: Any) -> None:
        super().__init__("dry run")
        self.result = result


def dry_run(database: Database, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(session, *args)`` in a write transaction that is always rolled back: nothing it does is stored."""
    try:
        with database.write() as session:
            raise _RollbackRequestedError(fn(session, *args))
    except _RollbackRequestedError as done:
        return done.result
