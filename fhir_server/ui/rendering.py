"""Rendering the UI's pages: Jinja2 (autoescaped) over the UI's templates and the authorization pages' ones, so
every page extends the same ``base.html`` (the clinic's name, logo and colour, the sign-out button) as the login pages.

Pages are never cached, never framed and run no script but the UI's own (``script-src 'self'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from fhir_server.app_context import app_context
from fhir_server.auth.pages import auth_url, brand
from fhir_server.errors import FhirError
from fhir_server.ui.display import reference_path
from fhir_server.ui.viewer import Viewer

_HERE = Path(__file__).parent
_templates = Jinja2Templates(directory=str(_HERE / "templates"))
_templates.env.loader = ChoiceLoader(
    [FileSystemLoader(str(_HERE / "templates")), FileSystemLoader(str(_HERE.parent / "auth" / "templates"))]
)
HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
}


def render(request: Request, viewer: Viewer, template: str, values: dict[str, Any], status: int = 200) -> Response:
    """The page ``template`` (without .html) for ``viewer``, filled with ``values``; ``values["fhir_request"]`` is
    the equivalent FHIR request shown for copying."""
    base_url = app_context(request).base_url
    context = {
        "viewer": viewer,
        "signed_in": True,
        "logout": auth_url(request, "logout"),
        "manage": auth_url(request, "manage"),
        "brand": brand(request, viewer.clinic or None),
        "base_url": base_url,
        "reference_path": lambda value: reference_path(value, base_url),
        **values,
    }
    response = _templates.TemplateResponse(request, f"{template}.html", context, status_code=status)
    response.headers.update(HEADERS)
    return response


def error_page(request: Request, viewer: Viewer, error: FhirError, fhir_request: str | None = None) -> Response:
    """The page of a refused request: its status and what the OperationOutcome says, as the API would answer."""
    issues = [issue.diagnostics for issue in error.issues]
    values = {"status": error.status, "issues": issues, "fhir_request": fhir_request}
    return render(request, viewer, "ui_error", values, error.status)
