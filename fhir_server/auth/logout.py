"""Signing out of the authorization pages: ``POST {base}/auth/logout`` (a button on every page while signed in).

The browser session ends server-side (its row is marked revoked, so the old cookie logs no one in again, wherever
it was copied to), the cookie is cleared, the sign-out is audited, and the sign-in page is shown. Cross-site posts
are refused by :mod:`fhir_server.auth.same_origin` like every other state-changing page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from fhir_server.auth.audit_events import Origin
from fhir_server.auth.authorize import in_transaction
from fhir_server.auth.login import SESSION_COOKIE, close_session
from fhir_server.auth.pages import clear_cookie, render, session_cookie

router = APIRouter(include_in_schema=False)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the browser session of the request's cookie (if any) and show the sign-in page."""
    cookie, origin = session_cookie(request), Origin.of(request)

    def end(session: Session) -> None:
        close_session(session, cookie, origin)

    await in_transaction(request, end)
    response = render(request, "login", {"notice": "You are signed out.", "next": "manage"})
    clear_cookie(request, response, SESSION_COOKIE)
    return response
