"""The ``fhir-server`` commands of a first request: ``token`` (a development token), ``clients assertion`` (a signed
client assertion for a key from ``clients create --generate-key``), ``clients registration-token`` (an initial access
token for dynamic client registration) and ``demo-app`` (a tiny SMART app on the demo redirect URI).

Registered on the command line by :func:`register`; they use the command line's own helpers (settings, database,
failure messages) from :mod:`fhir_server.cli`, imported when a command runs (that module imports this one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fhir_server.auth import registration_tokens
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.dev_tokens import DevTokenError, DevTokenRequest, mint
from fhir_server.auth.key_pairs import KeyFileError, load_private_key, sign_assertion
from fhir_server.auth.oauth_server import Endpoints
from fhir_server.seed import DEMO_APP_ID


def register(app: typer.Typer, clients_app: typer.Typer) -> None:
    """Add the commands to the ``fhir-server`` command (``app``) and its ``clients`` group."""
    app.command("token")(token)
    clients_app.command("assertion")(assertion)
    clients_app.command("registration-token")(registration_token)
    app.command("demo-app")(demo_app)


def token(
    client: Annotated[str, typer.Option(help="The registered client the token is for.")],
    scope: Annotated[str, typer.Option(help="The scopes asked for (space-separated), cut as the token endpoint does.")],
    user: Annotated[
        str | None, typer.Option(help="The user the token acts for (email); without it, a backend service's token.")
    ] = None,
    patient: Annotated[str | None, typer.Option(help="The patient in context (FHIR id), for patient/ scopes.")] = None,
    token_only: Annotated[bool, typer.Option("--token-only", help="Print only the access token.")] = False,
) -> None:
    """Mint a short-lived access token for local testing (needs FHIR_SERVER_DEV_TOKENS=true); prints the token
    response as the token endpoint answers it. Audited; introspectable and revocable like any other token."""
    from fhir_server import cli

    config = cli.settings()
    asked = DevTokenRequest(client, scope, user, patient)
    with cli.database() as db, db.write() as session:
        try:
            response = mint(session, config, asked)
        except DevTokenError as exc:
            cli.fail(str(exc))
    print(response["access_token"] if token_only else json.dumps(response, indent=2))


def assertion(
    client: Annotated[str, typer.Option(help="The client_id (the assertion's iss and sub).")],
    key: Annotated[Path, typer.Option(help="The private key file (PEM or JWK) of `clients create --generate-key`.")],
    token_url: Annotated[
        str | None, typer.Option(help="The token endpoint (the assertion's aud); default: the server's own.")
    ] = None,
) -> None:
    """Print a client assertion (a JWT signed with the key, valid five minutes, used once) for a backend
    services token request (`client_assertion` of `grant_type=client_credentials`)."""
    from fhir_server import cli

    audience = token_url or Endpoints(cli.settings().base_url).token
    try:
        private = load_private_key(key)
    except KeyFileError as exc:
        cli.fail(str(exc))
    print(sign_assertion(client, private, audience))


def registration_token(
    organization: Annotated[
        str, typer.Option(help="The clinic the registered client belongs to (id, FHIR id, NPI, name).")
    ],
    expires: Annotated[str, typer.Option(help="How long the token stays usable: 30m, 24h, 7d (at most 30d).")] = "24h",
    scope: Annotated[
        str, typer.Option(help="The most the registered client may be granted (default: app scopes, no system/).")
    ] = registration_tokens.DEFAULT_SCOPE,
) -> None:
    """Issue an initial access token for dynamic client registration (POST {base}/auth/register, needs
    FHIR_SERVER_DYNAMIC_REGISTRATION=true): it registers one client, then is spent. Printed once; only its hash is
    stored."""
    from sqlalchemy import select

    from fhir_server import cli
    from fhir_server.db import Organization
    from fhir_server.db.clinic import organization_lookup

    config = cli.settings()
    try:
        lifetime = registration_tokens.duration(expires)
    except registration_tokens.RegistrationTokenError as exc:
        cli.fail(str(exc))
    with cli.database() as db, db.write() as session:
        clinic = session.scalars(select(Organization).where(organization_lookup(organization))).first()
        if clinic is None:
            cli.fail(f"no clinic matches {organization!r}")
        try:
            token = registration_tokens.issue(session, clinic, lifetime, scope, Origin(user_agent="fhir-server CLI"))
        except registration_tokens.RegistrationTokenError as exc:
            cli.fail(str(exc))
    print(token)
    if not config.dynamic_registration:
        cli.err.print("note: the server registers clients only with FHIR_SERVER_DYNAMIC_REGISTRATION=true")


def demo_app(
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="TCP port (the demo client's redirect URIs use 9000).")
    ] = 9000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    client: Annotated[str, typer.Option(help="The app's client_id (registered with this redirect URI).")] = DEMO_APP_ID,
    fhir_base: Annotated[
        str | None, typer.Option(help="The FHIR server's base URL; default: FHIR_SERVER_BASE_URL.")
    ] = None,
) -> None:
    """Serve a tiny SMART app on the demo redirect URI: a standalone or EHR launch with PKCE that shows the patient
    it was launched for (client demo-smart-app of `seed --demo`)."""
    import uvicorn

    from fhir_server import cli
    from fhir_server.demo.smart_app import create_demo_app

    base = fhir_base or cli.settings().base_url
    root = f"http://{host}:{port}"
    cli.out.print(f"demo SMART app on {root}/ (client {client}, FHIR server {base}); Ctrl-C stops it", highlight=False)
    uvicorn.run(create_demo_app(base, client, f"{root}/callback"), host=host, port=port, log_level="warning")
