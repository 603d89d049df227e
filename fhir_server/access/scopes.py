"""SMART scopes, parsed (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).

Grammar of a resource scope: ``(patient|user|system)/(Type|*).(perm)[?param=value&...]`` where ``perm`` is a v1
``read``/``write``/``*`` or a v2 run of ``c r u d s`` in that order. v1 ``read`` means ``rs``, ``write`` ``cud`` and
``*`` ``cruds`` (scopes-and-launch-context.html#scopes-for-requesting-clinical-data). Non-resource scopes are
``openid fhirUser profile launch launch/patient launch/encounter offline_access online_access``. Anything else
(misspelled, out-of-order letters such as ``.dus``, a resource type R4 does not define such as
``system/UnknownResource.read``) is not a scope this server grants: it is dropped, never half-understood. Checks
always come from this parser, never from lists of allowed strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from fhir_server.fhir.types import r4_resource_types

ScopeContext = Literal["patient", "user", "system"]
PERMISSION_ORDER = "cruds"
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
NON_RESOURCE_SCOPES = frozenset(
    {
        "openid",
        "fhirUser",
        "profile",
        "launch",
        "launch/patient",
        "launch/encounter",
        "offline_access",
        "online_access",
    }
)
_RESOURCE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]{0,63})\.([^?]+)(?:\?(.+))?$")
_V2 = re.compile(r"^c?r?u?d?s?$")

INTERACTION_PERMISSION = {
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "search-type": "s",
    "search-system": "s",
    "search-compartment": "s",
    "history-type": "s",
    "history-system": "s",
    "create": "c",
    "update": "u",
    "patch": "u",
    "delete": "d",
}
"""FHIR interaction -> the permission letter a scope needs for it (``u`` includes PATCH)."""


@dataclass(frozen=True)
class Scope:
    """One resource scope: its context, resource type (or ``*``), permission letters and granular restrictions."""

    context: ScopeContext
    resource_type: str
    permissions: frozenset[str]
    restrictions: tuple[tuple[str, str], ...] = ()
    text: str = ""

    @property
    def is_v1(self) -> bool:
        return self.text.split("?", 1)[0].rsplit(".", 1)[-1] in V1_PERMISSIONS

    def applies_to(self, resource_type: str) -> bool:
        return self.resource_type in ("*", resource_type)

    def allows(self, resource_type: str, permission: str) -> bool:
        """True when this scope grants ``permission`` (one of c r u d s) on ``resource_type``."""
        return self.applies_to(resource_type) and permission in self.permissions

    def covers(self, other: Scope) -> bool:
        """True when everything ``other`` grants, this scope grants too (same context, wider or equal type,
        permissions and restrictions)."""
        return (
            self.context == other.context
            and self.resource_type in ("*", other.resource_type)
            and other.permissions <= self.permissions
            and set(self.restrictions) <= set(other.restrictions)
        )


def with_permissions(scope: Scope, resource_type: str, permissions: frozenset[str]) -> str:
    """The text of ``scope`` narrowed to ``resource_type`` and ``permissions`` (a subset of its own), its granular
    restrictions kept; written as requested (``scope.text``) when nothing changed, in v1 form when it was v1 and the
    letters have a v1 name, else as v2 letters."""
    if resource_type == scope.resource_type and permissions == scope.permissions:
        return scope.text
    letters = "".join(c for c in PERMISSION_ORDER if c in permissions)
    if scope.is_v1:
        letters = {v: k for k, v in V1_PERMISSIONS.items()}.get(letters, letters)
    query = scope.text.partition("?")[2]
    return f"{scope.context}/{resource_type}.{letters}" + (f"?{query}" if query else "")


def permission_for(interaction: str) -> str:
    """The permission letter an interaction (or ``$operation`` name) needs; operations need read (``r``)."""
    return INTERACTION_PERMISSION.get(interaction, "r")


def parse_scope(text: str) -> Scope | None:
    """The resource scope ``text`` stands for, or None when it is not a well-formed resource scope."""
    match = _RESOURCE.match(text)
    if match is None:
        return None
    context, resource_type, permission, query = match.groups()
    if resource_type != "*" and resource_type not in r4_resource_types():
        return None
    letters = V1_PERMISSIONS.get(permission)
    if letters is None:
        if not permission or not _V2.match(permission):
            return None
        letters = permission
    restrictions: tuple[tuple[str, str], ...] = ()
    if query is not None:
        try:
            restrictions = tuple(sorted(parse_qsl(query, keep_blank_values=False, strict_parsing=True)))
        except ValueError:
            return None
    return Scope(context, resource_type, frozenset(letters), restrictions, text)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ScopeSet:
    """A whole scope string, split into resource scopes, non-resource scopes and what was not understood."""

    resource: tuple[Scope, ...]
    other: frozenset[str]
    unknown: tuple[str, ...]

    @property
    def texts(self) -> list[str]:
        """The understood scopes as strings, resource scopes in their requested form."""
        return [s.text for s in self.resource] + sorted(self.other)

    def __contains__(self, name: object) -> bool:
        return name in self.other


def split_scope(scope: str | None) -> list[str]:
    """The scope strings of a space-separated ``scope`` parameter, first occurrence kept, order kept."""
    return list(dict.fromkeys((scope or "").split()))


def parse_scopes(scope: str | Iterable[str] | None) -> ScopeSet:
    """Parse a space-separated scope string (or its parts)."""
    parts = split_scope(scope) if isinstance(scope, str) or scope is None else list(dict.fromkeys(scope))
    resource: list[Scope] = []
    other: set[str] = set()
    unknown: list[str] = []
    for part in parts:
        if part in NON_RESOURCE_SCOPES:
            other.add(part)
        elif (parsed := parse_scope(part)) is not None:
            resource.append(parsed)
        else:
            unknown.append(part)
    return ScopeSet(tuple(resource), frozenset(other), tuple(unknown))


def narrow(requested: str | None, allowed: str) -> list[str]:
    """The requested scopes that ``allowed`` (a client's registration) covers, in requested order.

    A non-resource scope passes when it is allowed literally; a resource scope when an allowed scope covers it.
    """
    permitted = parse_scopes(allowed)
    kept: list[str] = []
    for part in split_scope(requested):
        if part in NON_RESOURCE_SCOPES:
            if part in permitted.other:
                kept.append(part)
            continue
        parsed = parse_scope(part)
        if parsed is not None and any(p.covers(parsed) for p in permitted.resource):
            kept.append(part)
    return kept


def is_subset(requested: str | None, granted: str) -> bool:
    """True when every scope of ``requested`` is covered by ``granted`` (refreshes never widen a grant)."""
    return len(narrow(requested, granted)) == len(split_scope(requested))
