"""Counts every HTTP request and times it: :func:`observe`, called once per request by the request log.

The labels come from what routing already decided, never from the raw path: a FHIR API request is labelled with
the interaction its route declares and the type it served (:func:`fhir_server.audit.trail.interaction_of`, the
audit trail's own reading); any other request with the handler its route runs, named by module and function below
``fhir_server`` (``auth.token.token_endpoint``, ``health.ready``), or ``unmatched`` when no route took it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import Scope

from fhir_server.audit.middleware import is_fhir_request
from fhir_server.audit.trail import interaction_of
from fhir_server.fhir.types import r4_resource_types
from fhir_server.metrics.instruments import LATENCY, REQUESTS

UNMATCHED = "unmatched"
"""The interaction label of a request outside the FHIR API that no route took."""


def labels_of(scope: Scope) -> tuple[str, str]:
    """The (interaction, resource type) labels of a request already routed: the type only when it is an R4
    resource type (so no client-chosen text can become a label); the empty string when there is none."""
    if is_fhir_request(scope):
        interaction = interaction_of(scope)
        served = interaction.resource_type if interaction.resource_type in r4_resource_types() else None
        return interaction.action, served or ""
    return handler_name(scope.get("endpoint")), ""


def handler_name(endpoint: Any) -> str:
    """``module.function`` of a route's handler, without the leading ``fhir_server.`` (:data:`UNMATCHED` for None):
    one per route, whatever the path's values (route templates are no help here: FastAPI's nested routers keep only
    the innermost prefix on the route)."""
    if endpoint is None:
        return UNMATCHED
    module = str(getattr(endpoint, "__module__", None) or type(endpoint).__module__)
    name = str(getattr(endpoint, "__qualname__", None) or type(endpoint).__qualname__)
    return f"{module.removeprefix('fhir_server.')}.{name}"


_CHILDREN: dict[tuple[str, str, int], tuple[Callable[[], None], Callable[[float], None]]] = {}
"""Labels -> (count, observe) of their series: as many as there are series (bounded by the labels' sets), which
spares each request prometheus-client's label checks and lock."""


def _instruments(
    interaction: str, resource_type: str, status: int
) -> tuple[Callable[[], None], Callable[[float], None]]:
    key = (interaction, resource_type, status)
    found = _CHILDREN.get(key)
    if found is None:
        counter = REQUESTS.labels(interaction, resource_type, str(status))
        found = _CHILDREN[key] = (counter.inc, LATENCY.labels(interaction).observe)
    return found


def observe(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered HTTP request of ``scope`` (already routed) with ``status``, and its latency ``seconds``.
    Called by :class:`fhir_server.request_log.RequestLogMiddleware`, which notes both for its log line anyway."""
    interaction, resource_type = labels_of(scope)
    count, observe_latency = _instruments(interaction, resource_type, status)
    count()
    observe_latency(seconds)
