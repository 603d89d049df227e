"""The scopes a user's login can be granted through the authorization-code flow (offered at consent, granted in
the code, re-granted at refresh).

* ``system/`` scopes are for backend services (``client_credentials``) only: never offered nor granted to a user,
  even when the client is registered with them
  (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-clinical-data).
* Resource scopes are narrowed to the user's role (:mod:`fhir_server.access.roles`): ``user/*.cruds`` for a
  ``readonly`` user becomes ``user/*.rs``; a wildcard beyond a role that lists types becomes the role's default on
  ``*`` plus one scope per listed type that allows more (types a role allows less than its default are still
  cut at every request). A scope the role allows nothing of is dropped.
* Non-resource scopes (``openid``, ``launch/patient``, ``offline_access`` ...) pass unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_server.access.roles import permissions_of
from fhir_server.access.scopes import NON_RESOURCE_SCOPES, Scope, parse_scope, with_permissions


def grantable(scopes: Iterable[str], role: str) -> list[str]:
    """The scopes of ``scopes`` a user of ``role`` may be granted, narrowed to the role, in order, without
    repeats nor scopes another kept scope covers."""
    kept: list[str] = []
    for text in scopes:
        if text in NON_RESOURCE_SCOPES:
            kept.append(text)
            continue
        scope = parse_scope(text)
        if scope is not None and scope.context != "system":
            kept.extend(within_role(scope, role))
    return _uncovered(list(dict.fromkeys(kept)))


def _uncovered(texts: list[str]) -> list[str]:
    """``texts`` without the resource scopes another of them covers (``user/Patient.rs`` beside ``user/*.rs``; of
    two that cover each other, such as ``user/*.read`` and ``user/*.rs``, the first)."""
    scopes = [parse_scope(text) for text in texts]

    def redundant(i: int, scope: Scope) -> bool:
        return any(
            other is not None and j != i and other.covers(scope) and (j < i or not scope.covers(other))
            for j, other in enumerate(scopes)
        )

    return [
        text
        for i, (text, scope) in enumerate(zip(texts, scopes, strict=True))
        if scope is None or not redundant(i, scope)
    ]


def within_role(scope: Scope, role: str) -> list[str]:
    """``scope`` narrowed to what ``role`` allows, as scope texts (none when the role allows nothing of it)."""
    permissions = permissions_of(role)
    allowed = scope.permissions & permissions.letters(scope.resource_type)
    narrowed = [with_permissions(scope, scope.resource_type, allowed)] if allowed else []
    if scope.resource_type != "*":
        return narrowed
    for resource_type, letters in permissions.types.items():
        extra = scope.permissions & frozenset(letters)
        if extra and not extra <= allowed:
            narrowed.append(with_permissions(scope, resource_type, extra))
    return narrowed
