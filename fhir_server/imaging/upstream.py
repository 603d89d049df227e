"""The proxy's connection to Orthanc's DICOMweb plugin: one pooled aiohttp session per application and event loop.

Requests carry this server's own basic-auth credentials (never the client's token) and a ``Forwarded`` header
naming the public host, so Orthanc's URLs can be rewritten to ours. Answers are opened as streams; an error
status is read (it is small) and turned into a FhirError, as are transport failures (502/503/504).

Why aiohttp here (and httpx for Orthanc's REST in :mod:`fhir_server.imaging.orthanc`): the proxy relays whole
studies, and aiohttp's C parser hands over the socket's reads as they come, at about half the CPU per byte of
httpx's layered stream (measured in bench/RESULTS.md, section Imaging). The query string is sent exactly as
:mod:`fhir_server.imaging.qido_query` built it (Orthanc does not percent-decode), and bodies are asked for
uncompressed (``Accept-Encoding: identity``): JSON answers get their URLs rewritten on the fly.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterable

import aiohttp
from starlette.requests import Request
from yarl import URL

from fhir_server.app_context import app_context
from fhir_server.imaging import errors
from fhir_server.imaging.endpoints import dicomweb_base
from fhir_server.imaging.orthanc import basic_auth
from fhir_server.imaging.rewrite import forwarded, upstream_prefix
from fhir_server.settings import Settings

_STATE = "dicomweb_upstream"
IDLE_KEEPALIVE = 0.5
"""Seconds an idle connection is kept for reuse: under Orthanc's own keep-alive timeout (1 s by default), so a
connection Orthanc is about to close is never picked."""


class Upstream:
    """Orthanc's DICOMweb root as seen from this server."""

    def __init__(self, settings: Settings) -> None:
        if not settings.orthanc_url:
            raise errors.unreachable("no Orthanc is configured (FHIR_SERVER_ORTHANC_URL)")
        self.settings = settings
        self.root = settings.orthanc_url + settings.orthanc_dicomweb_root
        self.headers = {"Forwarded": forwarded(settings.base_url), "Accept-Encoding": "identity"}
        self.url_prefixes = (
            upstream_prefix(settings.base_url, settings.orthanc_dicomweb_root),
            (dicomweb_base(settings.base_url) + "/").encode(),
        )
        """Orthanc's URL prefix in its answers (built from our ``Forwarded`` header) and this proxy's, for rewriting."""
        credentials = basic_auth(settings)
        if credentials is not None:
            self.headers["Authorization"] = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.orthanc_connect_timeout, sock_read=settings.orthanc_timeout
        )
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        """The running loop's session (a session is bound to the loop it was made in)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=IDLE_KEEPALIVE)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
                cookie_jar=aiohttp.DummyCookieJar(),  # one session serves every caller: no cookie may carry over
            )
            self._sessions[loop] = session
        return session

    async def open(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        content: AsyncIterable[bytes] | None = None,
        keep_errors: bool = False,
    ) -> aiohttp.ClientResponse:
        """Send the request and return the streamed answer; an error status is a FhirError unless ``keep_errors``.

        ``query`` goes out as it is (no percent-encoding). The caller reads the answer and releases it.
        """
        url = URL(self.root + path + (f"?{query}" if query else ""), encoded=True)
        try:
            response = await self._session().request(
                method, url, headers={**self.headers, **headers}, data=content, allow_redirects=False
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise errors.from_client_error(exc) from None
        if response.status >= 400 and not keep_errors:
            body = await read_closing(response, quiet=True)
            raise errors.from_status(response.status, body)
        return response

    async def close(self) -> None:
        """Close the running loop's session (those of loops already gone went with their loop)."""
        sessions, self._sessions = self._sessions, {}
        session = sessions.get(asyncio.get_running_loop())
        if session is not None:
            await session.close()


async def read_closing(response: aiohttp.ClientResponse, quiet: bool = False) -> bytes:
    """The whole (small) answer, the connection released; a transport failure is a FhirError (``quiet``: empty)."""
    try:
        return await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        if quiet:
            return b""
        raise errors.from_client_error(exc) from None
    finally:
        response.release()


def upstream_of(request: Request) -> Upstream:
    """The application's Upstream, made on first use (503 when no Orthanc is configured)."""
    state = request.app.state
    found: Upstream | None = getattr(state, _STATE, None)
    if found is None:
        found = Upstream(app_context(request).settings)
        setattr(state, _STATE, found)
    return found


async def close_upstream(state: object) -> None:
    found: Upstream | None = getattr(state, _STATE, None)
    if found is not None:
        await found.close()
        setattr(state, _STATE, None)
