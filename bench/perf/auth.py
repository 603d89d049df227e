"""A real bearer token for the auth-enabled scenario, obtained the way a backend service obtains one.

SMART Backend Services (https://hl7.org/fhir/smart-app-launch/backend-services.html): the client is registered with
`fhir-server clients create --type confidential-asymmetric --jwks-file ...` holding the public half of an ES384 key
made here; the token comes from the server's token endpoint (read from its .well-known/smart-configuration) for a
client_credentials grant with a signed JWT assertion.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey

from bench.perf.data import cli

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SCOPE = "system/*.cruds"
"""What the client may be granted; each token asks for its scenario's scopes (reads: ``system/*.rs``)."""


@dataclass(frozen=True)
class Backend:
    """A registered backend-services client and its private key."""

    client_id: str
    key: ECKey


def register(database_url: str, organization: str, directory: Path) -> Backend:
    """Register a backend-services client of the clinic ``organization`` (allowed ``system/*.cruds``)."""
    key = ECKey.generate_key("P-384", parameters={"kid": "bench-1", "alg": "ES384"}, private=True)
    jwks = directory / "bench-client.jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    output = cli(
        database_url,
        "clients", "create", "--name", "Performance suite", "--type", "confidential-asymmetric",
        "--scope", SCOPE, "--jwks-file", str(jwks), "--organization", organization,
    )  # fmt: skip
    return Backend(client_id=json.loads(output)["client_id"], key=key)


def token(base_url: str, backend: Backend, scope: str) -> str:
    """A fresh access token for ``backend`` with ``scope`` from the server at ``base_url`` (its FHIR base)."""
    discovery = httpx.get(f"{base_url}/.well-known/smart-configuration", timeout=30)
    discovery.raise_for_status()
    endpoint = discovery.json()["token_endpoint"]
    claims = {
        "iss": backend.client_id,
        "sub": backend.client_id,
        "aud": endpoint,
        "exp": int(time.time()) + 240,
        "jti": str(uuid.uuid4()),
    }
    header = {"alg": "ES384", "kid": backend.key.kid, "typ": "JWT"}
    assertion = jwt.encode(header, claims, backend.key, algorithms=["ES384"])
    form = {"grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE}
    response = httpx.post(endpoint, data={**form, "client_assertion": assertion}, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"the token endpoint refused the backend client: {response.status_code} {response.text}")
    return str(response.json()["access_token"])
