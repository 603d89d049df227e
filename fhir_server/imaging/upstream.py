"""The proxy's connection to Orthanc's DICOMweb plugin: one pooled async client per application.

Requests carry this server's own basic-auth credentials (never the client's token) and a ``Forwarded`` header
naming the public host, so Orthanc's URLs can be rewritten to ours. Answers are opened as streams; an error
status is read (it is small) and turned into a FhirError, as are transport failures (502/503/504).
"""

from __future__ import annotations

from collections.abc import AsyncIterable

import httpx
from starlette.requests import Request

from fhir_server.imaging import errors
from fhir_server.imaging.orthanc import basic_auth, timeouts
from fhir_server.imaging.rewrite import forwarded
from fhir_server.settings import Settings

_STATE = "dicomweb_upstream"


class Upstream:
    """Orthanc's DICOMweb root as seen from this server."""

    def __init__(self, settings: Settings) -> None:
        if not settings.orthanc_url:
            raise errors.unreachable("no Orthanc is configured (FHIR_SERVER_ORTHANC_URL)")
        self.settings = settings
        self.root = settings.orthanc_url + settings.orthanc_dicomweb_root
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        self.http = httpx.AsyncClient(auth=basic_auth(settings), timeout=timeouts(settings), limits=limits)

    async def open(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        content: AsyncIterable[bytes] | None = None,
        keep_errors: bool = False,
    ) -> httpx.Response:
        """Send the request and return the streamed answer; an error status is a FhirError unless ``keep_errors``."""
        url = self.root + path + (f"?{query}" if query else "")
        headers = {**headers, "Forwarded": forwarded(self.settings.base_url)}
        request = self.http.build_request(method, url, headers=headers, content=content)
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise errors.from_transport(exc) from None
        if response.status_code >= 400 and not keep_errors:
            body = await _read_closing(response)
            raise errors.from_status(response.status_code, body)
        return response

    async def close(self) -> None:
        await self.http.aclose()


async def _read_closing(response: httpx.Response) -> bytes:
    try:
        return await response.aread()
    except httpx.HTTPError:
        return b""
    finally:
        await response.aclose()


def upstream_of(request: Request) -> Upstream:
    """The application's Upstream, made on first use (503 when no Orthanc is configured)."""
    state = request.app.state
    found: Upstream | None = getattr(state, _STATE, None)
    if found is None:
        found = Upstream(request.app.state.settings)
        setattr(state, _STATE, found)
    return found


async def close_upstream(state: object) -> None:
    found: Upstream | None = getattr(state, _STATE, None)
    if found is not None:
        await found.close()
        setattr(state, _STATE, None)
