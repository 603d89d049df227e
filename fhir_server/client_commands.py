"""The ``fhir-server clients`` commands that register, list and revoke SMART apps and backend services
(``clients create``, with ``--generate-key`` for a new key pair; ``clients list``; ``clients revoke``).

Registered on the command line by :func:`register`; they use the command line's own helpers (settings, database,
failure messages) from :mod:`fhir_server.cli`, imported when a command runs (that module imports this one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select

from fhir_server.auth import key_pairs
from fhir_server.auth.clients import ClientError, describe, list_clients, register_client, revoke_client
from fhir_server.db import Organization
from fhir_server.db.clinic import organization_lookup


def register(clients_app: typer.Typer) -> None:
    """Add the commands to the ``clients`` group of the ``fhir-server`` command."""
    clients_app.command("create")(clients_create)
    clients_app.command("list")(clients_list)
    clients_app.command("revoke")(clients_revoke)


def clients_create(
    name: Annotated[str, typer.Option(help="The app's name, shown on the consent page.")],
    client_type: Annotated[
        str, typer.Option("--type", help="public, confidential-symmetric or confidential-asymmetric.")
    ],
    scope: Annotated[str, typer.Option(help="The most the client may ever be granted (space-separated scopes).")],
    organization: Annotated[str, typer.Option(help="The clinic: id, FHIR id, NPI or exact name.")],
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="A redirect URI (repeat for several).")
    ] = None,
    launch_uri: Annotated[str | None, typer.Option(help="The app's EHR launch URL.")] = None,
    jwks_url: Annotated[str | None, typer.Option(help="The client's JWKS URL (confidential-asymmetric).")] = None,
    jwks_file: Annotated[
        Path | None, typer.Option(help="A file holding the client's public JWKS (confidential-asymmetric).")
    ] = None,
    generate_key: Annotated[
        bool, typer.Option("--generate-key", help="Make an ES384 key pair and register its public key.")
    ] = False,
    key_out: Annotated[
        Path | None, typer.Option(help="Where --generate-key writes the private key (default: CLIENT_ID.pem).")
    ] = None,
) -> None:
    """Register a SMART client; prints it as JSON (a confidential-symmetric client's secret only this once)."""
    from fhir_server.cli import database, err, fail

    jwks = _read_jwks(jwks_file) if jwks_file else None
    key = generated_key(generate_key, jwks_file, jwks_url, key_out)
    jwks = key_pairs.public_jwks(key) if key else jwks
    with database() as db, db.write() as session:
        clinic = session.scalars(select(Organization).where(organization_lookup(organization))).first()
        if clinic is None:
            fail(f"no clinic matches {organization!r}")
        try:
            registered = register_client(
                session,
                name=name,
                client_type=client_type,
                organization=clinic,
                scope=scope,
                redirect_uris=redirect_uri or [],
                launch_uri=launch_uri,
                jwks=jwks,
                jwks_url=jwks_url,
            )
        except ClientError as exc:
            fail(str(exc))
        described = describe(registered.client, registered.secret)
        if key is not None:
            written = key_out or Path(f"{registered.client.client_id}.pem")
            save_key(written, key)
    print(json.dumps(described, indent=2))
    if key is not None:
        err.print(f"private key written to {written} (mode 0600); its public key is the JWKS above", highlight=False)


def generated_key(generate: bool, jwks_file: Path | None, jwks_url: str | None, key_out: Path | None) -> Any:
    """A new key pair for ``--generate-key`` (None without it); fails on options that contradict it."""
    from fhir_server.cli import fail

    if not generate:
        if key_out is not None:
            fail("--key-out goes with --generate-key")
        return None
    if jwks_file or jwks_url:
        fail("--generate-key registers the new key: leave out --jwks-file and --jwks-url")
    if key_out is not None and key_out.exists():
        fail(f"{key_out} exists: not overwriting a key (choose another --key-out)")
    return key_pairs.generate_key()


def save_key(path: Path, key: Any) -> None:
    from fhir_server.cli import fail

    try:
        key_pairs.write_private_key(path, key)
    except key_pairs.KeyFileError as exc:
        fail(str(exc))


def _read_jwks(path: Path) -> dict[str, Any]:
    from fhir_server.cli import fail

    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read the JWKS file {path}: {exc}")
    if not isinstance(document, dict):
        fail("the JWKS file must hold a JSON object with a 'keys' array")
    return document


def clients_list() -> None:
    """List registered clients as JSON (no secrets)."""
    from fhir_server.cli import database

    with database() as db, db.read() as session:
        described = [describe(row) for row in list_clients(session)]
    print(json.dumps(described, indent=2))


def clients_revoke(client_id: Annotated[str, typer.Argument(help="The client to revoke.")]) -> None:
    """Revoke a client: it can no longer get tokens, and its tokens stop working at once."""
    from fhir_server.cli import database, fail, out

    with database() as db, db.write() as session:
        try:
            row = revoke_client(session, client_id)
        except ClientError as exc:
            fail(str(exc))
        out.print(f"revoked client {row.client_id} ({row.name})", highlight=False)
