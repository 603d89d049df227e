"""The authorization endpoint and its pages: ``GET|POST {base}/auth/authorize`` (RFC 6749 section 3.1; SMART
``authorize-post``, https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code), then
``/auth/flow`` (the next step), ``/auth/login``, ``/auth/pick-patient`` and ``/auth/consent``.

Thin handlers: read the form, run a step of :mod:`fhir_server.auth.authorization_flow` in one write transaction off
the event loop, render its outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from starlette.responses import Response

from fhir_server.app_context import app_context
from fhir_server.auth import authorization_flow as flow
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.grants import new_secret
from fhir_server.auth.login import SESSION_COOKIE, LoginResult, log_in, open_session, session_user
from fhir_server.auth.pages import (
    BROWSER_COOKIE,
    auth_url,
    error_page,
    mark_signed_in,
    redirect,
    render,
    session_cookie,
    set_cookie,
    settings_of,
)
from fhir_server.auth.patient_picker import PatientSearch
from fhir_server.db import User
from fhir_server.ui.return_to import ui_return_path

router = APIRouter(include_in_schema=False)
NEXT_PAGES = frozenset({"launch", "manage"})


async def _form(request: Request) -> list[tuple[str, str]]:
    if request.method != "POST":
        return []
    return [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]


async def in_transaction(request: Request, fn: Callable[[Session], Any]) -> Any:
    """``fn(session)`` in one write transaction, off the event loop."""
    database = app_context(request).database

    def run() -> Any:
        with database.write() as session:
            return fn(session)

    return await run_in_threadpool(run)


def show(request: Request, step: flow.Step) -> Response:
    """Render a flow step."""
    if isinstance(step, flow.Redirect):
        return redirect(step.location, 302)
    if isinstance(step, flow.ErrorPage):
        return error_page(request, step.message, step.status)
    return render(request, step.template, step.values, step.status)


@router.api_route("/authorize", methods=["GET", "POST"])
async def authorize(request: Request) -> Response:
    """A new authorization request (query or form parameters); stored, then the flow begins."""
    pairs = list(request.query_params.multi_items()) + await _form(request)
    binding = request.cookies.get(BROWSER_COOKIE) or new_secret()
    settings, origin = settings_of(request), Origin.of(request)
    step = await in_transaction(request, lambda s: flow.start(s, settings, pairs, origin, binding))
    response = show(request, step)
    if isinstance(step, flow.Redirect) and step.location.startswith(auth_url(request, "flow")):
        response.status_code = 303
        set_cookie(request, response, BROWSER_COOKIE, binding, 24 * 3600)
    return response


def _continue(
    session: Session,
    request: Request,
    handle: str | None,
    user: User | None = None,
    search: PatientSearch | None = None,
) -> flow.Step:
    row = flow.load(session, handle, request.cookies.get(BROWSER_COOKIE))
    if row is None or handle is None:
        return flow.STALE
    user = user or session_user(session, session_cookie(request))
    return flow.next_step(session, settings_of(request), row, user, handle, search)


@router.get("/flow")
async def flow_page(request: Request) -> Response:
    """The next step of a stored request: login, patient picker (searched by the query's ``name``, ``mrn`` and
    ``birthdate``) or consent."""
    handle, search = request.query_params.get("request"), PatientSearch.of(request.query_params)
    return show(request, await in_transaction(request, lambda s: _continue(s, request, handle, search=search)))


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the credentials; on success open a browser session and resume the request (or the ``next`` page)."""
    form = dict(await _form(request))
    settings, origin = settings_of(request), Origin.of(request)
    handle, after = form.get("request"), form.get("next")

    def attempt(session: Session) -> tuple[LoginResult, str | None, flow.Step | None]:
        result = log_in(session, form.get("email", ""), form.get("password", ""), origin)
        if result.user is None:
            return result, None, None
        cookie = open_session(session, result.user, settings.login_session_lifetime)
        step = _continue(session, request, handle, result.user) if handle else None
        return result, cookie, step

    result, cookie, step = await in_transaction(request, attempt)
    if result.user is None:
        values = {"message": result.message, "email": form.get("email"), "handle": handle, "next": after}
        if result.retry_after is None:
            return render(request, "login", values, 401)
        refused = render(request, "login", values, 429)
        refused.headers["Retry-After"] = str(result.retry_after)
        return refused
    mark_signed_in(request)
    response = show(request, step) if step is not None else redirect(_after_login(request, after))
    set_cookie(request, response, SESSION_COOKIE, cookie or "", settings.login_session_lifetime)
    return response


def _after_login(request: Request, after: str | None) -> str:
    """Where a login without an authorization request goes: the page named by ``next`` (a page of the
    authorization server, or of the browser UI on this server), else the list of apps with access."""
    return ui_return_path(after) or auth_url(request, after if after in NEXT_PAGES else "manage")


@router.get("/login")
async def login_page(request: Request) -> Response:
    """The sign-in page on its own, coming back to ``next`` (a page of the browser UI) after the login."""
    return render(request, "login", {"next": ui_return_path(request.query_params.get("next")) or "manage"})


@router.post("/pick-patient")
async def pick_patient(request: Request) -> Response:
    """The patient chosen on the picker: one the user may have in context (of their clinic; a portal login: only
    themselves)."""
    form = dict(await _form(request))
    handle = form.get("request")

    def choose(session: Session) -> flow.Step:
        row = flow.load(session, handle, request.cookies.get(BROWSER_COOKIE))
        user = session.get(User, row.user_id) if row is not None and row.user_id else None
        if row is None or user is None or handle is None:
            return flow.STALE
        return flow.choose_patient(session, settings_of(request), row, user, form.get("patient", ""), handle)

    return show(request, await in_transaction(request, choose))


@router.post("/consent")
async def consent(request: Request) -> Response:
    """Allow (with the scopes left ticked) or deny; either way the browser goes back to the app."""
    pairs = await _form(request)
    form = dict(pairs)
    ticked = [v for k, v in pairs if k == "scope"]
    handle = form.get("request")
    settings, origin = settings_of(request), Origin.of(request)

    def decide(session: Session) -> flow.Step:
        row = flow.load(session, handle, request.cookies.get(BROWSER_COOKIE))
        if row is None or row.user_id is None:
            return flow.STALE
        if form.get("decision") != "allow":
            return flow.deny(session, row)
        return flow.approve(session, settings, row, ticked, origin)

    return show(request, await in_transaction(request, decide))


@router.get("/register")
async def register(request: Request) -> Response:
    """Dynamic registration is not offered: this page tells how an administrator registers an app."""
    return render(request, "register", {})
