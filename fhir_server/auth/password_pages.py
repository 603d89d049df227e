"""The password-reset pages: ``GET|POST {base}/auth/forgot-password`` asks for the email and sends a one-time link
(the same answer whatever the email, the email sent after the answer); ``GET|POST {base}/auth/reset-password``
sets the new password with the link's token. The rules live in :mod:`fhir_server.auth.password_reset`.

Without an SMTP server configured nothing is sent: the log says how an administrator makes a link with the CLI.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.responses import Response

from fhir_server.auth import mail
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.authorize import _form, in_transaction
from fhir_server.auth.branding import clinic_name
from fhir_server.auth.login import SESSION_COOKIE
from fhir_server.auth.pages import clear_cookie, error_page, render, settings_of
from fhir_server.auth.password_reset import ResetError, ResetLink, request_link, reset_with_link, user_of_link
from fhir_server.auth.passwords import MIN_PASSWORD_LENGTH
from fhir_server.settings import Settings

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
MAX_PASSWORD = 1024
"""Longest password the page takes (hashing work is bounded)."""
DEAD_LINK = "This link is unknown, expired or was used already. Ask for a new one on the sign-in page."


@router.get("/forgot-password")
async def forgot_form(request: Request) -> Response:
    """The form asking for the email."""
    clinic = await in_transaction(request, clinic_name)
    return render(request, "forgot_password", {"clinic": clinic})


@router.post("/forgot-password")
async def forgot(request: Request) -> Response:
    """Make and send a link when the email has an account (and is not throttled); answer the same either way."""
    email = dict(await _form(request)).get("email", "")[:320]
    settings, origin = settings_of(request), Origin.of(request)
    if not mail.can_send(settings):
        log.warning(
            "a password reset was asked for %r, but no email can be sent (FHIR_SERVER_SMTP_HOST is unset): an "
            "administrator can run `fhir-server users reset-password EMAIL` to make a one-time link",
            email,
        )
        link, clinic, account_clinic = None, await in_transaction(request, clinic_name), None
    else:
        link, clinic, account_clinic = await in_transaction(request, lambda s: _link(s, settings, email, origin))
    minutes = settings.password_reset_lifetime // 60
    response = render(request, "forgot_password", {"clinic": clinic, "sent": True, "minutes": minutes})
    if link is not None:
        response.background = BackgroundTask(_send, settings, link, account_clinic or settings.ui_name)
    return response


def _link(
    session: Session, settings: Settings, email: str, origin: Origin
) -> tuple[ResetLink | None, str | None, str | None]:
    """The link (or None), the page's clinic (never the account's: the page must not tell that it exists) and the
    account's clinic (for the email)."""
    link = request_link(session, email, settings.base_url, settings.password_reset_lifetime, origin)
    account_clinic = clinic_name(session, link.organization_id) if link else None
    return link, clinic_name(session), account_clinic


def _send(settings: Settings, link: ResetLink, clinic: str) -> None:
    minutes = settings.password_reset_lifetime // 60
    text = (
        f"Someone, hopefully you, asked to reset the password of your account at {clinic}.\n\n"
        f"Open this link within {minutes} minutes to choose a new password (it works once):\n{link.url}\n\n"
        "If you did not ask, ignore this email: your password stays as it is.\n"
    )
    mail.send(settings, link.email, f"Reset your password at {clinic}", text)


@router.get("/reset-password")
async def reset_form(request: Request) -> Response:
    """The new-password form of a live link (a dead one: an error page)."""
    token = request.query_params.get("token", "")
    values = await in_transaction(request, lambda s: _form_values(s, token))
    return error_page(request, DEAD_LINK) if values is None else render(request, "reset_password", values)


def _form_values(session: Session, token: str) -> dict[str, Any] | None:
    user = user_of_link(session, token)
    if user is None:
        return None
    clinic = clinic_name(session, user.organization_id)
    return {"token": token, "email": user.email, "clinic": clinic, "min_length": MIN_PASSWORD_LENGTH}


@router.post("/reset-password")
async def reset(request: Request) -> Response:
    """Set the new password (both fields alike, the rules of user creation); the link is then spent."""
    form = dict(await _form(request))
    token, password, origin = form.get("token", ""), form.get("password", ""), Origin.of(request)
    problem = _password_problem(password, form.get("password_again", ""))

    def attempt(session: Session) -> dict[str, Any] | str | None:
        """The form again with a message, None when the link is dead, the user's clinic name when done."""
        values = _form_values(session, token)
        if values is None or problem is not None:
            return values and {**values, "message": problem}
        try:
            user = reset_with_link(session, token, password, origin)
        except ResetError as exc:
            return {**values, "message": str(exc)}
        return clinic_name(session, user.organization_id) or ""

    outcome = await in_transaction(request, attempt)
    if outcome is None:
        return error_page(request, DEAD_LINK)
    if isinstance(outcome, dict):
        return render(request, "reset_password", outcome, 400)
    response = render(request, "reset_password", {"done": True, "clinic": outcome or None})
    clear_cookie(request, response, SESSION_COOKIE)
    return response


def _password_problem(password: str, again: str) -> str | None:
    if len(password) > MAX_PASSWORD:
        return f"A password has at most {MAX_PASSWORD} characters."
    return "The two passwords differ." if password != again else None
