"""Development tokens: ``fhir-server token`` mints an access token for local testing, without the six requests of a
real flow, through the token endpoint's own grants (:mod:`fhir_server.auth.token`).

The command line stands in for exactly two things: the client's authentication and, for a user's token, the
authorization code (the user's login and consent). Everything else is the token endpoint's: the scopes are cut to the
client's registration as there (a user's token: no ``system/`` scope, then what the user's role may be granted; a
backend service's token: only the registered ``system/`` scopes of a ``confidential-asymmetric`` client), the user
must be active and of the client's clinic, a portal login only ever has their own record in context, and the grant,
the stored access token (so it is introspectable and revocable), the launch context, the id_token and the
``token-issued`` audit event are written by the same code. A development token never carries a refresh token.

Refused unless ``FHIR_SERVER_DEV_TOKENS=true``, and refused when authorization is disabled (no token is needed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import OAuth2Error
from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.access.patient_context import is_portal, may_have_in_context, own_patient
from fhir_server.access.scopes import split_scope
from fhir_server.access.user_scopes import grantable
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.authorization_flow import code_context, needs_patient
from fhir_server.auth.backend_services import SystemClientCredentials, system_scope
from fhir_server.auth.clients import Client, find_client
from fhir_server.auth.oauth_server import FormRequest, SmartServer
from fhir_server.auth.token import REFRESH_SCOPES, CodeGrant, build_server
from fhir_server.auth.users import normalize_email
from fhir_server.db import AuthorizationCode, Patient, User
from fhir_server.db.types import utcnow
from fhir_server.settings import Settings

logger = logging.getLogger(__name__)
CLI_ORIGIN = Origin(user_agent="fhir-server token (development token)")
"""How the audit trail records where a development token came from."""


class DevTokenError(ValueError):
    """No token can be minted as asked; the message says why."""


@dataclass(frozen=True)
class DevTokenRequest:
    """What ``fhir-server token`` asks for: a client, scopes and, for a user's token, the user and a patient."""

    client_id: str
    scope: str
    user_email: str | None = None
    patient: str | None = None


def mint(session: Session, settings: Settings, asked: DevTokenRequest) -> dict[str, Any]:
    """The token response (as the token endpoint answers it) of a new development token; DevTokenError when it is
    not allowed or the request does not hold up."""
    if settings.auth == "disabled":
        raise DevTokenError("authorization is disabled (FHIR_SERVER_AUTH=disabled): the API needs no token")
    if not settings.dev_tokens:
        raise DevTokenError("development tokens are off: set FHIR_SERVER_DEV_TOKENS=true (never in production)")
    if REFRESH_SCOPES & set(split_scope(asked.scope)):
        raise DevTokenError("a development token has no refresh token: leave out offline_access and online_access")
    server = build_server(session, settings, CLI_ORIGIN)
    client = find_client(session, asked.client_id)
    if client is None:
        raise DevTokenError(f"no live client with id {asked.client_id!r}")
    try:
        token = _for_user(server, client, asked) if asked.user_email else _for_backend(server, client, asked)
    except OAuth2Error as exc:
        raise DevTokenError(exc.description or exc.error) from exc
    logger.warning(
        "development token issued by the command line: client %s, user %s, scope %r, patient %s",
        client.client_id,
        asked.user_email or "-",
        token["scope"],
        token.get("patient", "-"),
    )
    return token


def _for_backend(server: SmartServer, client: Client, asked: DevTokenRequest) -> dict[str, Any]:
    """A backend service's token (as ``client_credentials`` issues it)."""
    if asked.patient:
        raise DevTokenError("--patient puts a patient in a user's context: name the user with --user")
    if not client.check_grant_type("client_credentials"):
        raise DevTokenError(
            f"client {client.client_id} is {client.row.client_type}: without --user only a backend service "
            "(confidential-asymmetric, system/ scopes) gets a token; name the user with --user"
        )
    request = _request(server, client, "client_credentials", asked.scope)
    request.scope = system_scope(client, asked.scope)
    return _issued(SystemClientCredentials(request, server))


def _for_user(server: SmartServer, client: Client, asked: DevTokenRequest) -> dict[str, Any]:
    """A user's token (as ``authorization_code`` issues it after the user allowed every scope offered)."""
    session = server.session
    user = session.scalars(select(User).where(User.email == normalize_email(asked.user_email or ""))).first()
    if user is None or not user.active or user.deleted_at is not None:
        raise DevTokenError(f"no active user {asked.user_email!r}")
    if not client.check_grant_type("authorization_code"):
        raise DevTokenError(f"client {client.client_id} cannot act for users (it has no redirect URI)")
    scopes = grantable(split_scope(client.get_allowed_scope(asked.scope)), user.role)
    if not scopes:
        raise DevTokenError("none of the scopes is both registered for the client and allowed to the user's role")
    patient = _patient(session, user, asked.patient, needs_patient(scopes, None))
    request = _request(server, client, "authorization_code", " ".join(scopes))
    request.authorization_code = AuthorizationCode(
        code_hash="",
        client_id=client.client_id,
        user_id=user.id,
        redirect_uri="",
        scope=" ".join(scopes),
        code_challenge="",
        code_challenge_method="",
        context=code_context(session, server.settings, patient, None, scopes),
        auth_time=utcnow(),
        expires_at=utcnow(),
    )  # never stored: it stands for the login and consent the command line skips
    return _issued(CodeGrant(request, server))


def _patient(session: Session, user: User, fhir_id: str | None, needed: bool) -> str | None:
    """The FHIR id of the patient in context: the one asked for (one the user may have in context), a portal
    login's own record, or None when no scope needs one."""
    if is_portal(user) and fhir_id is None:
        own = own_patient(session, user)
        fhir_id = own.fhir_id if own else None
    if fhir_id is None:
        if needed:
            raise DevTokenError("a patient/ or launch/patient scope needs a patient in context: add --patient ID")
        return None
    patient = session.scalars(
        select(Patient).where(Patient.fhir_id == fhir_id, Patient.organization_id == user.organization_id)
    ).first()
    if patient is None or not may_have_in_context(session, user, patient):
        raise DevTokenError(f"the user may not have Patient/{fhir_id} in context")
    return patient.fhir_id


def _request(server: SmartServer, client: Client, grant_type: str, scope: str) -> FormRequest:
    pairs = [("grant_type", grant_type), ("client_id", client.client_id), ("scope", scope)]
    request = FormRequest("POST", server.endpoints.token, {}, pairs)
    request.client = client
    return request


def _issued(grant: Any) -> dict[str, Any]:
    _status, body, _headers = grant.create_token_response()
    return dict(body)
