"""The authorization server's HTML pages (Jinja2, autoescaped) and its browser cookies.

Pages are never cached and never framed (clickjacking a consent page would be consent by a click the user did not
mean). Cookies are HttpOnly, ``SameSite=Lax`` and ``Secure`` when the public base URL is https.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from fhir_server.app_context import app_context
from fhir_server.auth.login import SESSION_COOKIE
from fhir_server.settings import Settings

BROWSER_COOKIE = "fhir_server_browser"
"""Binds a stored authorization request to the browser that started it."""

_templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",  # nothing leaks to other sites; same-origin forms carry a real Origin
}


def settings_of(request: Request) -> Settings:
    """The settings of the application serving ``request``."""
    return app_context(request).settings


def auth_url(request: Request, name: str) -> str:
    """The public URL of the authorization server's endpoint ``name``."""
    return f"{settings_of(request).base_url}/auth/{name}"


def render(request: Request, template: str, values: dict[str, Any], status: int = 200) -> Response:
    """The page ``template`` (without .html) filled with ``values`` (``clinic``: the clinic whose page it is)."""
    context = {
        "action": auth_url(request, _ACTIONS.get(template, template)),
        "manage": auth_url(request, "manage"),
        "logout": auth_url(request, "logout"),
        "flow": auth_url(request, "flow"),
        "forgot": auth_url(request, "forgot-password"),
        "signed_in": template != "login" and signed_in(request),
        "brand": brand(request, values.get("clinic")),
        **values,
    }
    response = _templates.TemplateResponse(request, f"{template}.html", context, status_code=status)
    response.headers.update(_HEADERS)
    return response


_ACTIONS = {
    "pick_patient": "pick-patient",
    "consent": "consent",
    "login": "login",
    "launch": "launch",
    "forgot_password": "forgot-password",
    "reset_password": "reset-password",
}


def brand(request: Request, clinic: str | None) -> dict[str, str | None]:
    """What ``base.html`` shows on every page: ``name`` (the clinic's, else the server's), ``logo`` (a URL or
    None) and ``color`` (a validated CSS hex colour or None)."""
    settings = settings_of(request)
    logo = settings.ui_logo_url or (auth_url(request, "logo") if settings.ui_logo_file else None)
    return {"name": clinic or settings.ui_name, "logo": logo, "color": settings.ui_color}


def error_page(request: Request, message: str, status: int = 400) -> Response:
    return render(request, "error", {"message": message}, status)


def redirect(location: str, status: int = 303) -> Response:
    response = RedirectResponse(location, status_code=status)
    response.headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
    return response


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings_of(request).base_url.startswith("https://"),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    """Tell the browser to forget cookie ``name`` (set with the same attributes as :func:`set_cookie`)."""
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=settings_of(request).base_url.startswith("https://")
    )


def session_cookie(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def mark_signed_in(request: Request) -> None:
    """Note that this request's response opens a login session (its pages then show the sign-out button)."""
    request.state.signed_in = True


def signed_in(request: Request) -> bool:
    """Whether the browser holds a login session cookie (or is given one by this response)."""
    return bool(getattr(request.state, "signed_in", False) or session_cookie(request))
