"""Authlib's OAuth 2 core (https://docs.authlib.org/en/latest/oauth2/) bound to Starlette and the database.

Authlib ships server integrations for Flask and Django only, and is synchronous; so each request gets its own
:class:`SmartServer`, built around the write session of the transaction it runs in (off the event loop), with the
request's parameters already read. Everything the server writes (codes, grants, tokens, audit events) commits or
rolls back together. Parameters: the query merged with the form body, every value of a repeated name kept (Authlib
refuses repeated authorization parameters).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749.requests import JsonRequest, OAuth2Payload
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from fhir_server.access.scopes import narrow
from fhir_server.app_context import app_context
from fhir_server.auth import client_keys
from fhir_server.auth.audit_events import Origin
from fhir_server.auth.clients import Client, find_client
from fhir_server.responses import JsonResponse
from fhir_server.settings import Settings

AUTH_PREFIX = "/auth"
"""Where the authorization server's endpoints live, under the FHIR base URL."""


@dataclass(frozen=True)
class Endpoints:
    """The public URLs of the authorization server (all under the FHIR base URL, so one proxy rule serves both)."""

    base: str

    @property
    def issuer(self) -> str:
        return self.base

    def url(self, name: str) -> str:
        return f"{self.base}{AUTH_PREFIX}/{name}"

    @property
    def authorize(self) -> str:
        return self.url("authorize")

    @property
    def token(self) -> str:
        return self.url("token")

    @property
    def jwks(self) -> str:
        return f"{self.base}/.well-known/jwks.json"


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    """Request parameters as Authlib reads them: ``data`` (first value of each name) and ``datalist`` (all)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in pairs:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth 2 request whose parameters were read from Starlette beforehand."""

    def __init__(self, method: str, uri: str, headers: Mapping[str, str], pairs: Sequence[tuple[str, str]]) -> None:
        # Authlib refuses to build a request for a plain-http URL that is not loopback; TLS is the deployment's
        # business (terminated at the proxy, FHIR_SERVER_BASE_URL https), and Authlib uses the URL for nothing else.
        super().__init__(method, "https://localhost/", headers=headers)  # Starlette headers: case-insensitive
        self.uri = uri
        self.payload = FormPayload(pairs)
        self.smart: dict[str, Any] = {}

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


async def read_form_request(request: Request, name: str) -> FormRequest:
    """The form-encoded OAuth request to endpoint ``name``, with the keys of a ``private_key_jwt`` client's JWKS URL
    already fetched (in ``smart["jwks"]``, see :mod:`fhir_server.auth.client_keys`): before any transaction opens."""
    pairs = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    context = app_context(request)
    settings = context.settings
    oauth_request = FormRequest("POST", f"{settings.base_url}{AUTH_PREFIX}/{name}", request.headers, pairs)
    oauth_request.smart["jwks"] = await client_keys.prefetch(pairs, context.database)
    return oauth_request


class SmartServer(AuthorizationServer):  # type: ignore[misc]
    """The authorization server of one request, working in ``session``."""

    def __init__(self, session: Session, settings: Settings, origin: Origin) -> None:
        super().__init__()
        self.session = session
        self.settings = settings
        self.origin = origin
        self.endpoints = Endpoints(settings.base_url)

    def query_client(self, client_id: str | None) -> Client | None:
        return find_client(self.session, client_id)

    def validate_requested_scope(self, scope: str | None) -> None:
        """Scopes are filtered by the SMART parser against the client's registration, not refused one by one."""

    def save_token(self, token: dict[str, Any], request: FormRequest) -> None:
        from fhir_server.auth.token import save_token  # the grants live beside the token endpoint

        save_token(self, token, request)

    def create_oauth2_request(self, request: Any) -> FormRequest:
        assert isinstance(request, FormRequest)
        return request

    def create_json_request(self, request: Any) -> JsonRequest:
        raise NotImplementedError("no JSON endpoints")

    def handle_response(self, status: int, body: Any, headers: Sequence[tuple[str, str]]) -> Response:
        names = {name.lower() for name, _ in headers}
        extra = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        merged = {**{k: v for k, v in extra.items() if k.lower() not in names}, **dict(headers)}
        merged.pop("Content-Type", None)
        if status in (301, 302, 303, 307):
            return Response(status_code=302, headers=merged)
        return JsonResponse(dict(body) if isinstance(body, (dict, list)) else body, status, merged)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's signals are not used: the audit trail is written where the change is made."""


def allowed_scope(client: Client, requested: str | None) -> str:
    """The requested scopes the client's registration covers, space-separated (may be empty)."""
    return " ".join(narrow(requested, client.row.scope))
