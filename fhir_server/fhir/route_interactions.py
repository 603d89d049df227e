"""The FHIR interaction each route performs, declared on the route itself.

Every route under ``/fhir`` states the interaction it performs: a code of
http://hl7.org/fhir/R4/codesystem-restful-interaction.html (``read``, ``search-type``, ``create``, ...) or ``$name``
for an operation (http://hl7.org/fhir/R4/operations.html), and, when its path names the resource type literally
(``/ConceptMap``, ``/AuditEvent``), that type. FastAPI routes carry it in their ``openapi_extra`` (so it also appears
in the OpenAPI document as ``x-fhir-interaction``/``x-fhir-type``); the plain Starlette routes of the hot path are
:class:`FhirRoute`. Readers (the audit trail) take it from the route the request matched (``scope["route"]``), never
from the handler's name, so one handler serving several routes or types is recorded right.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

INTERACTION = "x-fhir-interaction"
RESOURCE_TYPE = "x-fhir-type"
SEARCH_PARAMETERS = "x-fhir-search"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
"""The methods a FHIR path may take, in the order ``Allow`` lists them (HEAD: wherever GET is taken)."""


def declares(
    interaction: str | None, resource_type: str | None = None, search: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The ``openapi_extra`` of a route performing ``interaction`` (None: a route that refuses every request it
    matches, such as the 405 of a read-only type), on ``resource_type`` when its path fixes the type; ``search``:
    the only search parameters a search route of its own supports (the CapabilityStatement lists those)."""
    declared: dict[str, Any] = {INTERACTION: interaction}
    if resource_type is not None:
        declared[RESOURCE_TYPE] = resource_type
    if search is not None:
        declared[SEARCH_PARAMETERS] = list(search)
    return declared


class FhirRoute(Route):
    """A plain Starlette route (no FastAPI dependency solving) that declares its interaction as a FastAPI route does
    and, like one, names itself in the request's scope (``scope["route"]``) when it matches."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, methods: list[str], interaction: str) -> None:
        super().__init__(path, endpoint, methods=methods, include_in_schema=False)
        self.openapi_extra = declares(interaction)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Starlette's match, with this route in the child scope."""
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def declared(scope: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The (interaction, fixed resource type) of the route ``scope`` was routed to.

    The interaction is None when no route matched the path (404), when the route matched the path but does not take
    the request's method (405: routing answered, no interaction ran), or when the route declares none; the type is
    the one its path fixes, if any (None when no route matched).
    """
    route = scope.get("route")
    extra: dict[str, Any] = getattr(route, "openapi_extra", None) or {}
    methods = getattr(route, "methods", None)
    performed = methods is not None and scope.get("method") in methods
    return (extra.get(INTERACTION) if performed else None), extra.get(RESOURCE_TYPE)


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope, refused: str | None = None) -> list[str]:
    """The methods some route of ``routes`` (the application's) takes on the path of ``scope``, for the ``Allow``
    header of a 405 (RFC 9110 section 15.5.6): each method is probed through the routes' own matching, so the
    answer is what routing does, not a list kept by hand. HEAD is taken wherever GET is
    (:mod:`fhir_server.head_requests`); ``refused`` is left out (a handler that refuses its route's method on this
    URL, such as a conditional update without criteria). Empty when no route takes the path."""
    routes = list(routes)
    taken = {method for method in METHODS if method != "HEAD" and _routed(routes, scope, method)}
    if "GET" in taken:
        taken.add("HEAD")
    return [method for method in METHODS if method in taken and method != refused]


def _routed(routes: list[BaseRoute], scope: Scope, method: str) -> bool:
    probe = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", ""), "method": method}
    probe.update(headers=[], query_string=b"")
    return any(route.matches(probe)[0] is Match.FULL for route in routes)
