"""Registered SMART clients: registering, listing, revoking, and the client object Authlib's server works with.

Client types follow https://hl7.org/fhir/smart-app-launch/client-authentication.html: ``public`` (no secret, PKCE),
``confidential-symmetric`` (a secret over HTTP Basic or the form) and ``confidential-asymmetric`` (``private_key_jwt``
with a registered JWKS or JWKS URL, https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html).
Secrets are URL-safe (Authlib percent-decodes Basic credentials) and stored as SHA-256 hashes only.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.access.digests import digest
from fhir_server.access.scopes import narrow, parse_scopes, split_scope
from fhir_server.db import OAuthClient, Organization
from fhir_server.db.oauth import CLIENT_TYPES
from fhir_server.db.types import utcnow

AUTH_METHODS = {
    "public": frozenset({"none"}),
    "confidential-symmetric": frozenset({"client_secret_basic", "client_secret_post"}),
    "confidential-asymmetric": frozenset({"private_key_jwt"}),
}


MAX_REDIRECT_URIS = 20
MAX_URL_LENGTH = 2000
MAX_NAME_LENGTH = 200
MAX_JWKS_KEYS = 10


class ClientError(ValueError):
    """A client cannot be registered as asked; the message says why, ``field`` which option (``redirect_uris``,
    ``launch_uri``, ``jwks_uri``, ``jwks``, ``scope``, ``client_type``, ``client_name``) was wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Registered:
    """A new registration: the stored row and, for a confidential-symmetric client, its secret (shown once)."""

    client: OAuthClient
    secret: str | None


def register_client(
    session: Session,
    *,
    name: str,
    client_type: str,
    organization: Organization,
    scope: str,
    redirect_uris: Sequence[str] = (),
    launch_uri: str | None = None,
    jwks: dict[str, Any] | None = None,
    jwks_url: str | None = None,
    client_id: str | None = None,
) -> Registered:
    """Register a client of ``organization``; raises ClientError naming the first bad option."""
    if not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        raise ClientError(f"the name must have 1 to {MAX_NAME_LENGTH} characters", "client_name")
    _check_registration(client_type, scope, redirect_uris, launch_uri, jwks, jwks_url)
    secret = secrets.token_urlsafe(32) if client_type == "confidential-symmetric" else None
    row = OAuthClient(
        client_id=client_id or secrets.token_hex(16),  # never a leading "-" the command line takes for an option
        name=name.strip(),
        client_type=client_type,
        secret_hash=digest(secret) if secret else None,
        redirect_uris=list(redirect_uris),
        launch_uri=launch_uri,
        scope=" ".join(split_scope(scope)),
        jwks=jwks,
        jwks_url=jwks_url,
        organization_id=organization.id,
    )
    if session.get(OAuthClient, row.client_id) is not None:
        raise ClientError(f"a client with id {row.client_id} already exists")
    session.add(row)
    session.flush()
    return Registered(row, secret)


def _check_registration(
    client_type: str,
    scope: str,
    redirect_uris: Sequence[str],
    launch_uri: str | None,
    jwks: dict[str, Any] | None,
    jwks_url: str | None,
) -> None:
    if client_type not in CLIENT_TYPES:
        raise ClientError(f"--type must be one of {', '.join(CLIENT_TYPES)}, not {client_type!r}", "client_type")
    if len(redirect_uris) > MAX_REDIRECT_URIS:
        raise ClientError(f"at most {MAX_REDIRECT_URIS} redirect URIs", "redirect_uris")
    urls = [*(("redirect_uris", u) for u in redirect_uris), ("launch_uri", launch_uri), ("jwks_uri", jwks_url)]
    for field, uri in urls:
        if uri is not None and not _absolute_url(uri):
            raise ClientError(f"not an absolute http(s) URL without fragment: {uri!r}", field)
    if client_type != "confidential-asymmetric" and not redirect_uris:
        raise ClientError(f"a {client_type} client needs at least one --redirect-uri", "redirect_uris")
    if client_type == "confidential-asymmetric" and not (jwks or jwks_url):
        raise ClientError("a confidential-asymmetric client needs --jwks-url or --jwks-file", "jwks")
    if client_type != "confidential-asymmetric" and (jwks or jwks_url):
        raise ClientError("only confidential-asymmetric clients authenticate with keys", "jwks")
    if jwks is not None and not isinstance(jwks.get("keys"), list):
        raise ClientError("the JWKS must be a JSON object with a 'keys' array", "jwks")
    if jwks is not None and len(jwks["keys"]) > MAX_JWKS_KEYS:
        raise ClientError(f"the JWKS may hold at most {MAX_JWKS_KEYS} keys", "jwks")
    unknown = parse_scopes(scope).unknown
    if unknown:
        raise ClientError(f"not SMART scopes: {' '.join(unknown)}", "scope")
    if not scope.split():
        raise ClientError("--scope is required (the most the client may ever be granted)", "scope")


def _absolute_url(uri: str) -> bool:
    if len(uri) > MAX_URL_LENGTH:
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:  # a malformed host (an unclosed IPv6 bracket)
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def list_clients(session: Session) -> Sequence[OAuthClient]:
    """Every registered client, revoked ones included, by name."""
    return session.scalars(select(OAuthClient).order_by(OAuthClient.name, OAuthClient.client_id)).all()


def revoke_client(session: Session, client_id: str) -> OAuthClient:
    """Revoke a client: it can no longer authenticate, and its tokens stop working at once."""
    row = session.get(OAuthClient, client_id)
    if row is None:
        raise ClientError(f"no client with id {client_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def describe(row: OAuthClient, secret: str | None = None) -> dict[str, Any]:
    """The client as printed by the CLI (the secret only right after registration)."""
    described: dict[str, Any] = {
        "client_id": row.client_id,
        "name": row.name,
        "type": row.client_type,
        "redirect_uris": row.redirect_uris,
        "launch_uri": row.launch_uri,
        "scope": row.scope,
        "jwks_url": row.jwks_url,
        "jwks": row.jwks,
        "organization_id": str(row.organization_id),
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }
    if secret is not None:
        described["client_secret"] = secret
    return {k: v for k, v in described.items() if v is not None}


class Client:
    """A registered, unrevoked client, as Authlib's ``ClientMixin`` protocol sees it."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row
        self.client_id = row.client_id

    @property
    def organization_id(self) -> Any:
        return self.row.organization_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.row.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scopes of an authorization request the client's registration covers; never a ``system/`` scope
        (for ``client_credentials`` only), even when the client is registered with one."""
        kept = [s for s in narrow(scope, self.row.scope) if not s.startswith("system/")]
        return " ".join(kept) if kept else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row.secret_hash
        return stored is not None and hmac.compare_digest(stored, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS[self.row.client_type]

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and bool(self.row.redirect_uris)

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return self.row.client_type == "confidential-asymmetric"
        return grant_type in ("authorization_code", "refresh_token") and bool(self.row.redirect_uris)


def find_client(session: Session, client_id: str | None) -> Client | None:
    """The registered, unrevoked client of ``client_id``."""
    if not client_id or len(client_id) > 100:
        return None
    row = session.get(OAuthClient, client_id)
    if row is None or row.revoked_at is not None:
        return None
    return Client(row)
