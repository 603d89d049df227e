"""Counts the token endpoint's answers by grant type and outcome (:data:`~fhir_server.metrics.instruments.TOKENS`).

Both labels come from fixed sets: a grant type this server knows (else ``other``) and ``issued`` or an OAuth 2 error
code of RFC 6749 section 5.2 / RFC 7523 (else ``other``; ``failed`` when the request ended in an exception, such as
a database that is down), so a client's made-up values never become series.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response

from fhir_server.metrics.instruments import TOKENS

GRANT_TYPES = frozenset({"authorization_code", "refresh_token", "client_credentials"})
ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
    }
)
OTHER = "other"


def count(grant_type: object, response: Response | None) -> None:
    """Count one token request for ``grant_type`` (the form's value) answered with ``response`` (None: it raised)."""
    grant = grant_type if isinstance(grant_type, str) and grant_type in GRANT_TYPES else OTHER
    TOKENS.labels(grant, outcome_of(response)).inc()


def outcome_of(response: Response | None) -> str:
    """``issued`` for a 200, the OAuth error code of an error answer (``other`` if unknown), ``failed`` for None."""
    if response is None:
        return "failed"
    if response.status_code == 200:
        return "issued"
    try:
        error = orjson.loads(bytes(response.body)).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return OTHER
    return error if isinstance(error, str) and error in ERRORS else OTHER
