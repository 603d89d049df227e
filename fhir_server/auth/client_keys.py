"""A client's public keys from its registered JWKS URL: fetched before any write transaction, bounded, and cached.

A ``private_key_jwt`` request (token, introspection, revocation) names its client in the assertion's ``sub``; the
keys of a client registered with ``--jwks-url`` are fetched here, on the event loop, before the endpoint opens its
write transaction, so a slow or hostile key server never holds the database's write lock. A fetch has a total
deadline (``FETCH_DEADLINE`` seconds, connection and body together) and a body cap (``MAX_JWKS_BYTES``); either
failing, or a body that is not a JWKS, ends it with a short reason that the endpoint answers as ``invalid_client``.

Cache (per process, by URL): a URL is never fetched more than once per ``REFETCH_INTERVAL``, whatever the requests
say, so a flood of assertions (made-up ``kid``s, an unreachable key server) costs one fetch per interval, not one per
request. Past that interval a JWKS is fetched again when it is older than ``CACHE_TTL`` (or than the key server's
``Cache-Control: max-age``; ``no-store``/``no-cache`` mean "as soon as allowed"), when the last fetch failed, or when
an assertion names a ``kid`` the cached set lacks (key rotation).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.concurrency import run_in_threadpool
from joserfc import jws
from joserfc.errors import JoseError

from fhir_server.auth.clients import find_client
from fhir_server.db.engine import Database
from fhir_server.numbers import whole_number

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FETCH_DEADLINE = 5.0
MAX_JWKS_BYTES = 64 * 1024
CACHE_TTL = 300.0
REFETCH_INTERVAL = 30.0
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)")


class JwksUnavailableError(Exception):
    """The JWKS URL did not yield a JWKS in time; the message says why (safe to show to the client)."""


@dataclass(frozen=True)
class Fetched:
    """The outcome of one fetch of a JWKS URL: the document, or why there is none."""

    document: dict[str, Any] | None
    error: str | None
    fetched_at: float
    fresh_until: float

    def kids(self) -> set[Any]:
        return {key.get("kid") for key in (self.document or {}).get("keys", []) if isinstance(key, dict)}


class JwksCache:
    """The JWKS of each URL, as last fetched (thread-safe; fetches run on the caller's event loop)."""

    def __init__(self) -> None:
        self._entries: dict[str, Fetched] = {}
        self._lock = threading.Lock()

    async def get(self, url: str, kid: Any) -> Fetched:
        """The JWKS of ``url``: cached when fresh and (when ``kid`` is given) holding ``kid`` or lately refetched."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(url)
        if entry is not None and not self._needs_fetch(entry, kid, now):
            return entry
        entry = await _fetch(url)
        with self._lock:
            self._entries[url] = entry
        return entry

    @staticmethod
    def _needs_fetch(entry: Fetched, kid: Any, now: float) -> bool:
        if now - entry.fetched_at < REFETCH_INTERVAL:
            return False
        return entry.error is not None or now >= entry.fresh_until or (kid is not None and kid not in entry.kids())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = JwksCache()


async def _fetch(url: str) -> Fetched:
    started = time.monotonic()
    try:
        async with asyncio.timeout(FETCH_DEADLINE):
            document, lifetime = await _download(url)
    except TimeoutError:
        return Fetched(None, f"the client's JWKS URL did not answer within {FETCH_DEADLINE:g} s", started, started)
    except JwksUnavailableError as exc:
        return Fetched(None, str(exc), started, started)
    return Fetched(document, None, started, started + lifetime)


async def _download(url: str) -> tuple[dict[str, Any], float]:
    """GET ``url``: a JSON object with a ``keys`` array of at most MAX_JWKS_BYTES, and how long it may be kept."""
    try:
        async with (
            httpx.AsyncClient(follow_redirects=False, timeout=FETCH_DEADLINE) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise JwksUnavailableError(f"the client's JWKS URL answered {response.status_code}")
            body = await _capped_body(response)
            lifetime = _lifetime(response.headers.get("cache-control", ""))
    except httpx.HTTPError as exc:
        raise JwksUnavailableError(f"the client's JWKS URL could not be read: {type(exc).__name__}") from exc
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksUnavailableError("the client's JWKS URL did not return a JWKS")
    return document, lifetime


async def _capped_body(response: httpx.Response) -> bytes:
    declared = whole_number(response.headers.get("content-length", ""))
    if declared is not None and declared > MAX_JWKS_BYTES:
        raise JwksUnavailableError(f"the client's JWKS is larger than {MAX_JWKS_BYTES} bytes")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_JWKS_BYTES:
            raise JwksUnavailableError(f"the client's JWKS is larger than {MAX_JWKS_BYTES} bytes")
    return bytes(body)


def _lifetime(cache_control: str) -> float:
    directives = cache_control.lower()
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    match = _MAX_AGE.search(directives)
    return min(CACHE_TTL, float(match.group(1))) if match else CACHE_TTL


async def prefetch(pairs: list[tuple[str, str]], database: Database) -> dict[str, Fetched]:
    """The JWKS (by URL) that a ``private_key_jwt`` request's client is registered with, fetched now; ``{}`` when
    the request carries no assertion, or names no client with a JWKS URL (the endpoint then refuses it itself)."""
    form = dict(pairs)
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        return {}
    header, subject = _unverified(form["client_assertion"])
    if subject is None:
        return {}
    url = await run_in_threadpool(_registered_url, database, subject)
    if url is None:
        return {}
    return {url: await CACHE.get(url, header.get("kid"))}


def _unverified(assertion: str) -> tuple[dict[str, Any], str | None]:
    """The header and ``sub`` of an assertion, unverified (only to know which keys to fetch)."""
    try:
        compact = jws.extract_compact(assertion.encode())
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, TypeError):
        return {}, None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return compact.headers(), subject if isinstance(subject, str) else None


def _registered_url(database: Database, client_id: str) -> str | None:
    with database.read() as session:
        client = find_client(session, client_id)
        return client.row.jwks_url if client is not None else None
