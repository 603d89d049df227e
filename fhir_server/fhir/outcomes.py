"""Errors as data: one FhirError type, mapped to an HTTP status and an OperationOutcome in one place.

http://hl7.org/fhir/R4/operationoutcome.html and http://hl7.org/fhir/R4/http.html#summary (status codes).
A 500 never describes its cause to the client: it quotes only the request id, the log has the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

IssueSeverity = Literal["fatal", "error", "warning", "information"]


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: ``code`` from http://hl7.org/fhir/R4/valueset-issue-type.html."""

    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: IssueSeverity = "error"

    def to_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


@dataclass
class FhirError(Exception):
    """A request the server will not carry out; ``status`` is the HTTP status (4xx for client mistakes)."""

    status: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(issue.diagnostics for issue in self.issues)

    @classmethod
    def of(
        cls,
        status: int,
        code: str,
        diagnostics: str,
        expression: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> FhirError:
        issue = Issue(code, diagnostics, (expression,) if expression else ())
        return cls(status, [issue], headers or {})


def bad_request(diagnostics: str, expression: str | None = None, code: str = "invalid") -> FhirError:
    return FhirError.of(400, code, diagnostics, expression)


def not_found(diagnostics: str) -> FhirError:
    return FhirError.of(404, "not-found", diagnostics)


def gone(diagnostics: str) -> FhirError:
    return FhirError.of(410, "deleted", diagnostics)


def conflict(diagnostics: str) -> FhirError:
    return FhirError.of(409, "conflict", diagnostics)


def collision() -> FhirError:
    """409: the write met a unique key another resource holds (a concurrent create of the same id, or an id taken by
    a resource the caller may not see; both answer alike)."""
    return conflict("the write collided with a concurrent one (a unique key is taken) and was not applied")


def precondition_failed(diagnostics: str) -> FhirError:
    return FhirError.of(412, "conflict", diagnostics)


def unprocessable(diagnostics: str, expression: str | None = None, code: str = "processing") -> FhirError:
    return FhirError.of(422, code, diagnostics, expression)


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource listing ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": [issue.to_fhir() for issue in issues]}


def informational(diagnostics: str) -> dict[str, Any]:
    """An OperationOutcome saying all went well (``Prefer: return=OperationOutcome``)."""
    return operation_outcome([Issue("informational", diagnostics, severity="information")])


def internal_error(request_id: str) -> dict[str, Any]:
    """The body of a 500: nothing but the request id to quote to the server's operators."""
    return operation_outcome([Issue("exception", f"internal server error; request id {request_id}", severity="fatal")])


# --- HTTP: every error leaves the server as an OperationOutcome ---------------------------------------------

_logger = logging.getLogger("fhir_server.errors")
_STATUS_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    429: "throttled",
}


def _render(request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    from fhir_server.fhir.content import FhirResponse

    return FhirResponse(body, status, headers)


async def handle_fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    return _render(request, exc.status, operation_outcome(exc.issues), exc.headers)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404 and exc.detail == "Not Found":
        message = f"no FHIR endpoint at {request.method} {request.url.path}"
    elif status == 405:
        message = f"{request.method} is not supported on {request.url.path}"
    else:
        message = str(exc.detail)
    issue = Issue(_STATUS_CODES.get(status, "processing"), message)
    return _render(request, status, operation_outcome([issue]), dict(exc.headers or {}))


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
