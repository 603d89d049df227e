"""What goes wrong between this server and Orthanc, as the status a client gets (http.html#summary).

Orthanc down: 503 (``transient``). Orthanc slow: 504 (``timeout``). Orthanc answering nonsense, failing (5xx) or
refusing this server's credentials: 502 (``exception``). A 4xx of Orthanc's about the client's request keeps its
status and quotes Orthanc's own message. Never a 500: every path ends in a FhirError.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx
import orjson

from fhir_server.errors import FhirError

DOWN = 503
SLOW = 504
BAD_GATEWAY = 502


def unreachable(detail: str) -> FhirError:
    return FhirError.of(DOWN, "transient", f"the image archive (Orthanc) is not reachable: {detail}")


def too_slow(detail: str) -> FhirError:
    return FhirError.of(SLOW, "timeout", f"the image archive (Orthanc) did not answer in time: {detail}")


def bad_gateway(detail: str) -> FhirError:
    return FhirError.of(BAD_GATEWAY, "exception", f"the image archive (Orthanc) failed: {detail}")


def from_transport(exc: httpx.HTTPError) -> FhirError:
    """The error of a request that got no usable answer from Orthanc."""
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return too_slow(name)
    if isinstance(exc, httpx.ConnectError):
        return unreachable(name)
    return bad_gateway(name)


def from_client_error(exc: aiohttp.ClientError | TimeoutError) -> FhirError:
    """The error of a proxied request (aiohttp, :mod:`fhir_server.imaging.upstream`) that got no usable answer."""
    name = type(exc).__name__
    if isinstance(exc, TimeoutError):  # aiohttp's connect and read timeouts are TimeoutErrors too
        return too_slow(name)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return unreachable(name)
    return bad_gateway(name)


def orthanc_message(body: bytes) -> str:
    """Orthanc's own words from an error body (``Details`` or ``Message``), or the first bytes of it."""
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip() or "no details"
    if isinstance(parsed, dict):
        return str(parsed.get("Details") or parsed.get("Message") or parsed.get("HttpError") or "no details")
    return "no details"


def from_status(status: int, body: bytes) -> FhirError:
    """The error to answer for an Orthanc error response (status >= 400)."""
    message = orthanc_message(body)
    if status in (401, 403):
        return bad_gateway(f"Orthanc refused this server's credentials ({status})")
    if status == 503:
        return unreachable(message)
    if status == 504:
        return too_slow(message)
    if status >= 500:
        return bad_gateway(f"{status}: {message}")
    code = {404: "not-found", 406: "not-supported", 409: "conflict", 415: "not-supported"}.get(status, "invalid")
    return FhirError.of(status, code, f"the image archive refused the request: {message}")


def check_health(exc: httpx.HTTPError | None, status: int | None) -> str | None:
    """A readiness probe's failure detail for Orthanc (None: healthy)."""
    if exc is not None:
        return str(from_transport(exc))
    if status is not None and status != 200:
        return str(from_status(status, b""))
    return None
