"""A backend service's own key pair and the client assertions it signs: the client's side of ``private_key_jwt``
(https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html), for ``fhir-server clients create
--generate-key`` and ``fhir-server clients assertion``.

Keys are ES384 (P-384). Their ``kid`` is the RFC 7638 thumbprint of the public key, so it can be computed again from
the private key file alone. The private key is written as PKCS#8 PEM, readable by its owner only (mode 0600), and never
over an existing file.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey

from fhir_server.auth.backend_services import ALGORITHMS

ASSERTION_LIFETIME = 300
"""Seconds an assertion lives (the most the token endpoint accepts, as Inferno sends it)."""


class KeyFileError(ValueError):
    """The key file cannot be written or read; the message says why."""


def generate_key() -> ECKey:
    """A new ES384 private key whose ``kid`` is its thumbprint."""
    key = ECKey.generate_key("P-384", private=True)
    return ECKey.import_key(key.as_dict(private=True), parameters={"kid": key.thumbprint(), "alg": "ES384"})


def public_jwks(key: Key) -> dict[str, Any]:
    """The JWKS to register for ``key``: its public part only."""
    return {"keys": [key.as_dict(private=False)]}


def write_private_key(path: Path, key: ECKey) -> None:
    """Write ``key`` as PKCS#8 PEM to a new file ``path`` of mode 0600; KeyFileError when it exists or cannot be
    written."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} exists: not overwriting a key (choose another --key-out)") from None
    except OSError as exc:
        raise KeyFileError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(key.as_pem(private=True))


def load_private_key(path: Path) -> Key:
    """The private key in ``path`` (PEM, or a JWK as JSON); an EC key's ``kid`` defaults to its thumbprint."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        key = _parse(data)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} holds no private EC or RSA key") from exc
    if not key.is_private:
        raise KeyFileError(f"{path} holds a public key: the assertion needs the private one")
    return key


def _parse(data: bytes) -> Key:
    if data.lstrip().startswith(b"{"):
        document = json.loads(data)
        kind: type[ECKey] | type[RSAKey] = ECKey if document.get("kty") == "EC" else RSAKey
        return kind.import_key(document)
    for kind in (ECKey, RSAKey):
        try:
            key = kind.import_key(data)
        except (JoseError, ValueError, TypeError):
            continue
        return kind.import_key(data, parameters={"kid": key.thumbprint()})
    raise ValueError("not a PEM EC or RSA key")


def sign_assertion(client_id: str, key: Key, token_url: str) -> str:
    """A client assertion of ``client_id`` for the token endpoint ``token_url`` (RFC 7523 section 3, SMART's
    claims: ``iss`` = ``sub`` = client_id, ``aud`` = the token URL, ``exp`` in five minutes, a fresh ``jti``)."""
    algorithm = next(alg for alg, kind in ALGORITHMS.items() if kind == key.key_type)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "exp": int(time.time()) + ASSERTION_LIFETIME,
        "jti": str(uuid.uuid4()),
    }
    header = {"alg": algorithm, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[algorithm])
