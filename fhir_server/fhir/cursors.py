"""Opaque, tamper-evident page cursors for keyset paging (http://hl7.org/fhir/R4/http.html#paging).

A cursor is a small JSON object, base64url-encoded and followed by an HMAC-SHA256 tag, so a client can only hand
back a cursor this server issued: an edited or truncated one answers 400. The key is ``FHIR_SERVER_SECRET_KEY``
when set; otherwise it is derived from the database URL, which every worker and replica of one deployment shares,
so links survive restarts and load balancing. A derived key makes cursors tamper-evident, not secret; a cursor
grants nothing beyond the query it belongs to (access rules apply to every page), so that is enough for paging.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

from fhir_server.errors import bad_request
from fhir_server.settings import Settings

_TAG_BYTES = 16


def signing_key(settings: Settings) -> bytes:
    """The HMAC key of the deployment: the configured secret, else one derived from the database URL."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return hashlib.sha256(b"fhir-server page cursor\0" + settings.database_url.encode()).digest()


def _tag(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_TAG_BYTES]


def encode(key: bytes, state: dict[str, Any]) -> str:
    """The cursor text for ``state`` (a JSON-serializable dict)."""
    payload = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    token = base64.urlsafe_b64encode(payload + _tag(key, payload))
    return token.decode().rstrip("=")


def decode(key: bytes, token: str, parameter: str) -> dict[str, Any]:
    """The state inside a cursor this server issued; 400 naming ``parameter`` when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise bad_request(f"{parameter} is not a cursor issued by this server", parameter) from None
    payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    if len(raw) <= _TAG_BYTES or not hmac.compare_digest(tag, _tag(key, payload)):
        raise bad_request(f"{parameter} is not a cursor issued by this server (or it was altered)", parameter)
    state = orjson.loads(payload)
    if not isinstance(state, dict):
        raise bad_request(f"{parameter} is not a cursor issued by this server", parameter)
    return state
