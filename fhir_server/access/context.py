"""Who is asking: the access context every FHIR handler receives.

With ``FHIR_SERVER_AUTH=disabled`` every request gets the open context (everything allowed, no clinic bound).
Otherwise the request must carry a live Bearer access token (https://hl7.org/fhir/smart-app-launch/app-launch.html
#access-protected-resources, RFC 6750): none answers 401 with ``WWW-Authenticate: Bearer realm=...``; an unknown,
expired or revoked one 401 ``error="invalid_token"``. The context then holds the user (or backend client), the
parsed scopes, the patient in context and the clinic every row must belong to.

Permission letters (scopes-and-launch-context.html): ``r`` read, vread and instance history; ``s`` search and
type/system history; ``c`` create; ``u`` update and patch; ``d`` delete. ``patient/`` scopes confine to the patient's
compartment, ``user/`` scopes to the user's clinic (and a portal user to their own compartment), ``system/`` scopes to
the client's clinic (and serve backend services only: a user's token never uses one); types holding no patient's data
(Practitioner, Organization, ...) a patient's token reads within its clinic (:mod:`fhir_server.access.predicates`).
Whatever its scopes, a user's token never exceeds the current role of its user (:mod:`fhir_server.access.roles`).
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import String, Uuid, bindparam
from starlette.requests import Request

from fhir_server.access.bearer import BearerGrant, live_grant, token_hash
from fhir_server.access.predicates import CLINIC_PARAM, PATIENT_PARAM, SearchRule, restriction
from fhir_server.access.roles import role_allows
from fhir_server.access.scopes import Scope, ScopeSet, parse_scopes, permission_for
from fhir_server.app_context import app_context
from fhir_server.errors import FhirError, Issue, Kind, bearer_challenge, fail_all


@dataclass(frozen=True)
class AccessContext:
    """The caller: user or client, granted scopes, patient compartment and clinic (None: not bound)."""

    user_id: uuid.UUID | None = None
    client_id: str | None = None
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    patient_id: str | None = None
    organization_id: uuid.UUID | None = None
    open: bool = False
    role: str | None = None
    fhir_user: str | None = None
    scope_text: str = ""
    other_scopes: frozenset[str] = field(default_factory=frozenset)

    def scopes_allowing(self, resource_type: str, interaction: str) -> list[Scope]:
        """The granted resource scopes that permit ``interaction`` on ``resource_type``: none when the role of the
        token's user (now, not when the token was issued) never allows it (:mod:`fhir_server.access.roles`)."""
        letter = permission_for(interaction)
        if not role_allows(self.role, resource_type, letter):
            return []
        return [s for s in self.scopes if s.allows(resource_type, letter)]

    def may(self, resource_type: str, interaction: str) -> bool:
        """True when the caller may do ``interaction`` (read, vread, history-instance, search-type, history-type,
        history-system, create, update, patch, delete, or an operation's name) on ``resource_type``.

        This is the type-level check (403 when false); which rows are visible is :meth:`search_restriction`'s.
        """
        if self.open:
            return True
        return any(self._usable(s) for s in self.scopes_allowing(resource_type, interaction))

    def _usable(self, scope: Scope) -> bool:
        return scope.context != "patient" or self.patient_id is not None

    def search_restriction(self, interaction: str = "search-type") -> SearchRule | None:
        """The SQL rule every version a search touches must meet for this caller (None: no rule), as
        :mod:`fhir_server.access.predicates` builds it."""
        return restriction(self, interaction, self.patient_id, self.organization_id)

    def restriction_shape(self, interaction: str) -> Hashable:
        """A key naming the SQL of :meth:`restriction_template`: two callers with equal keys get the same SQL, so a
        statement built from the template may be compiled once per key."""
        return (
            interaction,
            self.open,
            self.scopes,
            self.role,
            self.patient_id is None,
            bool(self.patient_id),
            self.organization_id is None,
        )

    def restriction_template(self, interaction: str) -> SearchRule | None:
        """:meth:`search_restriction` with the patient and clinic as the bind parameters :data:`PATIENT_PARAM` and
        :data:`CLINIC_PARAM` (their values: :meth:`template_params`)."""
        patient = bindparam(PATIENT_PARAM, type_=String, required=False)
        clinic = bindparam(CLINIC_PARAM, type_=Uuid, required=False)
        return restriction(self, interaction, patient, clinic)

    def template_params(self) -> dict[str, Any]:
        """The values of the bind parameters of :meth:`restriction_template`."""
        return {PATIENT_PARAM: self.patient_id, CLINIC_PARAM: self.organization_id}


OPEN = AccessContext(open=True)


def unauthorized(realm: str, description: str, error: str | None = "invalid_token") -> FhirError:
    """401 with an OperationOutcome (code ``login``, or ``expired`` for a stale token) and the Bearer challenge."""
    code = "login" if error is None else "expired"
    issue = Issue(code, description, ("Authorization",), severity="error" if error is None else "fatal")
    challenge = bearer_challenge(error, description if error else None, realm)
    return fail_all(Kind.UNAUTHORIZED, [issue], {"WWW-Authenticate": challenge})


def context_from(grant: BearerGrant) -> AccessContext:
    """The access context a live token grants; a user's token never uses a ``system/`` scope (those are for
    backend services only, whatever a grant of an older version holds)."""
    parsed = _parsed_scopes(grant.scope)
    resource = (s for s in parsed.resource if grant.user_id is None or s.context != "system")
    return AccessContext(
        user_id=grant.user_id,
        client_id=grant.client_id,
        scopes=frozenset(resource),
        patient_id=grant.patient_id,
        organization_id=grant.organization_id,
        role=grant.role,
        scope_text=grant.scope,
        other_scopes=parsed.other,
    )


@lru_cache(maxsize=1024)
def _parsed_scopes(scope: str) -> ScopeSet:
    """The parsed scope string (a pure function of the text, so kept: tokens of one grant repeat it)."""
    return parse_scopes(scope)


def bearer_token(request: Request) -> str | None:
    """The Bearer token of the Authorization header, if any (RFC 6750 section 2.1)."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    return credential.strip() or None if scheme.lower() == "bearer" else None


async def access_context(request: Request) -> AccessContext:
    """FastAPI dependency: the caller's access context (401 FhirError when the token is missing or not live), also
    kept as ``request.state.access`` for the audit trail."""
    app = app_context(request)
    settings = app.settings
    if settings.auth == "disabled":
        request.state.access = OPEN
        return OPEN
    realm = app.base_url
    token = bearer_token(request)
    if token is None:
        raise unauthorized(realm, "this server requires a SMART access token (Authorization: Bearer ...)", None)
    grant = await live_grant(app.database, token)
    if grant is None:
        raise unauthorized(realm, "the access token is unknown, expired or revoked")
    context = context_from(grant)
    request.state.access = context  # the audit trail records who asked
    return context


_GUESSES: dict[str, AccessContext] = {}
"""Token hash -> the context it granted when last checked. Only a hint of the SQL a read may combine with the token
check (see :mod:`fhir_server.fhir.reading`): it never grants anything; the answer always rests on the token's row
read in that same statement."""
_MAX_GUESSES = 10_000


def token_guess(request: Request) -> tuple[str, AccessContext] | None:
    """The request's token hash and the context the token granted last time, when the token was seen before by
    this process and authorization is enabled."""
    if app_context(request).settings.auth == "disabled":
        return None
    hashed = token_hash(bearer_token(request) or "")
    guess = _GUESSES.get(hashed) if hashed is not None else None
    return None if hashed is None or guess is None else (hashed, guess)


def accept_grant(request: Request, hashed: str, grant: BearerGrant | None) -> AccessContext:
    """The context of a live token found by a combined statement (401 when it is not live), noted as the request's
    caller (``request.state.access``)."""
    if grant is None:
        _GUESSES.pop(hashed, None)
        raise unauthorized(app_context(request).base_url, "the access token is unknown, expired or revoked")
    context = context_from(grant)
    _remember(hashed, context)
    request.state.access = context
    return context


def _remember(hashed: str, context: AccessContext) -> None:
    if len(_GUESSES) >= _MAX_GUESSES:
        _GUESSES.pop(next(iter(_GUESSES)))
    _GUESSES[hashed] = context


async def resolve_access(request: Request) -> AccessContext:
    """:func:`access_context` for a plain Starlette endpoint (no FastAPI dependency solving); a live token's context
    is remembered for :func:`token_guess`."""
    context = await access_context(request)
    hashed = token_hash(bearer_token(request) or "") if not context.open else None
    if hashed is not None:
        _remember(hashed, context)
    return context


Access = Annotated[AccessContext, Depends(access_context)]
"""Handler parameter type: ``access: Access``."""
