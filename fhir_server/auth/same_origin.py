"""Cross-site request forgery protection for the authorization server's pages, in one place.

Every state-changing request (any method but GET, HEAD and OPTIONS) under ``{base}/auth/`` must come from this
server's own pages: a browser says where a request comes from in ``Sec-Fetch-Site`` (Fetch Metadata) and ``Origin``,
and a request whose ``Sec-Fetch-Site`` is anything but ``same-origin`` (or ``none``, a user's own navigation) is
refused with 403 before its handler runs. ``Sec-Fetch-Site`` decides when present (browsers send ``Origin: null``
for a same-origin form under some referrer policies); a browser that sends no Fetch Metadata is judged by ``Origin``,
which must be the origin of the public base URL. A request with neither header is not from a browser that could be
tricked into sending it, and passes.

Exempt are the OAuth endpoints that apps call cross-site by design: ``/authorize`` (SMART ``authorize-post``: the
app's page posts the authorization request to the server), ``/token``, ``/introspect``, ``/revoke`` and ``/register``
(called by apps and resource servers with client credentials or tokens, never with the login cookie).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from fhir_server.auth.oauth_server import AUTH_PREFIX
from fhir_server.auth.pages import settings_of
from fhir_server.errors import Kind, fail

CROSS_SITE_ENDPOINTS = frozenset(
    f"{AUTH_PREFIX}/{name}" for name in ("authorize", "token", "introspect", "revoke", "register")
)
"""The endpoints (paths under the FHIR base) meant to receive cross-site requests."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` as a browser writes it in ``Origin`` (lower case, no default port)."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    try:
        number = parts.port
    except ValueError:  # not a port number: matches no origin
        return f"{scheme}://{host}:invalid"
    port = f":{number}" if number is not None and number != {"http": 80, "https": 443}.get(scheme) else ""
    return f"{scheme}://{host}{port}"


def refusal(request: Request) -> str | None:
    """Why the request must be refused as cross-site, or None when it may go on."""
    if request.method in SAFE_METHODS or _exempt(request):
        return None
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:  # the browser's own word, which no page can forge; Origin may be "null" here
        return (
            None if fetch_site.lower() in SAME_ORIGIN_FETCH else f"a {fetch_site} request cannot change anything here"
        )
    origin = request.headers.get("origin")
    own = origin_of(settings_of(request).base_url)
    if origin is not None and (origin == "null" or origin_of(origin) != own):
        return f"this page accepts forms only from {own}, not from {origin}"
    return None


def _exempt(request: Request) -> bool:
    path = request.url.path.rstrip("/")
    return any(path.endswith(endpoint) for endpoint in CROSS_SITE_ENDPOINTS)


async def same_origin_only(request: Request) -> None:
    """The router-level dependency: 403 for a cross-site state-changing request (see the module docstring)."""
    reason = refusal(request)
    if reason is not None:
        raise fail(Kind.REFUSED, f"Refused: {reason}.")
