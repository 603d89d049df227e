"""How secrets are stored: the SHA-256 hex digest of a high-entropy secret (an access or refresh token, a code, a
handle). The authorization server (:mod:`fhir_server.auth`) stores what it issues under this digest and
:mod:`fhir_server.access.bearer` finds an access token by it, so the form lives here, on the reading side."""

from __future__ import annotations

import hashlib


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a high-entropy secret (token, code, handle) is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()
