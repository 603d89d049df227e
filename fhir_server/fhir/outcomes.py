"""Rendering errors: every error leaves the server as an OperationOutcome (http://hl7.org/fhir/R4/operationoutcome.html).

The error kinds and their statuses live in :mod:`fhir_server.errors`; this module only renders them, and the
framework's own errors (unrouted paths, unsupported methods, bad parameters) alike. A 500 never describes its cause
to the client: it quotes only the request id, the log has the rest.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.errors import FhirError, Issue, issue_code_for
from fhir_server.fhir.route_interactions import allowed_methods


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource listing ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": [issue_json(issue) for issue in issues]}


def issue_json(issue: Issue) -> dict[str, Any]:
    """One OperationOutcome.issue."""
    rendered: dict[str, Any] = {"severity": issue.severity, "code": issue.code, "diagnostics": issue.diagnostics}
    if issue.expression:
        rendered["expression"] = list(issue.expression)
    return rendered


def informational(diagnostics: str) -> dict[str, Any]:
    """An OperationOutcome saying all went well (``Prefer: return=OperationOutcome``)."""
    return operation_outcome([Issue("informational", diagnostics, severity="information")])


def internal_error(request_id: str) -> dict[str, Any]:
    """The body of a 500: nothing but the request id to quote to the server's operators."""
    return operation_outcome([Issue("exception", f"internal server error; request id {request_id}", severity="fatal")])


# --- HTTP: every error leaves the server as an OperationOutcome ---------------------------------------------

_logger = logging.getLogger("fhir_server.errors")


def _render(request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    from fhir_server.fhir.content import FhirResponse

    return FhirResponse(body, status, headers)


def error_response(error: FhirError) -> Response:
    """``error`` as a response (for ASGI middleware, which runs outside the exception handlers)."""
    from fhir_server.fhir.content import FhirResponse

    return FhirResponse(operation_outcome(error.issues), error.status, error.headers)


async def handle_fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    if exc.status == 405 and "Allow" not in exc.headers:  # a handler refusing its route's method on this URL
        exc.headers["Allow"] = ", ".join(allowed_methods(request.app.router.routes, request.scope, request.method))
    return error_response(exc)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404 and exc.detail == "Not Found":
        message = f"no FHIR endpoint at {request.method} {request.url.path}"
    else:
        message = str(exc.detail)
    headers = dict(exc.headers or {})
    if status == 405:  # routing's: every method the path's routes take, not only the first matching route's
        allowed = allowed_methods(request.app.router.routes, request.scope)
        headers["Allow"] = ", ".join(allowed)
        message = f"{request.method} is not supported on {request.url.path}; it takes {', '.join(allowed)}"
    issue = Issue(issue_code_for(status), message)
    return _render(request, status, operation_outcome([issue]), headers)


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [
        Issue("invalid", f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", (str(err["loc"][-1]),))
        for err in exc.errors()
    ]
    return _render(request, 400, operation_outcome(issues))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    request_id = getattr(request.state, "request_id", "unknown")
    _logger.exception("unhandled error", extra={"request_id": request_id})
    return _render(request, 500, internal_error(request_id))
