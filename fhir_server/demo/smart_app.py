"""A tiny SMART app for ``fhir-server demo-app``: the demo client's other end, on its redirect URI
(``http://127.0.0.1:9000/callback`` by default; :data:`fhir_server.seed.DEMO_APP_REDIRECT_URIS`).

- ``GET /``: a page with a button for a standalone launch.
- ``GET /launch[?iss=...&launch=...]``: starts the authorization-code flow with PKCE S256 (the EHR launch when the
  EHR sent ``launch``, https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch; else standalone,
  asking for ``launch/patient``). ``iss`` must be the FHIR server the app was started for (it never follows a
  server named by a link). Endpoints come from the server's ``.well-known/smart-configuration``.
- ``GET /callback``: exchanges the code (a flow this app started: its ``state``), reads ``Patient/{patient}`` with
  the token and shows that patient. A code of a flow made by hand (an unknown ``state``) is shown with the ``curl``
  command that redeems it, and is not redeemed here.

Pending flows live in memory (at most ``MAX_PENDING``, each ``PENDING_LIFETIME`` seconds). Plain HTML, no scripts, no
CDN. Not for production: a demonstration of the protocol.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

MAX_PENDING = 100
PENDING_LIFETIME = 600.0
TIMEOUT = 10.0
SCOPES = {
    "ehr": "launch openid fhirUser patient/Patient.rs",
    "standalone": "launch/patient openid fhirUser patient/Patient.rs",
}


@dataclass(frozen=True)
class Flow:
    """An authorization request this app sent: what the callback needs to redeem its code."""

    verifier: str
    token_endpoint: str
    started: float


class DemoApp:
    """The app's configuration and its pending flows (by ``state``)."""

    def __init__(self, fhir_base: str, client_id: str, redirect_uri: str) -> None:
        self.fhir_base = fhir_base.rstrip("/")
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.pending: OrderedDict[str, Flow] = OrderedDict()

    def remember(self, state: str, flow: Flow) -> None:
        """Keep ``flow`` under ``state``, forgetting expired flows and the oldest beyond MAX_PENDING."""
        now = time.monotonic()
        for key in [k for k, f in self.pending.items() if now - f.started > PENDING_LIFETIME]:
            del self.pending[key]
        self.pending[state] = flow
        while len(self.pending) > MAX_PENDING:
            self.pending.popitem(last=False)

    def take(self, state: str | None) -> Flow | None:
        flow = self.pending.pop(state, None) if state else None
        return flow if flow is not None and time.monotonic() - flow.started <= PENDING_LIFETIME else None


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 section 4)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    style = "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}pre{overflow:auto}"
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status)


async def home(request: Request) -> Response:
    app: DemoApp = request.app.state.demo
    body = (
        f"<p>Client <code>{html.escape(app.client_id)}</code> of the FHIR server "
        f"<code>{html.escape(app.fhir_base)}</code>.</p>"
        '<form action="launch" method="get"><button type="submit">Standalone launch</button></form>'
        "<p>For an EHR launch, start the app from the server's launcher "
        f'(<a href="{html.escape(app.fhir_base)}/auth/launch">{html.escape(app.fhir_base)}/auth/launch</a>).</p>'
    )
    return page("Demo SMART app", body)


async def launch(request: Request) -> Response:
    app: DemoApp = request.app.state.demo
    iss = (request.query_params.get("iss") or app.fhir_base).rstrip("/")
    if iss != app.fhir_base:
        return page("Launch refused", f"<p>This app was started for {html.escape(app.fhir_base)} only.</p>", 400)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.get(f"{iss}/.well-known/smart-configuration")
        config = response.json()
        authorize, token = config["authorization_endpoint"], config["token_endpoint"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return page("Launch failed", f"<p>No SMART configuration at {html.escape(iss)}.</p>", 502)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    app.remember(state, Flow(verifier, token, time.monotonic()))
    handle = request.query_params.get("launch")
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": SCOPES["ehr" if handle else "standalone"],
        "state": state,
        "aud": iss,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **({"launch": handle} if handle else {}),
    }
    return RedirectResponse(f"{authorize}?{urlencode(params)}", 302)


async def callback(request: Request) -> Response:
    app: DemoApp = request.app.state.demo
    query = request.query_params
    if "error" in query:
        return page(
            "Not authorized",
            f"<p>{html.escape(query['error'])}: {html.escape(query.get('error_description', ''))}</p>",
            400,
        )
    flow = app.take(query.get("state"))
    code = query.get("code", "")
    if flow is None:
        return page("A code for you", _hand_made(app, code))
    try:
        tokens = await _exchange(app, flow, code)
        patient = await _read_patient(app, tokens)
    except DemoError as exc:
        return page("The launch failed", f"<p>{html.escape(str(exc))}</p>", 502)
    return page("Launched", _launched(tokens, patient))


class DemoError(Exception):
    """A step after the callback failed; the message says which and how."""


async def _exchange(app: DemoApp, flow: Flow, code: str) -> dict[str, Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": app.redirect_uri,
        "client_id": app.client_id,
        "code_verifier": flow.verifier,
    }
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.post(flow.token_endpoint, data=form)
    if response.status_code != 200:
        raise DemoError(f"the token endpoint answered {response.status_code}: {response.text[:500]}")
    tokens: dict[str, Any] = response.json()
    return tokens


async def _read_patient(app: DemoApp, tokens: dict[str, Any]) -> dict[str, Any]:
    patient = tokens.get("patient")
    if not isinstance(patient, str):
        raise DemoError("the token response names no patient")
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/fhir+json"}
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        response = await client.get(f"{app.fhir_base}/Patient/{patient}", headers=headers)
    if response.status_code != 200:
        raise DemoError(f"reading Patient/{patient} answered {response.status_code}")
    resource: dict[str, Any] = response.json()
    return resource


def _launched(tokens: dict[str, Any], patient: dict[str, Any]) -> str:
    names = patient.get("name") or [{}]
    name = " ".join([*names[0].get("given", []), names[0].get("family", "")]).strip() or "(no name)"
    shown = {k: v for k, v in tokens.items() if k not in ("access_token", "refresh_token", "id_token")}
    return (
        f'<p id="patient">Launched for <strong>{html.escape(name)}</strong> (Patient/{html.escape(patient["id"])}, '
        f"born {html.escape(patient.get('birthDate', 'unknown'))}).</p>"
        f"<h2>Token response (tokens left out)</h2><pre>{html.escape(json.dumps(shown, indent=2))}</pre>"
        f"<h2>Patient</h2><pre>{html.escape(json.dumps(patient, indent=2))}</pre>"
    )


def _hand_made(app: DemoApp, code: str) -> str:
    command = (
        f"curl -s {app.fhir_base}/auth/token -d grant_type=authorization_code -d code={code} "
        f"-d redirect_uri={app.redirect_uri} -d client_id={app.client_id} -d code_verifier=$VERIFIER"
    )
    return (
        "<p>This app did not start this flow, so it leaves the code to you:</p>"
        f'<pre id="code">{html.escape(code)}</pre><p>Redeem it (with your code verifier) within five minutes:</p>'
        f"<pre>{html.escape(command)}</pre>"
    )


def create_demo_app(fhir_base: str, client_id: str, redirect_uri: str) -> Starlette:
    """The demo app for the FHIR server at ``fhir_base``, as client ``client_id`` on ``redirect_uri``."""
    app = Starlette(
        routes=[Route("/", home), Route("/launch", launch), Route("/callback", callback)],
    )
    app.state.demo = DemoApp(fhir_base, client_id, redirect_uri)
    return app
