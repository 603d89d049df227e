"""PKCE (RFC 7636, https://www.rfc-editor.org/rfc/rfc7636) as SMART App Launch 2 requires it: S256 only, from every
client (https://hl7.org/fhir/smart-app-launch/app-launch.html#considerations-for-pkce-support).

Authlib's ``CodeChallenge`` accepts ``plain``, defaults a missing method to ``plain`` and enforces PKCE only for public
clients; this extension refuses a missing challenge, any method but ``S256``, and a token request without a valid
``code_verifier`` whatever the client type.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import (
    CODE_CHALLENGE_PATTERN,
    CODE_VERIFIER_PATTERN,
    compare_s256_code_challenge,
)

METHOD = "S256"


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256, required at the authorization endpoint and checked at the token endpoint."""

    DEFAULT_CODE_CHALLENGE_METHOD = METHOD
    SUPPORTED_CODE_CHALLENGE_METHOD = [METHOD]

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """Authorization request: exactly one ``code_challenge`` of the right shape, ``code_challenge_method=S256``."""
        payload = grant.request.payload
        challenge = payload.data.get("code_challenge")
        method = payload.data.get("code_challenge_method")
        if not challenge:
            raise InvalidRequestError("PKCE is required: send code_challenge and code_challenge_method=S256")
        if method != METHOD:
            raise InvalidRequestError("code_challenge_method must be S256 (plain is not accepted)")
        for name in ("code_challenge", "code_challenge_method"):
            if len(payload.datalist.get(name, [])) > 1:
                raise InvalidRequestError(f"Multiple '{name}' in request.")
        if not CODE_CHALLENGE_PATTERN.match(challenge):
            raise InvalidRequestError("Invalid 'code_challenge'")

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """Token request: the ``code_verifier`` must hash (S256) to the code's challenge."""
        verifier = grant.request.form.get("code_verifier")
        code = grant.request.authorization_code
        if not verifier:
            raise InvalidRequestError("Missing 'code_verifier'")
        if not CODE_VERIFIER_PATTERN.match(verifier):
            raise InvalidRequestError("Invalid 'code_verifier'")
        if code.code_challenge_method != METHOD or not compare_s256_code_challenge(verifier, code.code_challenge):
            raise InvalidGrantError(description="Code challenge failed.")
