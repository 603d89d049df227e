"""Who is asking: the access context every FHIR handler receives.

With ``FHIR_SERVER_AUTH=disabled`` every request gets the open context (everything allowed, no clinic bound).
Otherwise the request must carry a live Bearer access token (https://hl7.org/fhir/smart-app-launch/app-launch.html
#access-protected-resources, RFC 6750): none answers 401 with ``WWW-Authenticate: Bearer realm=...``; an unknown,
expired or revoked one 401 ``error="invalid_token"``. The context then holds the user (or backend client), the
parsed scopes, the patient in context and the clinic every row must belong to.

Permission letters (scopes-and-launch-context.html): ``r`` read, vread and instance history; ``s`` search and
type/system history; ``c`` create; ``u`` update and patch; ``d`` delete. ``patient/`` scopes confine to the patient's
compartment, ``user/`` scopes to the user's clinic (and a portal user to their own compartment), ``system/`` scopes to
the client's clinic (and serve backend services only: a user's token never uses one). Whatever its scopes, a user's
token never exceeds the current role of its user (:mod:`fhir_server.access.roles`).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import ColumnElement, String, Uuid, and_, bindparam, exists, false, or_, select, true
from sqlalchemy.orm import aliased
from starlette.requests import Request

from fhir_server.access.bearer import BearerGrant, live_grant, token_hash
from fhir_server.access.roles import role_allows
from fhir_server.access.scopes import Scope, ScopeSet, parse_scopes, permission_for
from fhir_server.app_context import app_context
from fhir_server.db import Organization, SearchToken
from fhir_server.db.fhir import same_version
from fhir_server.errors import FhirError, Issue

SearchRule = Callable[[Any, str], ColumnElement[bool] | None]


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
        """The SQL rule every version a search touches must meet for this caller (None: no rule).

        ``rule(h, resource_type)`` gets an aliased resource_history and the type it holds; a version passes when one
        scope permitting ``interaction`` on the type admits it: ``system/``/``user/`` scopes within the clinic (a portal
        user only in their own compartment), ``patient/`` scopes within the patient's compartment; granular
        ``?param=value`` restrictions of a scope must match the version's token index.
        """
        return self._restriction(interaction, self.patient_id, self.organization_id)

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
        return self._restriction(interaction, patient, clinic)

    def template_params(self) -> dict[str, Any]:
        """The values of the bind parameters of :meth:`restriction_template`."""
        return {PATIENT_PARAM: self.patient_id, CLINIC_PARAM: self.organization_id}

    def _restriction(self, interaction: str, patient: Any, clinic: Any) -> SearchRule | None:
        if self.open:
            return None if self.organization_id is None else _clinic_only(clinic)
        return lambda h, resource_type: self._rule(h, resource_type, interaction, patient, clinic)

    def _rule(self, h: Any, resource_type: str, interaction: str, patient: Any, clinic: Any) -> ColumnElement[bool]:
        scopes = self.scopes_allowing(resource_type, interaction)
        clauses = [self._scope_rule(h, resource_type, s, patient) for s in sorted(scopes, key=_scope_order)]
        usable = [c for c in clauses if c is not None]
        if not usable:
            return and_(false())
        in_clinic = _in_clinic(h, resource_type, clinic) if self.organization_id is not None else true()
        return and_(in_clinic, or_(*usable))

    def _scope_rule(self, h: Any, resource_type: str, scope: Scope, patient: Any) -> ColumnElement[bool] | None:
        """``patient`` is the patient in context (its value, or a bind parameter standing for it)."""
        from fhir_server.fhir.search.compartment import in_compartment

        confine_to_patient = scope.context == "patient" or (scope.context == "user" and self.role == "patient")
        if confine_to_patient and self.patient_id is None:
            return None
        rule: ColumnElement[bool] = (
            in_compartment(h, resource_type, patient) if confine_to_patient and self.patient_id else true()
        )
        restrictions = [_token_matches(h, name, value) for name, value in scope.restrictions]
        return and_(rule, *restrictions) if restrictions else rule


PATIENT_PARAM = "access_patient"
CLINIC_PARAM = "access_clinic"


def _scope_order(scope: Scope) -> tuple[str, str, tuple[tuple[str, str], ...], str]:
    """A fixed order of scopes, so equal scope sets make equal SQL."""
    return scope.context, scope.resource_type, scope.restrictions, scope.text


def _clinic_only(clinic: Any) -> SearchRule:
    return lambda h, resource_type: _in_clinic(h, resource_type, clinic)


def _in_clinic(h: Any, resource_type: str, clinic: Any) -> ColumnElement[bool]:
    """Version ``h`` belongs to ``clinic`` (its id, or a bind parameter standing for it): its row's clinic, the
    clinic's own Organization, or (a shared mapping's row, e.g. a Questionnaire, which serves every clinic) no clinic
    at all."""
    from mappings.registry import MAPPINGS

    own: ColumnElement[bool] = h.organization_id == clinic
    if resource_type == "Organization":
        return or_(own, h.resource_id.in_(select(Organization.fhir_id).where(Organization.id == clinic)))
    if resource_type in MAPPINGS and MAPPINGS[resource_type].shared:
        return or_(own, h.organization_id.is_(None))
    return own


def _token_matches(h: Any, param: str, value: str) -> ColumnElement[bool]:
    """A granular scope restriction ``param=value`` (a token: ``system|code`` or ``code``) on version ``h``."""
    token = aliased(SearchToken)
    system, bar, code = value.rpartition("|")
    match = [token.code == code] + ([token.system == system] if bar and system else [])
    return exists().where(
        same_version(token, h),
        token.param == param,
        *match,
    )


OPEN = AccessContext(open=True)


def _challenge(realm: str, error: str | None = None, description: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{realm}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return {"WWW-Authenticate": value}


def unauthorized(realm: str, description: str, error: str | None = "invalid_token") -> FhirError:
    """401 with an OperationOutcome (code ``login``, or ``expired`` for a stale token) and the Bearer challenge."""
    code = "login" if error is None else "expired"
    issue = Issue(code, description, ("Authorization",), severity="error" if error is None else "fatal")
    return FhirError(401, [issue], _challenge(realm, error, description if error else None))


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
    this process, authorization is enabled and no override of :func:`access_context` is installed."""
    if app_context(request).settings.auth == "disabled" or access_context in request.app.dependency_overrides:
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
    """:func:`access_context` for a plain Starlette endpoint (no FastAPI dependency solving), honouring an
    override of it installed in ``app.dependency_overrides`` as FastAPI would."""
    override = request.app.dependency_overrides.get(access_context)
    if override is None:
        context = await access_context(request)
        hashed = token_hash(bearer_token(request) or "") if not context.open else None
        if hashed is not None:
            _remember(hashed, context)
        return context
    context = override(request)
    resolved: AccessContext = await context if inspect.isawaitable(context) else context
    request.state.access = resolved
    return resolved


Access = Annotated[AccessContext, Depends(access_context)]
"""Handler parameter type: ``access: Access``."""
